// noise.diffuse: the DDPM forward process q(x_t | x_0) (METHODS.md §1), per sample b:
//
//   x_t[b] = sqrt(abar_t) * x0n[b] + sqrt(1 - abar_t) * eps[b],   t = t_b
//   t_b = -1: x_t[b] = x0n[b] exactly and eps[b] = 0 (no noise)
//
// x0 is [B, ...] float32/float16/bfloat16, or uint8 pixels normalised on the fly:
//   x0n = (u8 - sub[c]) / div[c]     (IEEE division: u8 / 255 and (u8 - 127.5) / 127.5 are exact
//                                     where torch's are; c = (j / inner) % C for element j of a
//                                     sample: inner = H W for [B, C, H, W], 1 for [B, H, W, C])
// eps[b] is elements b S .. b S + S - 1 of the normal stream (seed, offset) (core/normal.h).
// The two coefficient tables (float32 [T], precomputed in float64 by the caller) are indexed by
// t_b; t_b outside [-1, T-1] is an ERR_RANGE (timestep.h) raised before anything is written. Computed in float32 as
// fmaf(sqrt(1 - abar), eps, sqrt(abar) * x0n) and rounded once to the output dtype; no clamping.
#pragma once

#include <cstdint>

#include "../core/dtype.h"
#include "../core/hd.h"
#include "../core/status.h"
#include "timestep.h"

namespace mmpref {

struct DiffuseArgs {
  const void* x = nullptr;
  DType x_dtype = DType::kFloat32;  // float dtype or uint8
  void* y = nullptr;
  DType y_dtype = DType::kFloat32;  // float dtype (== x_dtype for float inputs)
  float* eps = nullptr;             // optional float32 output, same number of elements
  int64_t batch = 0, sample = 0;    // x holds batch * sample elements
  const int32_t* t = nullptr;       // [batch] timesteps, or null: t_scalar for every sample
  int32_t t_scalar = -1;
  const float* coef_a = nullptr;    // sqrt(abar_t) [steps]
  const float* coef_b = nullptr;    // sqrt(1 - abar_t) [steps]
  int64_t steps = 0;
  const float* norm_sub = nullptr;  // uint8 only: [channels]
  const float* norm_div = nullptr;
  int64_t channels = 1, inner = 1;
  uint64_t seed = 0, offset = 0;
  int device = -1;
};

// Elements per CPU work item within a sample.
constexpr int64_t kDiffuseChunk = 4096;

// The (a, b) coefficients of a timestep; false when t is outside [-1, steps - 1].
MMPREF_HD bool diffuse_coefs(int32_t t, const float* ca, const float* cb, int64_t steps, float* a,
                             float* b) {
  if (t == -1) {
    *a = 1.0f;
    *b = 0.0f;
    return true;
  }
  if (!timestep_ok(t, steps)) return false;
  *a = ca[t];
  *b = cb[t];
  return true;
}

Status diffuse_cpu(const DiffuseArgs& a);
Status diffuse_cuda(const DiffuseArgs& a);

}  // namespace mmpref

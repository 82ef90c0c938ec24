// Small layer ops for the LLaMA-style decoder in lib/models (issue 6): RMSNorm, rotary position
// embeddings, SwiGLU, residual add, embedding lookup. Float math in float32, one rounding on store.
//
//   rmsNorm:   y[r, :] = x[r, :] * rsqrt(mean(x[r, :]^2) + eps) * w          (LLaMA RMSNorm)
//   rotary:    for i < d/2, with f_i = theta^(-2i/d), a = pos * f_i (angles in float64):
//                y[i] = x[i] cos a - x[i + d/2] sin a,  y[i + d/2] = x[i + d/2] cos a + x[i] sin a
//              (Hugging Face rotate_half convention; pos = positions[b, t] or offset + t)
//   swiglu:    y = silu(g) * u = g / (1 + exp(-g)) * u
//   add:       y = a + alpha * b
//   embedding: y[i, :] = table[tokens[i], :]   (token outside [0, V) is ERR_RANGE)
#pragma once

#include <cmath>
#include <cstdint>

#include "../core/dtype.h"
#include "../core/hd.h"
#include "../core/math.h"
#include "../core/status.h"

namespace mmpref {

// exp_approx (core/math.h) vectorises on the CPU; 1 + exp(-g) = inf for g < -88 gives -0 * u.
MMPREF_HD float silu_mul(float g, float u) { return g / (1.0f + exp_approx(-g)) * u; }

// Frequency of rotary pair i; the angle at position pos is pos * rotary_inv_freq(i, d, theta),
// in float64 on both sides so CPU and CUDA agree closely.
MMPREF_HD double rotary_inv_freq(int i, int d, double theta) { return pow(theta, -2.0 * double(i) / double(d)); }

struct RmsNormArgs {
  const void* x;
  const void* w;  // [D], dtype w_dtype
  void* y;
  DType dtype, w_dtype;
  int64_t rows, cols;
  float eps;
  int device;
};

struct RotaryArgs {
  const void* x;  // [B, H, T, d]
  void* y;        // may alias x (in place)
  DType dtype;
  int64_t B, H, T, d;
  const int32_t* positions;  // [B, T] or null
  int64_t offset;            // used when positions is null
  double theta;
  int device;
};

struct ElementwiseArgs {  // swiglu: (a, b) = (gate, up); add: y = a + alpha * b
  const void* a;
  const void* b;
  void* y;
  DType dtype;
  int64_t n;
  float alpha;
  int device;
};

struct EmbeddingArgs {
  const void* table;  // [V, D]
  const void* tokens; // int32 or int64 [N]
  void* y;            // [N, D]
  DType dtype, token_dtype;
  int64_t V, D, N;
  int device;
};

Status rms_norm_cpu(const RmsNormArgs& a);
Status rotary_cpu(const RotaryArgs& a);
Status swiglu_cpu(const ElementwiseArgs& a);
Status add_cpu(const ElementwiseArgs& a);
Status embedding_cpu(const EmbeddingArgs& a);
Status rms_norm_cuda(const RmsNormArgs& a);
Status rotary_cuda(const RotaryArgs& a);
Status swiglu_cuda(const ElementwiseArgs& a);
Status add_cuda(const ElementwiseArgs& a);
Status embedding_cuda(const EmbeddingArgs& a);

}  // namespace mmpref

// random.bits / random.uniform / random.normal: fill a tensor with elements s, s + 1, ... of the
// Philox stream (seed, offset), s = 4 start_block + start_skip (a stream has 2^64 blocks of 4
// words; block indices wrap modulo 2^64), as defined in core/normal.h; with i = s + j:
//   bits     out[j] = word i (uint32 bits in an int32 tensor)
//   uniform  out[j] = low + (high - low) * u_i,   u_i = (w_i >> 8) 2^-24 in [0, 1)
//   normal   out[j] = mean + std * z_i,           z_i Box-Muller on block i/4
// computed in float32 as fmaf(v, b, a) and rounded once to the output dtype. Counter-based: the
// value of element i never depends on n, the thread count or the CUDA launch shape.
#pragma once

#include <cmath>
#include <cstdint>

#include "../core/dtype.h"
#include "../core/hd.h"
#include "../core/status.h"

namespace mmpref {

enum class RandomKind : int32_t { kBits = 0, kUniform = 1, kNormal = 2 };

struct RandomFillArgs {
  void* out = nullptr;
  DType dtype = DType::kFloat32;  // int32 for kBits, a float dtype otherwise
  int64_t n = 0;
  RandomKind kind = RandomKind::kNormal;
  float a = 0.0f;  // uniform: low, normal: mean
  float b = 1.0f;  // uniform: high - low, normal: std
  uint64_t seed = 0;
  uint64_t offset = 0;
  uint64_t start_block = 0;
  int start_skip = 0;  // 0..3
  int device = -1;
};

// Elements per CPU work item (any value gives the same result; this one keeps buffers in L1).
constexpr int64_t kRandomChunk = 4096;

MMPREF_HD float random_affine(float v, float a, float b) { return fmaf(v, b, a); }

Status random_fill_cpu(const RandomFillArgs& a);
Status random_fill_cuda(const RandomFillArgs& a);

}  // namespace mmpref

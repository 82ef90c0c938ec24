// noise.neftune (NEFTune, Jain et al. 2023; TRL / transformers `neftune_noise_alpha`): uniform
// noise on the token embeddings of non-padding positions, x [B, L, D] float32/float16/bfloat16:
//
//   y[b, n, :] = x[b, n, :] + alpha / sqrt(L_b * D) * v[b, n, :]   for a non-padding position
//   y[b, n, :] = x[b, n, :] (bit for bit)                          for a padding position
//
// v[b, n, d] = uniform_pm1 of word (b L + n) D + d of stream (seed, offset): uniform in (-1, 1).
// Non-padding: n < lengths[b] (right padding), or mask[b, n], or every position. L_b is the
// number of non-padding positions of row b ('length', the NEFTune reference training code), or
// the padded length L for every row ('padded': the transformers forward hook TRL uses, which
// applies alpha / sqrt(L D) with L = the padded length). A row with L_b = 0 is unchanged. The
// magnitude is computed in float64 and rounded to float32; y = fmaf(mag, v, x) rounded once.
#pragma once

#include <cmath>
#include <cstdint>

#include "../core/dtype.h"
#include "../core/hd.h"
#include "../core/status.h"

namespace mmpref {

struct NeftuneArgs {
  const void* x = nullptr;
  void* y = nullptr;  // may equal x (in place)
  DType dtype = DType::kFloat32;
  int64_t batch = 0, seq = 0, dim = 0;
  const int32_t* lengths = nullptr;  // [batch], each in [0, seq]; or
  const uint8_t* mask = nullptr;     // [batch * seq], nonzero = real token; neither: all
  float alpha = 5.0f;
  bool padded_norm = false;  // normalise by the padded length L instead of L_b
  uint64_t seed = 0, offset = 0;
  int device = -1;
};

// Noise magnitude of a row with `count` real tokens.
MMPREF_HD float neftune_magnitude(float alpha, bool padded_norm, int64_t count, int64_t seq,
                                  int64_t dim) {
  const double l = double(padded_norm ? seq : count);
  if (count == 0 || l == 0.0 || dim == 0) return 0.0f;
  return float(double(alpha) / sqrt(l * double(dim)));
}

Status neftune_cpu(const NeftuneArgs& a);
Status neftune_cuda(const NeftuneArgs& a);

}  // namespace mmpref

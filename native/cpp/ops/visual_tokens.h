// noise.visualTokens (NoiseBoost, METHODS.md §4): Gaussian noise on the visual tokens of hidden
// states x [B, N, D] (float32 / float16 / bfloat16):
//
//   y[b, n, :] = x[b, n, :] + s_bn * z[b, n, :]   if token (b, n) is perturbed
//   y[b, n, :] = x[b, n, :] (bit for bit)         otherwise
//
//   perturbed(b, n) = mask[b, n] && rows[b] && (prob >= 1 || u_bn < prob)
//   s_bn = sigma                           scale 'absolute'
//        = sigma * sqrt(mean_d x^2)        scale 'token-rms'
//        = sigma * sqrt(mean_d (x - mean_d x)^2)   scale 'token-std' (population std over D)
//
// z[b, n, d] is normal element i = (b N + n) D + d of stream (seed, offset) and u_bn is uniform01
// of auxiliary word (b N + n) (core/normal.h), so a token's noise depends only on (seed, offset,
// its flat index), never on which other tokens are visual, on the thread count or launch shape.
// Computed in float32 (y = fmaf(s, z, x)) and rounded once to the dtype. A token whose scale is 0
// (sigma = 0, an all-zero token under a relative scale) is left unchanged. Backward: identity.
#pragma once

#include <cstdint>

#include "../core/dtype.h"
#include "../core/normal.h"
#include "../core/status.h"

namespace mmpref {

enum class TokenScale : int32_t { kAbsolute = 0, kRms = 1, kStd = 2 };

struct VisualTokensArgs {
  const void* x = nullptr;
  void* y = nullptr;  // may equal x (in place)
  DType dtype = DType::kFloat32;
  int64_t batch = 0, tokens = 0, dim = 0;
  const uint8_t* mask = nullptr;  // [batch * tokens], nonzero = visual; never null
  const uint8_t* rows = nullptr;  // [batch], nonzero = perturb this row; null = every row
  float sigma = 0.5f;
  TokenScale scale = TokenScale::kAbsolute;
  float prob = 1.0f;
  uint64_t seed = 0, offset = 0;
  int device = -1;
};

// Whether token t (flat index b N + n) is drawn for perturbation at probability prob.
MMPREF_HDI bool token_drawn(uint64_t seed, uint64_t offset, float prob, int64_t t) {
  return prob >= 1.0f || uniform01(philox_aux_word(seed, offset, uint64_t(t))) < prob;
}

// The noise scale of a token from its statistics over D (sum and sum of squared deviations from
// the mean for 'token-std', sum of squares for 'token-rms').
MMPREF_HDI float token_noise_scale(TokenScale mode, float sigma, float sq_sum, int64_t dim) {
  if (mode == TokenScale::kAbsolute) return sigma;
  return sigma * sqrtf(sq_sum / float(dim));
}

Status visual_tokens_cpu(const VisualTokensArgs& a);
Status visual_tokens_cuda(const VisualTokensArgs& a);

}  // namespace mmpref

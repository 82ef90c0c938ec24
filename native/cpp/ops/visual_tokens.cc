// CPU NoiseBoost: tokens in parallel; a perturbed token is read once from memory: its
// statistics (relative scales) are computed first, then noise is generated in 1024-element L1
// chunks and added. Untouched tokens are copied (out of place) or skipped (in place).
#include "visual_tokens.h"

#include <algorithm>

#include "../core/dispatch.h"
#include "../core/half.h"
#include "../core/thread_pool.h"
#include "noise_cpu.h"

namespace mmpref {
namespace {

template <class T>
void run(const VisualTokensArgs& a) {
  const T* x = static_cast<const T*>(a.x);
  T* y = static_cast<T*>(a.y);
  const PhiloxKeys keys = philox_keys(a.seed, a.offset);
  const int64_t ntok = a.batch * a.tokens, D = a.dim;
  const int64_t grain = std::max<int64_t>(1, 16384 / std::max<int64_t>(D, 1));
  parallel_for(ntok, grain, [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      const T* xt = x + t * D;
      T* yt = y + t * D;
      const int64_t b = t / a.tokens;
      bool on = a.mask[t] != 0 && (a.rows == nullptr || a.rows[b] != 0) &&
                token_drawn(a.seed, a.offset, a.prob, t);
      float s = a.sigma;
      if (on && a.scale != TokenScale::kAbsolute && D > 0) {
        const float sq = a.scale == TokenScale::kRms ? sum_squares(xt, D)
                                                     : sum_sq_dev(xt, D, row_sum(xt, D) / float(D));
        s = token_noise_scale(a.scale, a.sigma, sq, D);
      }
      if (on && s != 0.0f)
        add_noise_row(keys, RowNoise::kNormal, xt, yt, t * D, D, s);
      else
        keep_row(xt, yt, D);
    }
  });
}

}  // namespace

Status visual_tokens_cpu(const VisualTokensArgs& a) {
  return dispatch_float(a.dtype, "noise.visualTokens", [&](auto t) { run<decltype(t)>(a); });
}

}  // namespace mmpref

// CPU similarity.meanPoolNormalize: rows in parallel; per row the masked token sum is accumulated
// into the output row in token order (vectorised over E), then divided and normalised.
#include <algorithm>
#include <cmath>

#include "../core/dispatch.h"
#include "../core/half.h"
#include "../core/thread_pool.h"
#include "mean_pool_normalize.h"

namespace mmpref {
namespace {

constexpr int kLanes = 16;

template <class T>
MMPREF_CPU_CLONES void add_row(const T* x, int64_t n, float* acc) {
  for (int64_t i = 0; i < n; ++i) acc[i] += to_float(x[i]);
}

MMPREF_CPU_CLONES float sum_squares(const float* x, int64_t n) {
  float acc[kLanes] = {0};
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes)
    for (int j = 0; j < kLanes; ++j) acc[j] += x[i + j] * x[i + j];
  for (int j = 0; i < n; ++i, ++j) acc[j] += x[i] * x[i];
  float s = 0.0f;
  for (int j = 0; j < kLanes; ++j) s += acc[j];
  return s;
}

MMPREF_CPU_CLONES void divide(float* x, int64_t n, float d) {
  for (int64_t i = 0; i < n; ++i) x[i] = x[i] / d;
}

template <class T>
void run(const MeanPoolArgs& a) {
  const T* x = static_cast<const T*>(a.x);
  parallel_for(a.m, 1, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      float* out = a.out + r * a.e;
      std::fill(out, out + a.e, 0.0f);
      int64_t count = 0;
      for (int64_t t = 0; t < a.t; ++t) {
        if (!mask_at(a.mask, a.mask_dtype, r * a.t + t)) continue;
        add_row(x + (r * a.t + t) * a.e, a.e, out);
        ++count;
      }
      if (count == 0) continue;  // no token: zeros
      divide(out, a.e, float(count));
      if (a.normalize) divide(out, a.e, std::max(std::sqrt(sum_squares(out, a.e)), kNormalizeEps));
    }
  });
}

}  // namespace

Status mean_pool_normalize_cpu(const MeanPoolArgs& a) {
  return dispatch_float(a.dtype, "meanPoolNormalize", [&](auto t) { run<decltype(t)>(a); });
}

}  // namespace mmpref

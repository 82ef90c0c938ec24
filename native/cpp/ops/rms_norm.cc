#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "../core/dispatch.h"
#include "../core/half.h"
#include "../core/thread_pool.h"
#include "rms_norm.h"

namespace mmpref {
namespace {

template <class T, class W>
MMPREF_CPU_CLONES void rms_norm_row(const T* x, const W* w, T* y, int64_t n, float eps) {
  float acc[16] = {0};
  int64_t i = 0;
  for (; i + 16 <= n; i += 16)
    for (int j = 0; j < 16; ++j) {
      const float v = to_float(x[i + j]);
      acc[j] += v * v;
    }
  for (int j = 0; i < n; ++i, ++j) acc[j % 16] += to_float(x[i]) * to_float(x[i]);
  float ss = 0;
  for (int j = 0; j < 16; ++j) ss += acc[j];
  const float inv = 1.0f / std::sqrt(ss / float(n) + eps);
  for (int64_t k = 0; k < n; ++k) y[k] = from_float<T>(to_float(x[k]) * inv * to_float(w[k]));
}

}  // namespace

Status rms_norm_cpu(const RmsNormArgs& a) {
  return dispatch_float(a.dtype, "rmsNorm", [&](auto tag) {
    using T = decltype(tag);
    const T* x = static_cast<const T*>(a.x);
    T* y = static_cast<T*>(a.y);
    auto rows = [&](auto* w) {
      parallel_for(a.rows, std::max<int64_t>(1, 8192 / std::max<int64_t>(a.cols, 1)), [&](int64_t r0, int64_t r1) {
        for (int64_t r = r0; r < r1; ++r) rms_norm_row(x + r * a.cols, w, y + r * a.cols, a.cols, a.eps);
      });
    };
    if (a.w_dtype == DType::kFloat32) rows(static_cast<const float*>(a.w));
    else rows(static_cast<const T*>(a.w));
  });
}

}  // namespace mmpref

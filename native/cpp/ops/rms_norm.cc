#include <algorithm>
#include <cstring>
#include <memory>
#include <new>
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

// Backward of one row: 1. sum x^2 and sum dy w x (16 lanes), 2. dx and the row's dw terms.
// NB: dy is read before dx is written element by element, so dx == dy works; x, w and the scratch
// partial never overlap dx (the declaration allows dx to be dy only), hence __restrict__, which
// lets GCC vectorise step 2 with one alias check (dx vs dy) instead of giving up.
template <class T, class W>
MMPREF_CPU_CLONES void rms_norm_backward_row(const T* dy, const T* __restrict__ x, const W* __restrict__ w, T* dx, float* __restrict__ part, int64_t n,
                                             float eps) {
  float ss_acc[16] = {0}, sd_acc[16] = {0};
  int64_t i = 0;
  for (; i + 16 <= n; i += 16)
    for (int j = 0; j < 16; ++j) {
      const float v = to_float(x[i + j]);
      ss_acc[j] += v * v;
      sd_acc[j] += to_float(dy[i + j]) * to_float(w[i + j]) * v;
    }
  for (int j = 0; i < n; ++i, ++j) {
    const float v = to_float(x[i]);
    ss_acc[j] += v * v;
    sd_acc[j] += to_float(dy[i]) * to_float(w[i]) * v;
  }
  float ss = 0, sd = 0;
  for (int j = 0; j < 16; ++j) {
    ss += ss_acc[j];
    sd += sd_acc[j];
  }
  const float r = 1.0f / std::sqrt(ss / float(n) + eps);
  const float k = r * r * r * (sd / float(n));
  for (int64_t m = 0; m < n; ++m) {
    const float g = to_float(dy[m]), v = to_float(x[m]);
    part[m] += g * (v * r);
    dx[m] = from_float<T>(r * (g * to_float(w[m])) - k * v);
  }
}

MMPREF_CPU_CLONES void add_partial(float* dw, const float* part, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dw[i] += part[i];
}

}  // namespace

Status rms_norm_backward_cpu(const RmsNormBackwardArgs& a) {
  const int64_t D = a.cols;
  if (D == 0) return Status::Ok();
  const int64_t per = rms_norm_backward_block_rows(a.rows), nb = (a.rows + per - 1) / per;
  std::unique_ptr<float[]> parts(new (std::nothrow) float[size_t(std::max<int64_t>(nb, 1) * D)]);
  if (!parts) return make_status(Code::kOom, "rmsNormBackward: expected " + std::to_string(nb * D * 4) + " bytes of scratch memory but the allocation failed");
  MMPREF_RETURN_IF_ERROR(dispatch_float(a.dtype, "rmsNormBackward", [&](auto tag) {
    using T = decltype(tag);
    const T* dy = static_cast<const T*>(a.dy);
    const T* x = static_cast<const T*>(a.x);
    T* dx = static_cast<T*>(a.dx);
    auto blocks = [&](auto* w) {
      // 1. one work item per block of rows: dx, and the block's dw partial summed in row order
      parallel_for(nb, 1, [&](int64_t b0, int64_t b1) {
        for (int64_t b = b0; b < b1; ++b) {
          float* part = parts.get() + b * D;
          std::fill(part, part + D, 0.0f);
          for (int64_t r = b * per, re = std::min(a.rows, r + per); r < re; ++r)
            rms_norm_backward_row(dy + r * D, x + r * D, w, dx + r * D, part, D, a.eps);
        }
      });
    };
    if (a.w_dtype == DType::kFloat32) blocks(static_cast<const float*>(a.w));
    else blocks(static_cast<const T*>(a.w));
  }));
  // 2. dw: the partials added in block order (fixed column chunks)
  parallel_for(D, 1024, [&](int64_t c0, int64_t c1) {
    if (!a.accumulate) std::fill(a.dw + c0, a.dw + c1, 0.0f);
    for (int64_t b = 0; b < nb; ++b) add_partial(a.dw + c0, parts.get() + b * D + c0, c1 - c0);
  });
  return Status::Ok();
}

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

// CPU kernels for the decoder layer ops (see decoder_ops.h): rows / blocks in parallel, float32 math.
#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "../core/dispatch.h"
#include "../core/half.h"
#include "../core/thread_pool.h"
#include "decoder_ops.h"

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

template <class T>
MMPREF_CPU_CLONES void swiglu_block(const T* g, const T* u, T* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = from_float<T>(silu_mul(to_float(g[i]), to_float(u[i])));
}

template <class T>
MMPREF_CPU_CLONES void add_block(const T* a, const T* b, T* y, int64_t n, float alpha) {
  for (int64_t i = 0; i < n; ++i) y[i] = from_float<T>(to_float(a[i]) + alpha * to_float(b[i]));
}

template <class T>
MMPREF_CPU_CLONES void rotate_row(const T* x, T* y, const float* cs, const float* sn, int64_t half) {
  for (int64_t i = 0; i < half; ++i) {
    const float x1 = to_float(x[i]), x2 = to_float(x[i + half]);
    y[i] = from_float<T>(x1 * cs[i] - x2 * sn[i]);
    y[i + half] = from_float<T>(x2 * cs[i] + x1 * sn[i]);
  }
}

constexpr int64_t kBlock = 1 << 14;

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

Status rotary_cpu(const RotaryArgs& a) {
  const int64_t half = a.d / 2;
  return dispatch_float(a.dtype, "rotary", [&](auto tag) {
    using T = decltype(tag);
    const T* x = static_cast<const T*>(a.x);
    T* y = static_cast<T*>(a.y);
    // one item per (b, t): the angles are shared by all heads of that position
    parallel_for(a.B * a.T, 4, [&](int64_t i0, int64_t i1) {
      std::vector<float> cs(static_cast<size_t>(half)), sn(static_cast<size_t>(half));
      std::vector<double> inv_freq(static_cast<size_t>(half));
      for (int64_t i = 0; i < half; ++i) inv_freq[size_t(i)] = rotary_inv_freq(int(i), int(a.d), a.theta);
      for (int64_t bt = i0; bt < i1; ++bt) {
        const int64_t b = bt / a.T, t = bt % a.T;
        const double pos = a.positions ? double(a.positions[b * a.T + t]) : double(a.offset + t);
        for (int64_t i = 0; i < half; ++i) {
          const double ang = pos * inv_freq[size_t(i)];
          cs[size_t(i)] = float(std::cos(ang));
          sn[size_t(i)] = float(std::sin(ang));
        }
        for (int64_t h = 0; h < a.H; ++h) {
          const int64_t base = ((b * a.H + h) * a.T + t) * a.d;
          rotate_row(x + base, y + base, cs.data(), sn.data(), half);
        }
      }
    });
  });
}

Status swiglu_cpu(const ElementwiseArgs& a) {
  return dispatch_float(a.dtype, "swiglu", [&](auto tag) {
    using T = decltype(tag);
    parallel_for((a.n + kBlock - 1) / kBlock, 1, [&](int64_t b0, int64_t b1) {
      const int64_t s = b0 * kBlock, e = std::min(a.n, b1 * kBlock);
      swiglu_block(static_cast<const T*>(a.a) + s, static_cast<const T*>(a.b) + s, static_cast<T*>(a.y) + s, e - s);
    });
  });
}

Status add_cpu(const ElementwiseArgs& a) {
  return dispatch_float(a.dtype, "add", [&](auto tag) {
    using T = decltype(tag);
    parallel_for((a.n + kBlock - 1) / kBlock, 1, [&](int64_t b0, int64_t b1) {
      const int64_t s = b0 * kBlock, e = std::min(a.n, b1 * kBlock);
      add_block(static_cast<const T*>(a.a) + s, static_cast<const T*>(a.b) + s, static_cast<T*>(a.y) + s, e - s, a.alpha);
    });
  });
}

Status embedding_cpu(const EmbeddingArgs& a) {
  const int64_t isz = dtype_size(a.dtype);
  // 1. validate every token first, so a bad one leaves the output untouched
  for (int64_t i = 0; i < a.N; ++i) {
    const int64_t tok = a.token_dtype == DType::kInt64 ? static_cast<const int64_t*>(a.tokens)[i]
                                                       : static_cast<const int32_t*>(a.tokens)[i];
    if (tok < 0 || tok >= a.V)
      return make_status(Code::kRange, "embedding: token " + std::to_string(tok) + " at index " + std::to_string(i) +
                                           " is outside [0, " + std::to_string(a.V) + ")");
  }
  // 2. copy rows
  parallel_for(a.N, 16, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) {
      const int64_t tok = a.token_dtype == DType::kInt64 ? static_cast<const int64_t*>(a.tokens)[i]
                                                         : static_cast<const int32_t*>(a.tokens)[i];
      std::memcpy(static_cast<char*>(a.y) + i * a.D * isz, static_cast<const char*>(a.table) + tok * a.D * isz,
                  size_t(a.D * isz));
    }
  });
  return Status::Ok();
}

}  // namespace mmpref

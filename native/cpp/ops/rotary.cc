#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "../core/dispatch.h"
#include "../core/half.h"
#include "../core/thread_pool.h"
#include "rotary.h"

namespace mmpref {
namespace {

template <class T>
MMPREF_CPU_CLONES void rotate_row(const T* x, T* y, const float* cs, const float* sn, int64_t half) {
  for (int64_t i = 0; i < half; ++i) {
    const float x1 = to_float(x[i]), x2 = to_float(x[i + half]);
    y[i] = from_float<T>(x1 * cs[i] - x2 * sn[i]);
    y[i + half] = from_float<T>(x2 * cs[i] + x1 * sn[i]);
  }
}

}  // namespace

Status rotary_cpu(const RotaryArgs& a) {
  const int64_t half = a.d / 2;
  return dispatch_float(a.dtype, a.inverse ? "rotaryBackward" : "rotary", [&](auto tag) {
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
          sn[size_t(i)] = a.inverse ? -float(std::sin(ang)) : float(std::sin(ang));
        }
        for (int64_t h = 0; h < a.H; ++h) {
          const int64_t base = ((b * a.H + h) * a.T + t) * a.d;
          rotate_row(x + base, y + base, cs.data(), sn.data(), half);
        }
      }
    });
  });
}

}  // namespace mmpref

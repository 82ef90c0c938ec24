// CPU sampling.contrastive: rows in parallel; per row one max pass and one elementwise pass, both
// over fixed-width lane arrays (vectorised by the clones).
#include <algorithm>

#include "../core/dispatch.h"
#include "../core/half.h"
#include "../core/lanes.h"
#include "../core/thread_pool.h"
#include "contrastive.h"

namespace mmpref {
namespace {

// Row max of the clamped logits (lane vectors: the auto-vectoriser leaves the AVX-512 clone of
// the 16-bit version scalar). NaN never wins: x > max is false.
template <class T>
MMPREF_CPU_CLONES float row_max(const T* l, int64_t n) {
  lanes_t mx;
  for (int j = 0; j < kLaneWidth; ++j) mx[j] = -kInf;
  int64_t i = 0;
  for (; i + kLaneWidth <= n; i += kLaneWidth) {
    lanes_t x;
    load_lanes(l + i, &x);
    x = x == kInf ? kFloatMax : x;
    mx = x > mx ? x : mx;
  }
  float m = lane_max(mx);
  for (; i < n; ++i) {
    const float x = vcd_clamp_input(to_float(l[i]));
    m = x > m ? x : m;
  }
  return m;
}

template <class T>
MMPREF_CPU_CLONES void row_combine(const T* l, const T* ld, int64_t n, float alpha, float cutoff, float* out) {
  for (int64_t i = 0; i < n; ++i)
    out[i] = vcd_combine(vcd_clamp_input(to_float(l[i])), vcd_clamp_input(to_float(ld[i])), alpha, cutoff);
}

template <class T>
MMPREF_CPU_CLONES void row_copy(const T* l, int64_t n, float* out) {
  for (int64_t i = 0; i < n; ++i) out[i] = to_float(l[i]);
}

template <class T>
void run(const ContrastiveArgs& a) {
  const T* l = static_cast<const T*>(a.logits);
  const T* ld = static_cast<const T*>(a.distorted);
  const int64_t n = a.cols;
  parallel_for(a.rows, std::max<int64_t>(1, 16384 / std::max<int64_t>(n, 1)), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t off = r * n;
      if (a.row_active && !a.row_active[r]) {
        row_copy(l + off, n, a.out + off);
        continue;
      }
      const float cutoff = a.log_beta + row_max(l + off, n);
      row_combine(l + off, ld + off, n, a.alpha, cutoff, a.out + off);
    }
  });
}

}  // namespace

Status contrastive_cpu(const ContrastiveArgs& a) {
  return dispatch_float(a.dtype, "contrastive", [&](auto t) { run<decltype(t)>(a); });
}

}  // namespace mmpref

// CPU GELU and its gradient (ops/gelu.h): blocks of elements over the thread pool, each block a
// cloned loop (core/cpu_isa.h) of the shared float32 math; no reduction, so any thread count and
// ISA gives the same bits.
// NB: no-trapping-math lets GCC if-convert the selects of exp_approx and gelu.h (their arms are
// computed unconditionally anyway); under the default -ftrapping-math the x86-64-v3 (AVX2) clones
// stayed scalar. It changes no result: rounding, contraction (-ffp-contract=off) and operation
// order are untouched, and test/cpu_variants.test.ts compares the clones' bits.
#pragma GCC optimize("no-trapping-math")
#include <algorithm>

#include "../core/dispatch.h"
#include "../core/half.h"
#include "../core/thread_pool.h"
#include "gelu.h"

namespace mmpref {
namespace {

template <class T, bool TANH>
MMPREF_CPU_CLONES void gelu_block(const T* x, T* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = from_float<T>(gelu_fwd(to_float(x[i]), TANH));
}

template <class T, bool TANH>
MMPREF_CPU_CLONES void gelu_backward_block(const T* dy, const T* x, T* dx, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dx[i] = from_float<T>(gelu_bwd(to_float(dy[i]), to_float(x[i]), TANH));
}

constexpr int64_t kBlock = 1 << 14;

template <class F>
void over_blocks(int64_t n, F&& f) {
  parallel_for((n + kBlock - 1) / kBlock, 1, [&](int64_t b0, int64_t b1) { f(b0 * kBlock, std::min(n, b1 * kBlock)); });
}

}  // namespace

Status gelu_cpu(const GeluArgs& a) {
  return dispatch_float(a.dtype, "gelu", [&](auto tag) {
    using T = decltype(tag);
    const T* x = static_cast<const T*>(a.x);
    T* y = static_cast<T*>(a.y);
    over_blocks(a.n, [&](int64_t s, int64_t e) {
      if (a.tanh) gelu_block<T, true>(x + s, y + s, e - s);
      else gelu_block<T, false>(x + s, y + s, e - s);
    });
  });
}

Status gelu_backward_cpu(const GeluArgs& a) {
  return dispatch_float(a.dtype, "geluBackward", [&](auto tag) {
    using T = decltype(tag);
    const T *x = static_cast<const T*>(a.x), *dy = static_cast<const T*>(a.dy);
    T* dx = static_cast<T*>(a.y);
    over_blocks(a.n, [&](int64_t s, int64_t e) {
      if (a.tanh) gelu_backward_block<T, true>(dy + s, x + s, dx + s, e - s);
      else gelu_backward_block<T, false>(dy + s, x + s, dx + s, e - s);
    });
  });
}

}  // namespace mmpref

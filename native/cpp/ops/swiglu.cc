// NB: no-trapping-math lets GCC if-convert the selects of exp_approx (core/math.h), whose arms are
// computed unconditionally anyway; under the default -ftrapping-math the x86-64-v3 (AVX2) clones of
// swiglu and swigluBackward stayed scalar (as gelu.cc found). It changes no result: rounding,
// contraction (-ffp-contract=off) and operation order are untouched; test/cpu_variants.test.ts
// compares the clones' bits.
#pragma GCC optimize("no-trapping-math")
#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "../core/dispatch.h"
#include "../core/half.h"
#include "../core/thread_pool.h"
#include "swiglu.h"

namespace mmpref {
namespace {

template <class T>
MMPREF_CPU_CLONES void swiglu_block(const T* g, const T* u, T* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = from_float<T>(silu_mul(to_float(g[i]), to_float(u[i])));
}

// NB: every input element is read before either output element is written (dg, du may alias inputs).
template <class T>
MMPREF_CPU_CLONES void swiglu_backward_block(const T* dy, const T* g, const T* u, T* dg, T* du, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    float a, b;
    swiglu_grad(to_float(dy[i]), to_float(g[i]), to_float(u[i]), &a, &b);
    dg[i] = from_float<T>(a);
    du[i] = from_float<T>(b);
  }
}

constexpr int64_t kBlock = 1 << 14;

}  // namespace

Status swiglu_backward_cpu(const SwigluBackwardArgs& a) {
  return dispatch_float(a.dtype, "swigluBackward", [&](auto tag) {
    using T = decltype(tag);
    parallel_for((a.n + kBlock - 1) / kBlock, 1, [&](int64_t b0, int64_t b1) {
      const int64_t s = b0 * kBlock, e = std::min(a.n, b1 * kBlock);
      swiglu_backward_block(static_cast<const T*>(a.dy) + s, static_cast<const T*>(a.g) + s, static_cast<const T*>(a.u) + s,
                            static_cast<T*>(a.dg) + s, static_cast<T*>(a.du) + s, e - s);
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

}  // namespace mmpref

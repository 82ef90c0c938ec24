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

constexpr int64_t kBlock = 1 << 14;

}  // namespace

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

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "../core/dispatch.h"
#include "../core/half.h"
#include "../core/thread_pool.h"
#include "add.h"

namespace mmpref {
namespace {

template <class T>
MMPREF_CPU_CLONES void add_block(const T* a, const T* b, T* y, int64_t n, float alpha) {
  for (int64_t i = 0; i < n; ++i) y[i] = from_float<T>(to_float(a[i]) + alpha * to_float(b[i]));
}

constexpr int64_t kBlock = 1 << 14;

}  // namespace

Status add_cpu(const ElementwiseArgs& a) {
  return dispatch_float(a.dtype, "add", [&](auto tag) {
    using T = decltype(tag);
    parallel_for((a.n + kBlock - 1) / kBlock, 1, [&](int64_t b0, int64_t b1) {
      const int64_t s = b0 * kBlock, e = std::min(a.n, b1 * kBlock);
      add_block(static_cast<const T*>(a.a) + s, static_cast<const T*>(a.b) + s, static_cast<T*>(a.y) + s, e - s, a.alpha);
    });
  });
}

}  // namespace mmpref

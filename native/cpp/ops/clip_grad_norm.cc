// CPU halves of optim.clipGradNorm (ops/clip_grad_norm.h).
#include <algorithm>
#include <vector>

#include "../core/dispatch.h"
#include "../core/half.h"
#include "../core/thread_pool.h"
#include "clip_grad_norm.h"

namespace mmpref {
namespace {

// Sum of squares of one block in float64: kSumLanes independent lanes (element i goes to lane
// i % kSumLanes), then the lanes in index order. Lane-wise IEEE operations: every clone gives the same bits.
template <class T>
MMPREF_CPU_CLONES double block_sum_squares(const T* x, int64_t n) {
  double acc[kSumLanes] = {};
  int64_t i = 0;
  for (; i + kSumLanes <= n; i += kSumLanes)
    for (int j = 0; j < kSumLanes; ++j) {
      const double d = double(to_float(x[i + j]));
      acc[j] += d * d;
    }
  for (int j = 0; i + j < n; ++j) {
    const double d = double(to_float(x[i + j]));
    acc[j] += d * d;
  }
  double s = 0;
  for (int j = 0; j < kSumLanes; ++j) s += acc[j];
  return s;
}

template <class T>
MMPREF_CPU_CLONES void scale_block(const T* x, T* y, int64_t n, float coef) {
  for (int64_t i = 0; i < n; ++i) y[i] = from_float<T>(to_float(x[i]) * coef);
}

constexpr int64_t kScaleBlock = 1 << 14;

}  // namespace

Status grad_sum_squares_cpu(const SumSquaresArgs& a) {
  return dispatch_float(a.dtype, "optim.clipGradNorm", [&](auto tag) {
    using T = decltype(tag);
    const int64_t blocks = (a.n + kSumSquaresBlock - 1) / kSumSquaresBlock;
    std::vector<double> part(size_t(blocks), 0.0);
    parallel_for(blocks, 1, [&](int64_t b0, int64_t b1) {
      for (int64_t b = b0; b < b1; ++b) {
        const int64_t s = b * kSumSquaresBlock, e = std::min(a.n, s + kSumSquaresBlock);
        part[size_t(b)] = block_sum_squares(static_cast<const T*>(a.x) + s, e - s);
      }
    });
    // NB: blocks are added in index order, whichever thread computed them
    double total = 0;
    for (double p : part) total += p;
    split_sum(total, a.out);
  });
}

Status grad_scale_cpu(const GradScaleArgs& a) {
  return dispatch_float(a.dtype, "optim.clipGradNorm", [&](auto tag) {
    using T = decltype(tag);
    parallel_for((a.n + kScaleBlock - 1) / kScaleBlock, 1, [&](int64_t b0, int64_t b1) {
      const int64_t s = b0 * kScaleBlock, e = std::min(a.n, b1 * kScaleBlock);
      scale_block(static_cast<const T*>(a.x) + s, static_cast<T*>(a.y) + s, e - s, a.coef);
    });
  });
}

}  // namespace mmpref

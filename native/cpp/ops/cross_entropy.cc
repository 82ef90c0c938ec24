// CPU ops.crossEntropy (math in cross_entropy.h; row kernels in logits_row_cpu.h).
//
// A serial scan of the labels first (what each row scores, n, the first bad label: nothing is
// written before it passes). Then rows in parallel: a scored row's lse in one pass over its
// logits (chunks of 4096, float32 lanes, double across chunks), its loss in double, and, with a
// gradient, one more pass over the same row (still in cache) writing s_r * (softmax - onehot),
// over the logits when in place. The total is a double sum of the per-row losses in row order,
// so no result depends on the thread count.
#include "cross_entropy.h"

#include <vector>

#include "../core/dispatch.h"
#include "../core/thread_pool.h"
#include "logits_row_cpu.h"

namespace mmpref {
namespace {

template <class T>
Status run(const CrossEntropyArgs& a) {
  const LogpsRows& m = a.map;
  Plan plan;
  MMPREF_RETURN_IF_ERROR(make_plan("ops.crossEntropy", m, &plan));
  int64_t n = 0;
  for (int32_t c : plan.count) n += c;
  const T* logits = static_cast<const T*>(a.logits);
  T* grad = static_cast<T*>(a.grad);
  const int64_t V = m.vocab;
  const float lo = g_exp2_lo;
  std::vector<double> row_loss(size_t(m.rows), 0.0);
  parallel_for(m.rows, 1, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t y = plan.target[size_t(r)];
      const T* x = logits + r * V;
      if (y < 0) {
        a.losses[r] = 0.0f;
        if (grad) std::memset(static_cast<void*>(grad + r * V), 0, size_t(V) * sizeof(T));  // +0
        continue;
      }
      // 1. lse (one pass); 2. loss, from the label logit read before an in-place write
      const double lse = row_lse(x, V, lo);
      const double l = lse - double(to_float(x[y]));
      row_loss[size_t(r)] = l;
      a.losses[r] = float(l);
      // 3. gradient s * (softmax - onehot) = gb * (onehot - softmax) with gb = -s
      if (grad) row_grad(x, grad + r * V, V, y, lse, -cross_entropy_scale(a, r, n), lo);
    }
  });
  double total = 0.0;
  for (int64_t r = 0; r < m.rows; ++r) total += row_loss[size_t(r)];
  *a.loss = float(a.mean ? (n ? total / double(n) : 0.0) : total);
  *a.count = int32_t(n);
  return Status::Ok();
}

}  // namespace

Status cross_entropy_cpu(const CrossEntropyArgs& a) {
  return dispatch_float(a.dtype, "ops.crossEntropy", [&](auto t) { return run<decltype(t)>(a); });
}

}  // namespace mmpref

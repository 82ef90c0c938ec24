// CPU sequenceLogps / logpsBackward (math in sequence_logps.h; row kernels in logits_row_cpu.h).
//
// Forward, per scored row (rows in parallel; unscored rows are never read): ONE pass over the
// logits in 4096-element chunks. Each element costs one FMA (y = x*L - c against the row's
// running reference c), a clamp, a max and a polynomial 2^y (degree 5 for float32 logits, 4 for
// half types), summed in 32 float lanes; bfloat16 is read two elements per 32-bit word. The first
// chunk of a row takes c from the max of its first 256 elements; a chunk whose max exceeds c
// re-centres c after it is summed (rescaling the double total), and one whose max is more than
// 64 binades above c (2^y could overflow) is summed again. The label logit is read directly.
// Backward: ONE pass writing g * (onehot - 2^(x*L - c_b) * k) per element, -inf logits exactly 0.
// Every reduction happens inside one row in a fixed order, so results never depend on the thread
// count; rows with NaN, +inf or |max| > 1.8e8 take an exact (slow) double path.
#include "sequence_logps.h"

#include <algorithm>
#include <cstring>
#include <type_traits>
#include <vector>

#include "../core/dispatch.h"
#include "../core/half.h"
#include "../core/thread_pool.h"
#include "logits_row_cpu.h"

namespace mmpref {
namespace {

template <class T>
Status forward(const SequenceLogpsArgs& a) {
  const LogpsRows& m = a.map;
  Plan plan;
  MMPREF_RETURN_IF_ERROR(make_plan("sequenceLogps", m, &plan));
  const T* logits = static_cast<const T*>(a.logits);
  const int64_t V = m.vocab;
  const float lo = g_exp2_lo;
  std::fill(a.per_token, a.per_token + m.rows, 0.0f);
  if (a.lse) std::fill(a.lse, a.lse + m.rows, 0.0f);
  const int64_t shift = m.shift ? 1 : 0;
  parallel_for(m.rows, 1, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t y = plan.target[size_t(r)];
      if (y < 0) continue;
      const T* x = logits + r * V;
      const double lse = row_lse(x, V, lo);
      a.per_token[r + shift] = float(token_logp(to_float(x[y]), lse));
      if (a.lse) a.lse[r] = float(lse);
    }
  });
  // Sequence sums of the float32 per-token values, in double and in label order (so logps[b] is
  // exactly the rounded float64 sum of perToken[b]).
  for (int64_t b = 0; b < m.seqs; ++b) {
    int64_t s0, s1;
    seq_bounds(m, b, &s0, &s1);
    double sum = 0.0;
    for (int64_t r = s0; r < s1; ++r)
      if (plan.target[size_t(r)] >= 0) sum += double(a.per_token[r + shift]);
    const int32_t n = plan.count[size_t(b)];
    a.counts[b] = n;
    a.logps[b] = float(m.average ? (n ? sum / n : 0.0) : sum);
  }
  return Status::Ok();
}

template <class T>
Status backward(const LogpsBackwardArgs& a) {
  const LogpsRows& m = a.map;
  Plan plan;
  MMPREF_RETURN_IF_ERROR(make_plan("logpsBackward", m, &plan));
  const T* logits = static_cast<const T*>(a.logits);
  T* grad = static_cast<T*>(a.grad);
  const int64_t V = m.vocab;
  const float lo = g_exp2_lo;
  std::vector<int64_t> seq(size_t(m.rows), 0);  // sequence of each row
  for (int64_t b = 0; b < m.seqs; ++b) {
    int64_t s0, s1;
    seq_bounds(m, b, &s0, &s1);
    std::fill(seq.begin() + s0, seq.begin() + s1, b);
  }
  parallel_for(m.rows, 1, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const T* x = logits + r * V;
      T* g = grad + r * V;
      const int64_t y = plan.target[size_t(r)];
      if (y < 0) {
        std::memset(static_cast<void*>(g), 0, size_t(V) * sizeof(T));  // +0 in every float dtype
        continue;
      }
      const int64_t b = seq[size_t(r)];
      const int32_t n = plan.count[size_t(b)];
      const double gb = double(a.grad_logps[b]) / (m.average ? std::max(n, 1) : 1);
      // the forward's float32 lse, or this row's lse recomputed in double
      const double lse = a.lse ? double(a.lse[r]) : row_lse(x, V, lo);
      row_grad(x, g, V, y, lse, gb, lo);
    }
  });
  return Status::Ok();
}

}  // namespace

Status sequence_logps_cpu(const SequenceLogpsArgs& a) {
  return dispatch_float(a.dtype, "sequenceLogps", [&](auto t) { return forward<decltype(t)>(a); });
}

Status logps_backward_cpu(const LogpsBackwardArgs& a) {
  return dispatch_float(a.dtype, "logpsBackward", [&](auto t) { return backward<decltype(t)>(a); });
}

}  // namespace mmpref

// CPU linear_logps (math and chunk steps in linear_logps.h): the GEMM core (gemm.h) on a bounded
// float32 chunk buffer and sequence_logps' row kernels on it.
#include "linear_logps.h"

#include <algorithm>
#include <cstring>
#include <memory>

#include "../core/dispatch.h"
#include "../core/half.h"
#include "../core/thread_pool.h"
#include "gemm.h"
#include "logits_row_cpu.h"

namespace mmpref {

Status linear_logps_plan(const char* op, const LogpsRows& m, const float* grad_logps, bool token_mean,
                         LinearLogpsPlan* p) {
  Plan base;  // the labels' checks and targets, as sequenceLogps makes them (logits_row_cpu.h)
  MMPREF_RETURN_IF_ERROR(make_plan(op, m, &base));
  p->target = std::move(base.target);
  p->count = std::move(base.count);
  p->iota.resize(size_t(m.rows) + 1);
  for (int64_t r = 0; r <= m.rows; ++r) p->iota[size_t(r)] = int32_t(r);
  int64_t total = 0;
  for (const int32_t n : p->count) total += n;
  p->row_grad.assign(grad_logps ? size_t(m.rows) : 0, 0.0f);
  if (!grad_logps) return Status::Ok();
  for (int64_t b = 0; b < m.seqs; ++b) {
    int64_t s0, s1;
    seq_bounds(m, b, &s0, &s1);
    // NB: the divisor in double, rounded once to float (logpsBackward rounds g / n the same way
    // inside its scale)
    const int64_t n = token_mean ? total : (m.average ? int64_t(p->count[size_t(b)]) : 1);
    const float g = float(double(grad_logps[b]) / double(std::max<int64_t>(n, 1)));
    for (int64_t r = s0; r < s1; ++r) p->row_grad[size_t(r)] = g;
  }
  return Status::Ok();
}

void linear_logps_finish(const LogpsRows& m, const LinearLogpsPlan& p, const float* lp_row, float* per_token,
                         float* logps, int32_t* counts) {
  const int64_t shift = m.shift ? 1 : 0;
  std::fill(per_token, per_token + m.rows, 0.0f);
  // sequence sums in double and label order, as sequenceLogps
  for (int64_t b = 0; b < m.seqs; ++b) {
    const int64_t s0 = m.cu_seqlens ? int64_t(m.cu_seqlens[b]) : b * m.seq_len;
    const int64_t s1 = m.cu_seqlens ? int64_t(m.cu_seqlens[b + 1]) : s0 + m.seq_len;
    double sum = 0.0;
    for (int64_t r = s0; r < s1; ++r) {
      if (p.target[size_t(r)] < 0) continue;
      per_token[r + shift] = lp_row[r];
      sum += double(lp_row[r]);
    }
    const int32_t n = p.count[size_t(b)];
    counts[b] = n;
    logps[b] = float(m.average ? (n ? sum / n : 0.0) : sum);
  }
}

std::vector<std::pair<int64_t, int64_t>> linear_logps_chunks(const LinearLogpsPlan& p, int64_t chunk) {
  std::vector<std::pair<int64_t, int64_t>> out;
  const int64_t rows = int64_t(p.target.size());
  for (int64_t r = 0; r < rows;) {
    if (p.target[size_t(r)] < 0) {
      ++r;
      continue;
    }
    int64_t e = r;
    while (e < rows && e - r < chunk && p.target[size_t(e)] >= 0) ++e;
    out.emplace_back(r, e - r);
    r = e;
  }
  return out;
}

LogpsRows linear_logps_chunk_map(const LogpsRows& m, const int64_t* labels, const int32_t* iota, int64_t r0,
                                 int64_t n) {
  LogpsRows c;
  c.labels = labels + r0;
  c.label_dtype = DType::kInt64;
  c.cu_seqlens = iota;
  c.seqs = n;
  c.rows = n;
  c.seq_len = 0;
  c.vocab = m.vocab;
  c.ignore_index = -1;
  c.shift = false;
  c.average = false;
  return c;
}

namespace {

// float32 -> T (round to nearest even), rows in parallel.
template <class T>
void round_rows(const float* src, T* dst, int64_t rows, int64_t cols) {
  parallel_for(rows, 1, [&](int64_t r0, int64_t r1) {
    for (int64_t i = r0 * cols; i < r1 * cols; ++i) dst[i] = from_float<T>(src[i]);
  });
}

template <class T>
Status run(const LinearLogpsArgs& a) {
  const char* op = "linearLogps";
  const LogpsRows& m = a.map;
  const int64_t N = m.rows, V = m.vocab, H = a.hidden_size;
  LinearLogpsPlan plan;
  MMPREF_RETURN_IF_ERROR(linear_logps_plan(op, m, a.grad_logps, a.token_mean, &plan));
  const bool grad = a.grad_logps != nullptr;
  const int64_t C = std::max<int64_t>(1, std::min(a.chunk, N));
  std::unique_ptr<float[]> z(new float[size_t(C * V)]);
  std::unique_ptr<T[]> zh(grad && !std::is_same_v<T, float> ? new T[size_t(C * V)] : nullptr);
  std::unique_ptr<float[]> lp(new float[size_t(N)]);
  std::unique_ptr<float[]> lse_c(new float[size_t(C)]), logps_c(new float[size_t(C)]);
  std::unique_ptr<int32_t[]> counts_c(new int32_t[size_t(C)]);
  const int64_t ldh = std::max<int64_t>(H, 1), ldv = std::max<int64_t>(V, 1);  // gemm: ld >= 1
  const T* X = static_cast<const T*>(a.hidden);
  const T* W = static_cast<const T*>(a.head);
  // rows that score nothing: lse 0 (as sequenceLogps), dHidden 0 (+0 bits in every float dtype)
  if (a.lse) std::fill(a.lse, a.lse + N, 0.0f);
  if (a.d_hidden) std::memset(a.d_hidden, 0, size_t(N * H) * size_t(dtype_size(a.d_hidden_dtype)));
  for (const auto& [r0, n] : linear_logps_chunks(plan, C)) {
    // 1. Z_c = X_c W^T
    GemmArgs g1;
    g1.a = X + r0 * H;
    g1.b = W;
    g1.c = z.get();
    g1.in_dtype = a.dtype;
    g1.out_dtype = DType::kFloat32;
    g1.m = n, g1.n = V, g1.k = H;
    g1.lda = ldh, g1.ldb = ldh, g1.ldc = ldv;
    g1.trans_b = true;
    MMPREF_RETURN_IF_ERROR(gemm_cpu(g1));
    // 2. lse and lp per row
    const LogpsRows cm = linear_logps_chunk_map(m, plan.target.data(), plan.iota.data(), r0, n);
    SequenceLogpsArgs f;
    f.map = cm;
    f.logits = z.get();
    f.dtype = DType::kFloat32;
    f.logps = logps_c.get();
    f.counts = counts_c.get();
    f.per_token = lp.get() + r0;
    f.lse = lse_c.get();
    MMPREF_RETURN_IF_ERROR(sequence_logps_cpu(f));
    if (a.lse) std::copy(lse_c.get(), lse_c.get() + n, a.lse + r0);
    if (!grad) continue;
    // 3. G_c = g * (onehot - softmax) in place, in the inputs' dtype for the GEMMs
    LogpsBackwardArgs bw;
    bw.map = cm;
    bw.logits = z.get();
    bw.grad = z.get();
    bw.dtype = DType::kFloat32;
    bw.grad_logps = plan.row_grad.data() + r0;
    bw.lse = lse_c.get();
    MMPREF_RETURN_IF_ERROR(logps_backward_cpu(bw));
    const void* G = z.get();
    if constexpr (!std::is_same_v<T, float>) {
      round_rows(z.get(), zh.get(), n, V);
      G = zh.get();
    }
    // dX_c = G_c W
    if (a.d_hidden) {
      GemmArgs g2;
      g2.a = G;
      g2.b = W;
      g2.c = static_cast<char*>(a.d_hidden) + r0 * H * int64_t(dtype_size(a.d_hidden_dtype));
      g2.in_dtype = a.dtype;
      g2.out_dtype = a.d_hidden_dtype;
      g2.m = n, g2.n = H, g2.k = V;
      g2.lda = ldv, g2.ldb = ldh, g2.ldc = ldh;
      MMPREF_RETURN_IF_ERROR(gemm_cpu(g2));
    }
    // dW += G_c^T X_c
    if (a.d_head) {
      GemmArgs g3;
      g3.a = G;
      g3.b = X + r0 * H;
      g3.c = a.d_head;
      g3.in_dtype = a.dtype;
      g3.out_dtype = DType::kFloat32;
      g3.m = V, g3.n = H, g3.k = n;
      g3.lda = ldv, g3.ldb = ldh, g3.ldc = ldh;
      g3.trans_a = true;
      g3.accumulate = true;
      MMPREF_RETURN_IF_ERROR(gemm_cpu(g3));
    }
  }
  linear_logps_finish(m, plan, lp.get(), a.per_token, a.logps, a.counts);
  return Status::Ok();
}

}  // namespace

Status linear_logps_cpu(const LinearLogpsArgs& a) {
  return dispatch_float(a.dtype, "linearLogps", [&](auto t) { return run<decltype(t)>(a); });
}

Status linear_logps_scale_cpu(const LinearLogpsScaleArgs& a) {
  if (a.cu_seqlens) MMPREF_RETURN_IF_ERROR(check_cu_seqlens("linearLogpsScale", a.cu_seqlens, a.seqs, a.rows));
  return dispatch_float(a.dtype, "linearLogpsScale", [&](auto t) {
    using T = decltype(t);
    T* out = static_cast<T*>(a.out);
    const int64_t H = a.hidden_size;
    std::vector<int64_t> seq(size_t(a.rows), 0);
    for (int64_t b = 0; b < a.seqs; ++b) {
      const int64_t s0 = a.cu_seqlens ? int64_t(a.cu_seqlens[b]) : b * a.seq_len;
      const int64_t s1 = a.cu_seqlens ? int64_t(a.cu_seqlens[b + 1]) : s0 + a.seq_len;
      std::fill(seq.begin() + s0, seq.begin() + s1, b);
    }
    parallel_for(a.rows, 1, [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        const float s = a.scale[seq[size_t(r)]];
        for (int64_t j = 0; j < H; ++j) out[r * H + j] = from_float<T>(s * a.u[r * H + j]);
      }
    });
  });
}

}  // namespace mmpref

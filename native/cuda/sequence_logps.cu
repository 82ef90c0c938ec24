// CUDA sequenceLogps / logpsBackward (math in ../cpp/ops/sequence_logps.h).
//
// Forward: one 256-thread block per logits row (grid-stride over rows). Thread 0 finds what the
// row scores (and flags a bad label); unscored rows are skipped without reading the logits. Each
// thread folds its share of the row, loaded as 16-byte vectors, into (c, s): c = a float near
// its running max * L, s = sum of exp2f(x*L - c); states merge with warp shuffles and shared
// memory in a fixed order, and lse = c/L + log(s) in double. A second small kernel (one block per
// sequence) sums the per-token values in double. Rows holding NaN, +inf or |x| > 1.8e8 take an
// exact two-pass path inside the same block.
// Backward: the same row blocks write g * (onehot - exp(x - lse)) with 16-byte loads and stores,
// lse given (one pass) or recomputed per row first. float32 accumulation throughout.
#include <cstdint>
#include <string>

#include "../cpp/ops/sequence_logps.h"
#include "common.cuh"
#include "logits_row.cuh"

namespace mmpref {
namespace {

template <class T>
__global__ void __launch_bounds__(kBlock, 4) sequence_logps_row_kernel(LogpsRows m, const T* __restrict__ logits,
                                          float* __restrict__ per_token, float* __restrict__ lse_out) {
  for (int64_t r = blockIdx.x; r < m.rows; r += gridDim.x) {
    int64_t li;
    const int64_t y = block_target(m, r, &li);
    if (y < 0) continue;  // block-uniform
    const T* x = logits + r * m.vocab;
    const double lse = row_lse(x, m.vocab);
    if (threadIdx.x == 0) {
      per_token[li] = float(token_logp(to_float(x[y]), lse));
      if (lse_out) lse_out[r] = float(lse);
    }
  }
}

// One block per sequence: counts (and, with per_token, the log-prob sums) in a fixed order; the
// smallest index of a label outside [0, V) that is not ignore_index goes to *err.
__global__ void sequence_reduce_kernel(LogpsRows m, const float* __restrict__ per_token,
                                       float* __restrict__ logps, int32_t* __restrict__ counts,
                                       unsigned long long* err) {
  MMPREF_SHARED(double, sh_s, [kWarps]);
  MMPREF_SHARED(int, sh_n, [kWarps]);
  for (int64_t b = blockIdx.x; b < m.seqs; b += gridDim.x) {
    const int64_t s0 = m.cu_seqlens ? int64_t(m.cu_seqlens[b]) : b * m.seq_len;
    const int64_t s1 = m.cu_seqlens ? int64_t(m.cu_seqlens[b + 1]) : s0 + m.seq_len;
    double sum = 0.0;
    int n = 0;
    for (int64_t r = s0 + threadIdx.x; r < s1; r += kBlock) {
      const int64_t li = label_index(r, s1, m.shift);
      if (li < 0) continue;
      const int64_t y = load_label(m.labels, m.label_dtype, li);
      if (y == m.ignore_index) continue;
      if (y < 0 || y >= m.vocab) {
        atomicMin(err, static_cast<unsigned long long>(li));
        continue;
      }
      ++n;
      if (per_token) sum += double(per_token[li]);
    }
#pragma unroll
    for (int off = 16; off > 0; off >>= 1) {
      sum += __shfl_xor_sync(0xffffffffu, sum, off);
      n += __shfl_xor_sync(0xffffffffu, n, off);
    }
    __syncthreads();
    if ((threadIdx.x & 31) == 0) {
      sh_s[threadIdx.x / 32] = sum;
      sh_n[threadIdx.x / 32] = n;
    }
    __syncthreads();
    if (threadIdx.x == 0) {
      sum = 0.0;
      n = 0;
      for (int w = 0; w < kWarps; ++w) {
        sum += sh_s[w];
        n += sh_n[w];
      }
      counts[b] = n;
      if (logps) logps[b] = float(m.average ? (n ? sum / n : 0.0) : sum);
    }
  }
}

template <class T>
__global__ void __launch_bounds__(kBlock, 4) logps_backward_row_kernel(LogpsRows m, const T* logits, T* grad,
                                          const float* __restrict__ grad_logps,
                                          const float* __restrict__ lse_in,
                                          const int32_t* __restrict__ counts) {
  const int64_t V = m.vocab;
  for (int64_t r = blockIdx.x; r < m.rows; r += gridDim.x) {
    int64_t li;
    const int64_t y = block_target(m, r, &li);
    const T* x = logits + r * V;
    T* g = grad + r * V;
    if (y < 0) {  // block-uniform: zeros, without reading the logits
      block_zero_row(g, V);
      continue;
    }
    // lse as hi + lo floats: exp((x - hi) - lo) keeps a recomputed (double) lse's precision
    const SeqSpan sp = seq_of_row(m, r);
    const int n = counts[sp.seq];
    const float gb = grad_logps[sp.seq] / float(m.average ? (n > 1 ? n : 1) : 1);
    float lse_hi = 0.0f, lse_lo = 0.0f;
    if (lse_in) {
      lse_hi = lse_in[r];
    } else {
      const double lse = row_lse(x, V);
      lse_hi = float(lse);
      lse_lo = (lse_hi == lse) ? 0.0f : float(lse - double(lse_hi));  // 0 for +-inf, NaN kept in hi
    }
    block_grad_row(x, g, V, y, gb, lse_hi, lse_lo);
  }
}

// ---- launch helpers ---------------------------------------------------------------------------

// Stream-ordered scratch memory, freed when it goes out of scope.
// cuSeqlens is read back (B + 1 ints) and checked on the host before any kernel uses it.
Status check_rows(const char* op, const LogpsRows& m) {
  if (!m.cu_seqlens) return Status::Ok();
  std::string host(size_t(m.seqs + 1) * sizeof(int32_t), '\0');
  MMPREF_RETURN_IF_ERROR(cuda::status_from(
      cudaMemcpyAsync(host.data(), m.cu_seqlens, host.size(), cudaMemcpyDeviceToHost, cuda::op_stream()), op));
  MMPREF_RETURN_IF_ERROR(cuda::status_from(cudaStreamSynchronize(cuda::op_stream()), op));
  return check_cu_seqlens(op, reinterpret_cast<const int32_t*>(host.data()), m.seqs, m.rows);
}



template <class T>
Status launch_forward(const SequenceLogpsArgs& a) {
  const char* op = "sequenceLogps";
  const LogpsRows& m = a.map;
  cudaStream_t st = cuda::op_stream();
  MMPREF_RETURN_IF_ERROR(check_rows(op, m));
  cuda::DeviceScratch err;
  MMPREF_RETURN_IF_ERROR(err.alloc(sizeof(unsigned long long), op));
  auto* e = err.get<unsigned long long>();
  MMPREF_RETURN_IF_ERROR(cuda::status_from(cudaMemsetAsync(e, 0xff, sizeof(*e), st), op));
  if (m.rows)
    MMPREF_RETURN_IF_ERROR(cuda::status_from(cudaMemsetAsync(a.per_token, 0, size_t(m.rows) * 4, st), op));
  if (a.lse && m.rows)
    MMPREF_RETURN_IF_ERROR(cuda::status_from(cudaMemsetAsync(a.lse, 0, size_t(m.rows) * 4, st), op));
  if (m.rows)
    cuda::launch(MMPREF_KERNEL(sequence_logps_row_kernel<T>), cuda::grid_for(m.rows, 1), kBlock, 0, st)(m, static_cast<const T*>(a.logits),
                                                                      a.per_token, a.lse);
  MMPREF_RETURN_IF_ERROR(cuda::status_from(cudaGetLastError(), op));
  if (m.seqs)
    cuda::launch(MMPREF_KERNEL(sequence_reduce_kernel), cuda::grid_for(m.seqs, 1), kBlock, 0, st)(m, a.per_token, a.logps, a.counts, e);
  MMPREF_RETURN_IF_ERROR(cuda::check_launch_and_sync(op));
  return read_label_error(op, m, e);
}

// Labels are checked (with the counts) before any gradient is written, so a bad label leaves
// in-place logits untouched.
template <class T>
Status launch_backward(const LogpsBackwardArgs& a) {
  const char* op = "logpsBackward";
  const LogpsRows& m = a.map;
  cudaStream_t st = cuda::op_stream();
  MMPREF_RETURN_IF_ERROR(check_rows(op, m));
  cuda::DeviceScratch err, counts;
  MMPREF_RETURN_IF_ERROR(err.alloc(sizeof(unsigned long long), op));
  MMPREF_RETURN_IF_ERROR(counts.alloc_n<int32_t>(m.seqs, op));
  auto* e = err.get<unsigned long long>();
  auto* cnt = counts.get<int32_t>();
  MMPREF_RETURN_IF_ERROR(cuda::status_from(cudaMemsetAsync(e, 0xff, sizeof(*e), st), op));
  if (m.seqs) cuda::launch(MMPREF_KERNEL(sequence_reduce_kernel), cuda::grid_for(m.seqs, 1), kBlock, 0, st)(m, nullptr, nullptr, cnt, e);
  MMPREF_RETURN_IF_ERROR(cuda::check_launch_and_sync(op));
  MMPREF_RETURN_IF_ERROR(read_label_error(op, m, e));
  if (m.rows)
    cuda::launch(MMPREF_KERNEL(logps_backward_row_kernel<T>), cuda::grid_for(m.rows, 1), kBlock, 0, st)(
        m, static_cast<const T*>(a.logits), static_cast<T*>(a.grad), a.grad_logps, a.lse, cnt);
  return cuda::check_launch_and_sync(op);
}

}  // namespace

Status sequence_logps_cuda(const SequenceLogpsArgs& a) {
  MMPREF_RETURN_IF_ERROR(cuda::set_device(a.device));
  return MMPREF_CUDA_DISPATCH_FLOAT(a.dtype, T, "sequenceLogps", { return launch_forward<T>(a); });
}

Status logps_backward_cuda(const LogpsBackwardArgs& a) {
  MMPREF_RETURN_IF_ERROR(cuda::set_device(a.device));
  return MMPREF_CUDA_DISPATCH_FLOAT(a.dtype, T, "logpsBackward", { return launch_backward<T>(a); });
}

}  // namespace mmpref

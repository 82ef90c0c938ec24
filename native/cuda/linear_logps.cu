// CUDA linear_logps (ops/linear_logps.h): the same chunk steps as the CPU driver, on device
// buffers: gemm_cuda (gemm_tc.cuh) for the three GEMMs, sequence_logps_cuda / logps_backward_cuda
// for the rows of a chunk, and two elementwise kernels (round a chunk's gradient to the inputs'
// dtype; scale rows by their sequence's factor). The O(N) plan (targets, counts, per-row
// gradient) is built on the host from copies of labels, cuSeqlens and gradLogps, as the CPU does.
#include <string>
#include <vector>

#include "../cpp/ops/gemm.h"
#include "../cpp/ops/linear_logps.h"
#include "common.cuh"

namespace mmpref {
namespace {

constexpr int kBlock = 256;

// dst[i] = round(src[i]) to T (round to nearest even).
template <class T>
__global__ void linear_logps_round_kernel(const float* src, T* dst, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    dst[i] = from_float<T>(src[i]);
}

// out[r, j] = scale[seq(r)] * u[r, j]; one element per thread (grid-stride).
template <class T>
__global__ void linear_logps_scale_kernel(LogpsRows m, const float* u, const float* scale, T* out, int64_t hidden) {
  const int64_t n = m.rows * hidden;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    const SeqSpan s = seq_of_row(m, i / hidden);
    out[i] = from_float<T>(scale[s.seq] * u[i]);
  }
}

Status d2h(int device, void* dst, const void* src, size_t bytes) {
  return bytes ? cuda::memcpy_d2h(device, dst, src, bytes) : Status::Ok();
}

template <class T>
Status run(const LinearLogpsArgs& a) {
  const char* op = "linearLogps";
  const LogpsRows& m = a.map;
  const int64_t N = m.rows, V = m.vocab, H = a.hidden_size, S = m.seqs;
  const int dev = a.device;
  cudaStream_t st = cuda::op_stream();
  // 0. the plan, on the host
  const size_t isz = m.label_dtype == DType::kInt64 ? 8 : 4;
  std::vector<char> labels(size_t(N) * isz);
  std::vector<int32_t> cu(m.cu_seqlens ? size_t(S + 1) : 0);
  std::vector<float> grad(a.grad_logps ? size_t(S) : 0);
  MMPREF_RETURN_IF_ERROR(d2h(dev, labels.data(), m.labels, labels.size()));
  MMPREF_RETURN_IF_ERROR(d2h(dev, cu.data(), m.cu_seqlens, cu.size() * 4));
  MMPREF_RETURN_IF_ERROR(d2h(dev, grad.data(), a.grad_logps, grad.size() * 4));
  LogpsRows hm = m;
  hm.labels = labels.data();
  hm.cu_seqlens = m.cu_seqlens ? cu.data() : nullptr;
  LinearLogpsPlan plan;
  MMPREF_RETURN_IF_ERROR(linear_logps_plan(op, hm, a.grad_logps ? grad.data() : nullptr, a.token_mean, &plan));
  const bool want_grad = a.grad_logps != nullptr;
  const int64_t C = std::max<int64_t>(1, std::min(a.chunk, N));
  const int64_t ldh = std::max<int64_t>(H, 1), ldv = std::max<int64_t>(V, 1);
  cuda::DeviceScratch target, iota, row_grad, z, zh, lp, lse_c, logps_c, counts_c;
  MMPREF_RETURN_IF_ERROR(target.upload(plan.target.data(), plan.target.size() * 8, op));
  MMPREF_RETURN_IF_ERROR(iota.upload(plan.iota.data(), plan.iota.size() * 4, op));
  MMPREF_RETURN_IF_ERROR(row_grad.upload(plan.row_grad.data(), plan.row_grad.size() * 4, op));
  MMPREF_RETURN_IF_ERROR(z.alloc_n<float>(C * V, op));
  MMPREF_RETURN_IF_ERROR(zh.alloc_n<T>(want_grad && !std::is_same_v<T, float> ? C * V : 0, op));
  MMPREF_RETURN_IF_ERROR(lp.alloc_n<float>(N, op));
  MMPREF_RETURN_IF_ERROR(lse_c.alloc_n<float>(C, op));
  MMPREF_RETURN_IF_ERROR(logps_c.alloc_n<float>(C, op));
  MMPREF_RETURN_IF_ERROR(counts_c.alloc_n<int32_t>(C, op));
  const T* X = static_cast<const T*>(a.hidden);
  // rows that score nothing: lse 0 (as sequenceLogps), dHidden 0 (+0 bits in every float dtype)
  if (a.lse && N) MMPREF_RETURN_IF_ERROR(cuda::status_from(cudaMemsetAsync(a.lse, 0, size_t(N) * 4, st), op));
  if (a.d_hidden && N * H)
    MMPREF_RETURN_IF_ERROR(cuda::status_from(
        cudaMemsetAsync(a.d_hidden, 0, size_t(N * H) * size_t(dtype_size(a.d_hidden_dtype)), st), op));
  for (const auto& [r0, n] : linear_logps_chunks(plan, C)) {
    // 1. Z_c = X_c W^T
    GemmArgs g1;
    g1.a = X + r0 * H, g1.b = a.head, g1.c = z.get<float>();
    g1.in_dtype = a.dtype, g1.out_dtype = DType::kFloat32;
    g1.m = n, g1.n = V, g1.k = H, g1.lda = ldh, g1.ldb = ldh, g1.ldc = ldv;
    g1.trans_b = true, g1.device = dev;
    MMPREF_RETURN_IF_ERROR(gemm_cuda(g1));
    // 2. lse and lp per row
    const LogpsRows cm = linear_logps_chunk_map(m, target.get<int64_t>(), iota.get<int32_t>(), r0, n);
    SequenceLogpsArgs f;
    f.map = cm, f.logits = z.get<float>(), f.dtype = DType::kFloat32;
    f.logps = logps_c.get<float>(), f.counts = counts_c.get<int32_t>();
    f.per_token = lp.get<float>() + r0, f.lse = lse_c.get<float>(), f.device = dev;
    MMPREF_RETURN_IF_ERROR(sequence_logps_cuda(f));
    if (a.lse) MMPREF_RETURN_IF_ERROR(cuda::memcpy_d2d(dev, a.lse + r0, lse_c.get<float>(), size_t(n) * 4));
    if (!want_grad) continue;
    // 3. G_c in place, rounded to T for the GEMMs
    LogpsBackwardArgs bw;
    bw.map = cm, bw.logits = z.get<float>(), bw.grad = z.get<float>(), bw.dtype = DType::kFloat32;
    bw.grad_logps = row_grad.get<float>() + r0, bw.lse = lse_c.get<float>(), bw.device = dev;
    MMPREF_RETURN_IF_ERROR(logps_backward_cuda(bw));
    const void* G = z.get<float>();
    if constexpr (!std::is_same_v<T, float>) {
      cuda::launch(MMPREF_KERNEL(linear_logps_round_kernel<T>), cuda::grid_for(n * V, kBlock), kBlock, 0, st)(
          z.get<float>(), zh.get<T>(), n * V);
      MMPREF_RETURN_IF_ERROR(cuda::check_launch_and_sync(op));
      G = zh.get<T>();
    }
    if (a.d_hidden) {  // dX_c = G_c W
      GemmArgs g2;
      g2.a = G, g2.b = a.head;
      g2.c = static_cast<char*>(a.d_hidden) + r0 * H * int64_t(dtype_size(a.d_hidden_dtype));
      g2.in_dtype = a.dtype, g2.out_dtype = a.d_hidden_dtype;
      g2.m = n, g2.n = H, g2.k = V, g2.lda = ldv, g2.ldb = ldh, g2.ldc = ldh, g2.device = dev;
      MMPREF_RETURN_IF_ERROR(gemm_cuda(g2));
    }
    if (a.d_head) {  // dW += G_c^T X_c
      GemmArgs g3;
      g3.a = G, g3.b = X + r0 * H, g3.c = a.d_head;
      g3.in_dtype = a.dtype, g3.out_dtype = DType::kFloat32;
      g3.m = V, g3.n = H, g3.k = n, g3.lda = ldv, g3.ldb = ldh, g3.ldc = ldh;
      g3.trans_a = true, g3.accumulate = true, g3.device = dev;
      MMPREF_RETURN_IF_ERROR(gemm_cuda(g3));
    }
  }
  // 4. per-token values and sequence sums on the host (O(N)), as the CPU
  std::vector<float> lp_host(static_cast<size_t>(N)), per_token(static_cast<size_t>(N)), logps(static_cast<size_t>(S));
  std::vector<int32_t> counts(static_cast<size_t>(S));
  MMPREF_RETURN_IF_ERROR(d2h(dev, lp_host.data(), lp.get<float>(), size_t(N) * 4));
  linear_logps_finish(hm, plan, lp_host.data(), per_token.data(), logps.data(), counts.data());
  if (N) MMPREF_RETURN_IF_ERROR(cuda::memcpy_h2d(dev, a.per_token, per_token.data(), size_t(N) * 4));
  if (S) MMPREF_RETURN_IF_ERROR(cuda::memcpy_h2d(dev, a.logps, logps.data(), size_t(S) * 4));
  if (S) MMPREF_RETURN_IF_ERROR(cuda::memcpy_h2d(dev, a.counts, counts.data(), size_t(S) * 4));
  return Status::Ok();
}

}  // namespace

Status linear_logps_cuda(const LinearLogpsArgs& a) {
  MMPREF_RETURN_IF_ERROR(cuda::set_device(a.device));
  return MMPREF_CUDA_DISPATCH_FLOAT(a.dtype, T, "linearLogps", { return run<T>(a); });
}

Status linear_logps_scale_cuda(const LinearLogpsScaleArgs& a) {
  const char* op = "linearLogpsScale";
  MMPREF_RETURN_IF_ERROR(cuda::set_device(a.device));
  LogpsRows m;
  m.seqs = a.seqs, m.rows = a.rows, m.seq_len = a.seq_len, m.cu_seqlens = a.cu_seqlens;
  if (a.cu_seqlens) {
    std::vector<int32_t> cu(size_t(a.seqs + 1));
    MMPREF_RETURN_IF_ERROR(d2h(a.device, cu.data(), a.cu_seqlens, cu.size() * 4));
    MMPREF_RETURN_IF_ERROR(check_cu_seqlens(op, cu.data(), a.seqs, a.rows));
  }
  if (a.rows * a.hidden_size == 0) return Status::Ok();
  return MMPREF_CUDA_DISPATCH_FLOAT(a.dtype, T, op, {
    cuda::launch(MMPREF_KERNEL(linear_logps_scale_kernel<T>), cuda::grid_for(a.rows * a.hidden_size, kBlock), kBlock, 0,
                 cuda::op_stream())(m, a.u, a.scale, static_cast<T*>(a.out), a.hidden_size);
    return cuda::check_launch_and_sync(op);
  });
}

}  // namespace mmpref

// linear: y = x W^T + b (torch.nn.functional.linear).
//
//   y[m, n] = sum_k x[m, k] * W[n, k] + b[n]      x [M, K] (leading dims flattened), W [N, K], b [N]
//
// x, W, b and y share one dtype (float32 / float16 / bfloat16); products are summed in float32
// and y is rounded once to the dtype.
//
// Backward (linear_backward_*), dy [M, N] (x's dtype):
//   dx[m, k]  = sum_n dy[m, n] * W[n, k]          x's dtype, one rounding of the float32 sum
//   dW[n, k] (+)= sum_m dy[m, n] * x[m, k]         float32, over all leading dims of x
//   db[n]    (+)= sum_m dy[m, n]                   float32, m = 0..M-1 in order, then added to db
// accumulate adds dW and db into the given float32 buffers (micro-batch gradient accumulation);
// dx is always overwritten. CPU: the GEMM core, NN layout for dx (A = dy, B = W) and TN for dW
// (A = dy^T, B = x), deterministic for any thread count; db one float32 add chain per column
// (the same bits on CPU and CUDA). CUDA: gemm_cuda (tensor cores for float16 / bfloat16, SIMT for
// float32) for both GEMMs, a thread per column for db.
// CPU: the GEMM core (gemm.h, NT layout: packed panels, AVX2 / AVX-512 / AVX512-BF16
// micro-kernels chosen at run time; M <= 8 streams W once). The sum of every output is formed in
// one fixed order, the same for any M and thread count (a cached decode row equals its prefill row).
// CUDA: float16 / bfloat16 with M > 8 on tensor cores (gemm_tc.cuh, wmma); float32 on 64x64
// shared-memory tiles (gemm_nt.cuh); a warp per output for decode shapes (M <= 8).
#pragma once

#include <cstdint>

#include "../core/dtype.h"
#include "../core/status.h"
#include "gemm.h"

namespace mmpref {

struct LinearArgs {
  const void* x = nullptr;     // [M, K]
  const void* w = nullptr;     // [N, K]
  const void* bias = nullptr;  // [N] or nullptr
  void* y = nullptr;           // [M, N]
  DType dtype = DType::kFloat32;
  int64_t m = 0, n = 0, k = 0;
  int device = -1;
};

Status linear_cpu(const LinearArgs& a);
Status linear_cuda(const LinearArgs& a);

struct LinearBackwardArgs {
  const void* dy = nullptr;  // [M, N]
  const void* x = nullptr;   // [M, K]
  const void* w = nullptr;   // [N, K]
  void* dx = nullptr;        // [M, K] x's dtype, or nullptr
  float* dw = nullptr;       // [N, K] float32, or nullptr
  float* db = nullptr;       // [N] float32, or nullptr
  DType dtype = DType::kFloat32;
  int64_t m = 0, n = 0, k = 0;
  bool accumulate = false;
  int device = -1;
};

// The backward's GEMMs in the core's terms (ops/linear.cc), for both launchers:
// dx = dy . W (NN; nullptr dx: not called), dW (+)= dy^T . x (TN, float32 out).
GemmArgs linear_dx_gemm(const LinearBackwardArgs& a);
GemmArgs linear_dw_gemm(const LinearBackwardArgs& a);

Status linear_backward_cpu(const LinearBackwardArgs& a);
Status linear_backward_cuda(const LinearBackwardArgs& a);

}  // namespace mmpref

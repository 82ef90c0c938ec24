// linear: y = x W^T + b (torch.nn.functional.linear).
//
//   y[m, n] = sum_k x[m, k] * W[n, k] + b[n]      x [M, K] (leading dims flattened), W [N, K], b [N]
//
// x, W, b and y share one dtype (float32 / float16 / bfloat16); products are summed in float32
// and y is rounded once to the dtype. Gradient (not exposed): dx = dy W, dW = dy^T x, db = sum dy.
// CPU: the GEMM core (gemm.h, NT layout: packed panels, AVX2 / AVX-512 / AVX512-BF16
// micro-kernels chosen at run time; M <= 8 streams W once). The sum of every output is formed in
// one fixed order, the same for any M and thread count (a cached decode row equals its prefill row).
// CUDA: float16 / bfloat16 with M > 8 on tensor cores (gemm_tc.cuh, wmma); float32 on 64x64
// shared-memory tiles (gemm_nt.cuh); a warp per output for decode shapes (M <= 8).
#pragma once

#include <cstdint>

#include "../core/dtype.h"
#include "../core/status.h"

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

}  // namespace mmpref

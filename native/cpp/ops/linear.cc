// CPU linear: y = x W^T + b through the GEMM core (gemm.h, NT layout) with the bias added to the
// float32 sum and one rounding to the output dtype. Decode shapes (M <= 8) take the core's
// streaming path, which reads W once; every M gives the same bits per row (KV-cache decode equals
// prefill). Backward: dx through the NN layout, dW through TN, db column sums (linear.h).
#include "linear.h"

#include <algorithm>
#include <string>

#include "../core/cpu_isa.h"
#include "../core/half.h"
#include "../core/hd.h"
#include "../core/thread_pool.h"
#include "gemm.h"

namespace mmpref {
namespace {

constexpr int64_t kBiasCols = 256;  // db columns per work item (one float32 accumulator each)

// db[j0, j0 + cols) (+)= sum_m dy[m, j]: m in order, one float32 add chain per column, then one
// add into db (the order the CUDA kernel uses: the same bits).
template <class T>
MMPREF_CPU_CLONES void bias_grad_block(const T* dy, int64_t m, int64_t n, int64_t j0, int cols, bool accumulate,
                                       float* db) {
  float acc[kBiasCols];
  for (int j = 0; j < cols; ++j) acc[j] = 0.0f;
  for (int64_t r = 0; r < m; ++r) {
    const T* s = dy + r * n + j0;
    for (int j = 0; j < cols; ++j) acc[j] += to_float(s[j]);
  }
  for (int j = 0; j < cols; ++j) db[j0 + j] = accumulate ? db[j0 + j] + acc[j] : acc[j];
}

template <class T>
void bias_grad(const LinearBackwardArgs& a) {
  const T* dy = static_cast<const T*>(a.dy);
  parallel_for(ceil_div(a.n, kBiasCols), 1, [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b) {
      const int64_t j0 = b * kBiasCols;
      bias_grad_block(dy, a.m, a.n, j0, int(std::min<int64_t>(kBiasCols, a.n - j0)), a.accumulate, a.db);
    }
  });
}

}  // namespace

Status linear_cpu(const LinearArgs& a) {
  GemmArgs g;
  g.a = a.x;
  g.b = a.w;
  g.c = a.y;
  g.bias = a.bias;
  g.in_dtype = g.out_dtype = g.bias_dtype = a.dtype;
  g.m = a.m;
  g.n = a.n;
  g.k = a.k;
  g.lda = std::max<int64_t>(a.k, 1);
  g.ldb = std::max<int64_t>(a.k, 1);
  g.ldc = std::max<int64_t>(a.n, 1);
  g.trans_b = true;
  return gemm_cpu(g);
}

// The two GEMMs of the backward (shared with the CUDA launcher through gemm_cuda's contract):
//   dx [M, K] = dy [M, N] . W [N, K]              NN: A = dy, B = W
//   dW [N, K] (+)= dy^T [N, M] . x [M, K]         TN: A = dy stored [M, N], B = x
GemmArgs linear_dx_gemm(const LinearBackwardArgs& a) {
  GemmArgs g;
  g.a = a.dy;
  g.b = a.w;
  g.c = a.dx;
  g.in_dtype = g.out_dtype = a.dtype;
  g.m = a.m;
  g.n = a.k;
  g.k = a.n;
  g.lda = std::max<int64_t>(a.n, 1);
  g.ldb = std::max<int64_t>(a.k, 1);
  g.ldc = std::max<int64_t>(a.k, 1);
  g.device = a.device;
  return g;
}

GemmArgs linear_dw_gemm(const LinearBackwardArgs& a) {
  GemmArgs g;
  g.a = a.dy;
  g.b = a.x;
  g.c = a.dw;
  g.in_dtype = a.dtype;
  g.out_dtype = DType::kFloat32;
  g.m = a.n;
  g.n = a.k;
  g.k = a.m;
  g.lda = std::max<int64_t>(a.n, 1);
  g.ldb = std::max<int64_t>(a.k, 1);
  g.ldc = std::max<int64_t>(a.k, 1);
  g.trans_a = true;
  g.accumulate = a.accumulate;
  g.device = a.device;
  return g;
}

Status linear_backward_cpu(const LinearBackwardArgs& a) {
  if (a.dx) MMPREF_RETURN_IF_ERROR(gemm_cpu(linear_dx_gemm(a)));
  if (a.dw) MMPREF_RETURN_IF_ERROR(gemm_cpu(linear_dw_gemm(a)));
  if (a.db && a.n > 0) {
    switch (a.dtype) {
      case DType::kFloat32: bias_grad<float>(a); break;
      case DType::kFloat16: bias_grad<half_t>(a); break;
      case DType::kBFloat16: bias_grad<bfloat16_t>(a); break;
      default: return make_status(Code::kDtype, std::string("linearBackward: expected float32, float16 or bfloat16 but received ") + dtype_name(a.dtype));
    }
  }
  return Status::Ok();
}

}  // namespace mmpref

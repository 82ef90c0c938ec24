// CUDA linear: y = x W^T + b. float16 / bfloat16 with M > 8 rows: the tensor-core GEMM
// (gemm_tc.cuh, NT layout, float32 accumulation, bias added to the float32 sum, one rounding);
// float32, and decode shapes (M <= 8, bound by reading W): gemm_nt_cuda (gemm_nt.cuh).
// Backward: dx (NN) and dW (TN) through gemm_cuda (tensor cores for float16 / bfloat16, SIMT for
// float32), db by linear_bias_grad_kernel (a thread per column, rows in order: the CPU's bits).
#include <type_traits>

#include "../cpp/ops/linear.h"
#include "common.cuh"
#include "gemm_nt.cuh"
#include "gemm_tc.cuh"

namespace mmpref {
namespace {

template <class T>
struct LinearEpilogue {
  const T* bias;
  T* y;
  int64_t n_total;
  __device__ __forceinline__ void operator()(int64_t m, int64_t n, float c) const {
    y[m * n_total + n] = from_float<T>(bias ? c + to_float(bias[n]) : c);
  }
};

template <class T>
Status launch(const LinearArgs& a) {
  if constexpr (!std::is_same_v<T, float>) {
    if (a.m > cuda::kGemvRows) {
      const int64_t k1 = a.k > 0 ? a.k : 1, n1 = a.n > 0 ? a.n : 1;
      const cuda::GemmDims d{a.m, a.n, a.k, k1, k1, n1, false, true, false};
      return cuda::gemm_tc_launch<T, T>(static_cast<const T*>(a.x), static_cast<const T*>(a.w), static_cast<T*>(a.y),
                                        a.bias, false, d);
    }
  }
  LinearEpilogue<T> epi{static_cast<const T*>(a.bias), static_cast<T*>(a.y), a.n};
  return cuda::gemm_nt_cuda(static_cast<const T*>(a.x), static_cast<const T*>(a.w), a.m, a.n, a.k, epi, "linear");
}

// db[j] (+)= sum_m dy[m, j]: one float32 add chain per column over m = 0..M-1, then one add into
// db, as the CPU (ops/linear.cc bias_grad_block). Neighbouring threads read neighbouring columns.
template <class T>
__global__ void linear_bias_grad_kernel(const T* dy, int64_t m, int64_t n, bool accumulate, float* db) {
  for (int64_t j = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; j < n; j += int64_t(gridDim.x) * blockDim.x) {
    float acc = 0.0f;
    for (int64_t r = 0; r < m; ++r) acc += to_float(dy[r * n + j]);
    db[j] = accumulate ? db[j] + acc : acc;
  }
}

}  // namespace

Status linear_backward_cuda(const LinearBackwardArgs& a) {
  MMPREF_RETURN_IF_ERROR(cuda::set_device(a.device));
  if (a.dx) MMPREF_RETURN_IF_ERROR(gemm_cuda(linear_dx_gemm(a)));
  if (a.dw) MMPREF_RETURN_IF_ERROR(gemm_cuda(linear_dw_gemm(a)));
  if (!a.db || a.n == 0) return Status::Ok();
  return MMPREF_CUDA_DISPATCH_FLOAT(a.dtype, T, "linearBackward", {
    cuda::launch(MMPREF_KERNEL(linear_bias_grad_kernel<T>), cuda::grid_for(a.n, 128), 128, 0, cuda::op_stream())(
        static_cast<const T*>(a.dy), a.m, a.n, a.accumulate, a.db);
    return cuda::check_launch_and_sync("linearBackward (bias)");
  });
}

Status linear_cuda(const LinearArgs& a) {
  MMPREF_RETURN_IF_ERROR(cuda::set_device(a.device));
  return MMPREF_CUDA_DISPATCH_FLOAT(a.dtype, T, "linear", { return launch<T>(a); });
}

}  // namespace mmpref

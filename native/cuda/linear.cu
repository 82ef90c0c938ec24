// CUDA linear: gemm_nt_cuda (gemm_nt.cuh) with an epilogue that adds the bias and rounds once to
// the output dtype.
#include "../cpp/ops/linear.h"
#include "common.cuh"
#include "gemm_nt.cuh"

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
  LinearEpilogue<T> epi{static_cast<const T*>(a.bias), static_cast<T*>(a.y), a.n};
  return cuda::gemm_nt_cuda(static_cast<const T*>(a.x), static_cast<const T*>(a.w), a.m, a.n, a.k, epi, "linear");
}

}  // namespace

Status linear_cuda(const LinearArgs& a) {
  MMPREF_RETURN_IF_ERROR(cuda::set_device(a.device));
  return MMPREF_CUDA_DISPATCH_FLOAT(a.dtype, T, "linear", { return launch<T>(a); });
}

}  // namespace mmpref

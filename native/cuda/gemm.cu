// CUDA GEMM entry point (cpp/ops/gemm.h gemm_cuda): checks, dtype dispatch, gemm_tc.cuh launchers.
#include <type_traits>

#include "../cpp/ops/gemm.h"
#include "common.cuh"
#include "gemm_tc.cuh"

namespace mmpref {
namespace {

template <class T, class O>
Status launch(const GemmArgs& g, const cuda::GemmDims& d) {
  const T* a = static_cast<const T*>(g.a);
  const T* b = static_cast<const T*>(g.b);
  O* c = static_cast<O*>(g.c);
  const bool bias_f32 = g.bias_dtype == DType::kFloat32;
  if constexpr (std::is_same_v<T, float>) return cuda::gemm_simt_launch<T, O>(a, b, c, g.bias, bias_f32, d);
  else return cuda::gemm_tc_launch<T, O>(a, b, c, g.bias, bias_f32, d);
}

template <class T>
Status launch_out(const GemmArgs& g, const cuda::GemmDims& d) {
  if (g.out_dtype == DType::kFloat32) return launch<T, float>(g, d);
  return launch<T, T>(g, d);
}

}  // namespace

Status gemm_cuda(const GemmArgs& g) {
  MMPREF_RETURN_IF_ERROR(gemm_check(g));
  if (g.m == 0 || g.n == 0) return Status::Ok();
  MMPREF_RETURN_IF_ERROR(cuda::set_device(g.device));
  const cuda::GemmDims d{g.m, g.n, g.k, g.lda, g.ldb, g.ldc, g.trans_a, g.trans_b, g.accumulate};
  return MMPREF_CUDA_DISPATCH_FLOAT(g.in_dtype, T, "gemm", { return launch_out<T>(g, d); });
}

}  // namespace mmpref

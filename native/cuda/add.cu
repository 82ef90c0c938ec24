// CUDA kernel for ops.add (ops/add.h): grid-stride elementwise.
#include "../cpp/ops/add.h"
#include "common.cuh"

namespace mmpref {
namespace {

template <class T>
__global__ void add_kernel(const T* a, const T* b, T* y, int64_t n, float alpha) {
  // NB: __fmul_rn keeps nvcc from contracting this into one fma: the CPU (-ffp-contract=off)
  // rounds alpha * b before the add, and the results must be identical
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    y[i] = from_float<T>(to_float(a[i]) + __fmul_rn(alpha, to_float(b[i])));
}

}  // namespace

Status add_cuda(const ElementwiseArgs& a) {
  MMPREF_RETURN_IF_ERROR(cuda::set_device(a.device));
  if (a.n == 0) return Status::Ok();
  return MMPREF_CUDA_DISPATCH_FLOAT(a.dtype, T, "add", {
    cuda::launch(MMPREF_KERNEL(add_kernel<T>), cuda::grid_for(a.n, 256), 256, 0, cuda::op_stream())(static_cast<const T*>(a.a), static_cast<const T*>(a.b),
                                                                         static_cast<T*>(a.y), a.n, a.alpha);
    return cuda::check_launch_and_sync("add");
  });
}

}  // namespace mmpref

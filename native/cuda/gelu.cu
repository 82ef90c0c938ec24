// CUDA kernels for ops.gelu and ops.geluBackward (ops/gelu.h): grid-stride elementwise on the
// shared float32 math, so the bits equal the CPU's.
#include "../cpp/ops/gelu.h"
#include "common.cuh"

namespace mmpref {
namespace {

template <class T, bool TANH>
__global__ void gelu_kernel(const T* x, T* y, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    y[i] = from_float<T>(gelu_fwd(to_float(x[i]), TANH));
}

template <class T, bool TANH>
__global__ void gelu_backward_kernel(const T* dy, const T* x, T* dx, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    dx[i] = from_float<T>(gelu_bwd(to_float(dy[i]), to_float(x[i]), TANH));
}

}  // namespace

Status gelu_cuda(const GeluArgs& a) {
  MMPREF_RETURN_IF_ERROR(cuda::set_device(a.device));
  if (a.n == 0) return Status::Ok();
  return MMPREF_CUDA_DISPATCH_FLOAT(a.dtype, T, "gelu", {
    const T* x = static_cast<const T*>(a.x);
    T* y = static_cast<T*>(a.y);
    if (a.tanh)
      cuda::launch(MMPREF_KERNEL(gelu_kernel<T, true>), cuda::grid_for(a.n, 256), 256, 0, cuda::op_stream())(x, y, a.n);
    else
      cuda::launch(MMPREF_KERNEL(gelu_kernel<T, false>), cuda::grid_for(a.n, 256), 256, 0, cuda::op_stream())(x, y, a.n);
    return cuda::check_launch_and_sync("gelu");
  });
}

Status gelu_backward_cuda(const GeluArgs& a) {
  MMPREF_RETURN_IF_ERROR(cuda::set_device(a.device));
  if (a.n == 0) return Status::Ok();
  return MMPREF_CUDA_DISPATCH_FLOAT(a.dtype, T, "geluBackward", {
    const T *x = static_cast<const T*>(a.x), *dy = static_cast<const T*>(a.dy);
    T* dx = static_cast<T*>(a.y);
    if (a.tanh)
      cuda::launch(MMPREF_KERNEL(gelu_backward_kernel<T, true>), cuda::grid_for(a.n, 256), 256, 0, cuda::op_stream())(dy, x, dx, a.n);
    else
      cuda::launch(MMPREF_KERNEL(gelu_backward_kernel<T, false>), cuda::grid_for(a.n, 256), 256, 0, cuda::op_stream())(dy, x, dx, a.n);
    return cuda::check_launch_and_sync("geluBackward");
  });
}

}  // namespace mmpref

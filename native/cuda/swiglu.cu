// CUDA kernels for ops.swiglu and ops.swigluBackward (ops/swiglu.h): grid-stride elementwise.
#include "../cpp/ops/swiglu.h"
#include "common.cuh"

namespace mmpref {
namespace {

template <class T>
__global__ void swiglu_kernel(const T* g, const T* u, T* y, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    y[i] = from_float<T>(silu_mul(to_float(g[i]), to_float(u[i])));
}

// NB: dg may alias g or dy and du may alias u: element i is read before it is written.
template <class T>
__global__ void swiglu_backward_kernel(const T* dy, const T* g, const T* u, T* dg, T* du, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    float a, b;
    swiglu_grad(to_float(dy[i]), to_float(g[i]), to_float(u[i]), &a, &b);
    dg[i] = from_float<T>(a);
    du[i] = from_float<T>(b);
  }
}

}  // namespace

Status swiglu_backward_cuda(const SwigluBackwardArgs& a) {
  MMPREF_RETURN_IF_ERROR(cuda::set_device(a.device));
  if (a.n == 0) return Status::Ok();
  return MMPREF_CUDA_DISPATCH_FLOAT(a.dtype, T, "swigluBackward", {
    cuda::launch(MMPREF_KERNEL(swiglu_backward_kernel<T>), cuda::grid_for(a.n, 256), 256, 0, cuda::op_stream())(
        static_cast<const T*>(a.dy), static_cast<const T*>(a.g), static_cast<const T*>(a.u), static_cast<T*>(a.dg), static_cast<T*>(a.du), a.n);
    return cuda::check_launch_and_sync("swigluBackward");
  });
}

Status swiglu_cuda(const ElementwiseArgs& a) {
  MMPREF_RETURN_IF_ERROR(cuda::set_device(a.device));
  if (a.n == 0) return Status::Ok();
  return MMPREF_CUDA_DISPATCH_FLOAT(a.dtype, T, "swiglu", {
    cuda::launch(MMPREF_KERNEL(swiglu_kernel<T>), cuda::grid_for(a.n, 256), 256, 0, cuda::op_stream())(static_cast<const T*>(a.a), static_cast<const T*>(a.b),
                                                                             static_cast<T*>(a.y), a.n);
    return cuda::check_launch_and_sync("swiglu");
  });
}

}  // namespace mmpref

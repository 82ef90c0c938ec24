// CUDA kernel for optim.adamw (ops/adamw.h): one grid-stride launch per tensor, the element
// formula shared with the CPU (adamw_update), so both give the same bits.
#include "../cpp/ops/adamw.h"
#include "common.cuh"

namespace mmpref {
namespace {

template <class P, class G, bool MASTER>
__global__ void adamw_kernel(P* param, const G* grad, float* m, float* v, float* master, int64_t n, AdamwArgs a) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    const float theta = MASTER ? master[i] : to_float(param[i]);
    const AdamwElem e = adamw_update(theta, to_float(grad[i]), m[i], v[i], a);
    m[i] = e.m;
    v[i] = e.v;
    if (MASTER) master[i] = e.theta;
    param[i] = from_float<P>(e.theta);
  }
}

template <class P, class G>
Status launch(const AdamwArgs& a) {
  constexpr int kBlock = 256;
  const int grid = cuda::grid_for(a.n, kBlock);
  P* p = static_cast<P*>(a.param);
  const G* g = static_cast<const G*>(a.grad);
  if (a.master)
    cuda::launch(MMPREF_KERNEL(adamw_kernel<P, G, true>), grid, kBlock, 0, cuda::op_stream())(p, g, a.m, a.v, a.master, a.n, a);
  else
    cuda::launch(MMPREF_KERNEL(adamw_kernel<P, G, false>), grid, kBlock, 0, cuda::op_stream())(p, g, a.m, a.v, a.master, a.n, a);
  return cuda::check_launch_and_sync("optim.adamw");
}

}  // namespace

Status adamw_cuda(const AdamwArgs& a) {
  MMPREF_RETURN_IF_ERROR(cuda::set_device(a.device));
  if (a.n == 0) return Status::Ok();
  return MMPREF_CUDA_DISPATCH_FLOAT(a.param_dtype, T, "optim.adamw", {
    if (a.grad_dtype == DType::kFloat32) return launch<T, float>(a);
    return launch<T, T>(a);
  });
}

}  // namespace mmpref

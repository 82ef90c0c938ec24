// CUDA permute: one thread per output element (grid-stride), index decomposed over the merged
// output shape. Element sizes 1, 2, 4, 8 are copied as one word.
#include "../cpp/ops/permute.h"
#include "common.cuh"

namespace mmpref {
namespace {

struct Dims {
  int n;
  int64_t shape[kMaxDims];
  int64_t stride[kMaxDims];
};

template <class W>
__global__ void permute_kernel(const W* __restrict__ x, W* __restrict__ y, Dims d, int64_t numel) {
  for (int64_t j = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; j < numel; j += int64_t(gridDim.x) * blockDim.x) {
    int64_t rem = j, off = 0;
    for (int k = d.n - 1; k >= 0; --k) {
      off += (rem % d.shape[k]) * d.stride[k];
      rem /= d.shape[k];
    }
    y[j] = x[off];
  }
}

template <class W>
Status launch(const PermuteArgs& a, const Dims& d) {
  cuda::launch(MMPREF_KERNEL(permute_kernel<W>), cuda::grid_for(a.numel, 256), 256, 0, cuda::op_stream())(static_cast<const W*>(a.x), static_cast<W*>(a.y), d, a.numel);
  return cuda::check_launch_and_sync("permute");
}

}  // namespace

Status permute_cuda(const PermuteArgs& a) {
  MMPREF_RETURN_IF_ERROR(cuda::set_device(a.device));
  if (a.numel == 0) return Status::Ok();
  Dims d;
  d.n = a.ndim;
  for (int k = 0; k < a.ndim; ++k) {
    d.shape[k] = a.out_shape[k];
    d.stride[k] = a.in_stride[k];
  }
  switch (a.itemsize) {
    case 1: return launch<uint8_t>(a, d);
    case 2: return launch<uint16_t>(a, d);
    case 4: return launch<uint32_t>(a, d);
    default: return launch<uint64_t>(a, d);
  }
}

}  // namespace mmpref

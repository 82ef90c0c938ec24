// CUDA image-key mask: an elementwise pass writes the base (or 1), then one block per span
// clears the blocked image keys. Spans are copied to the device (a few dozen int64 triples).
#include "../cpp/ops/image_key_mask.h"
#include "common.cuh"

namespace mmpref {
namespace {

__global__ void image_key_mask_base_kernel(const uint8_t* __restrict__ base, uint8_t* __restrict__ out,
                                           int64_t n) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    out[i] = base ? uint8_t(base[i] != 0) : uint8_t(1);
}

__global__ void image_key_mask_spans_kernel(const ImageKeySpan* __restrict__ spans, int64_t num_spans,
                                            uint8_t* __restrict__ out, int64_t length, uint32_t threshold,
                                            uint64_t seed, uint64_t offset) {
  for (int64_t s = blockIdx.x; s < num_spans; s += gridDim.x) {
    const ImageKeySpan sp = spans[s];
    for (int64_t p = sp.start + threadIdx.x; p < sp.start + sp.length; p += blockDim.x)
      if (image_key_blocked(seed, offset, sp.row, p, threshold)) out[sp.row * length + p] = 0;
  }
}

}  // namespace

Status image_key_mask_cuda(const ImageKeyMaskArgs& a) {
  MMPREF_RETURN_IF_ERROR(cuda::set_device(a.device));
  const int64_t n = a.batch * a.length;
  if (n == 0) return Status::Ok();
  constexpr int kBlock = 256;
  cuda::launch(MMPREF_KERNEL(image_key_mask_base_kernel), cuda::grid_for(n, kBlock), kBlock, 0, cuda::op_stream())(a.base, a.out, n);
  MMPREF_RETURN_IF_ERROR(cuda::status_from(cudaGetLastError(), "imageKeyMask"));
  if (!a.spans.empty()) {
    const size_t bytes = a.spans.size() * sizeof(ImageKeySpan);
    cuda::DeviceScratch spans;
    MMPREF_RETURN_IF_ERROR(spans.upload(a.spans.data(), bytes, "imageKeyMask"));
    const int64_t num = int64_t(a.spans.size());
    cuda::launch(MMPREF_KERNEL(image_key_mask_spans_kernel), cuda::grid_for(num, 1), kBlock, 0, cuda::op_stream())(
        spans.get<const ImageKeySpan>(), num, a.out, a.length, a.threshold, a.seed, a.offset);
    return cuda::check_launch_and_sync("imageKeyMask");  // before `spans` is freed
  }
  return cuda::check_launch_and_sync("imageKeyMask");
}

}  // namespace mmpref

// CUDA kernel for ops.rmsNorm (ops/rms_norm.h): a block per row, warp-shuffle sum of squares.
#include "../cpp/ops/rms_norm.h"
#include "common.cuh"

namespace mmpref {
namespace {

template <class T, class W>
// NB: x and y may alias (out: x), so neither is __restrict__.
__global__ void rms_norm_kernel(const T* x, const W* __restrict__ w, T* y, int64_t rows,
                                int64_t cols, float eps) {
  MMPREF_SHARED(float, part, [32]);
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const T* xr = x + r * cols;
    float ss = 0;
    for (int64_t i = threadIdx.x; i < cols; i += blockDim.x) {
      const float v = to_float(xr[i]);
      ss += v * v;
    }
    for (int off = 16; off; off >>= 1) ss += __shfl_xor_sync(0xffffffffu, ss, off);
    if ((threadIdx.x & 31) == 0) part[threadIdx.x / 32] = ss;
    __syncthreads();
    if (threadIdx.x < 32) {
      ss = threadIdx.x < blockDim.x / 32 ? part[threadIdx.x] : 0.0f;
      for (int off = 16; off; off >>= 1) ss += __shfl_xor_sync(0xffffffffu, ss, off);
      if (threadIdx.x == 0) part[0] = rsqrtf(ss / float(cols) + eps);
    }
    __syncthreads();
    const float inv = part[0];
    for (int64_t i = threadIdx.x; i < cols; i += blockDim.x) y[r * cols + i] = from_float<T>(to_float(xr[i]) * inv * to_float(w[i]));
    __syncthreads();
  }
}

}  // namespace

Status rms_norm_cuda(const RmsNormArgs& a) {
  MMPREF_RETURN_IF_ERROR(cuda::set_device(a.device));
  if (a.rows == 0 || a.cols == 0) return Status::Ok();
  const int grid = int(std::min<int64_t>(a.rows, 65535 * 8));
  return MMPREF_CUDA_DISPATCH_FLOAT(a.dtype, T, "rmsNorm", {
    if (a.w_dtype == DType::kFloat32)
      cuda::launch(MMPREF_KERNEL(rms_norm_kernel<T, float>), grid, 256, 0, cuda::op_stream())(static_cast<const T*>(a.x), static_cast<const float*>(a.w),
                                                                     static_cast<T*>(a.y), a.rows, a.cols, a.eps);
    else
      cuda::launch(MMPREF_KERNEL(rms_norm_kernel<T, T>), grid, 256, 0, cuda::op_stream())(static_cast<const T*>(a.x), static_cast<const T*>(a.w),
                                                                 static_cast<T*>(a.y), a.rows, a.cols, a.eps);
    return cuda::check_launch_and_sync("rmsNorm");
  });
}

}  // namespace mmpref

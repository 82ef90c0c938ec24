// CUDA kernels for ops.rmsNorm (ops/rms_norm.h): a block per row, warp-shuffle sum of squares;
// rmsNormBackward: a block per block of rows writes dx and the block's dw partial, then a thread
// per column adds the partials in block order (no atomics: same bits on every launch).
#include "../cpp/ops/rms_norm.h"
#include "block_reduce.cuh"
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

constexpr int kBwdThreads = 256;

// Rows per dw partial on the GPU: smaller blocks than the CPU's (ops/rms_norm.h) so that a
// 2048-row batch fills the SMs (512 blocks); at most 1024 partials (1024 * D floats of scratch).
// A function of rows only, so the launch and the summation order are fixed.
int64_t cuda_block_rows(int64_t rows) {
  const int64_t per = (rows + 1023) / 1024;
  return per > 4 ? per : 4;
}

struct SumPair {
  float ss, sd;  // sum x^2, sum dy w x
};

template <class T, class W>
// NB: dy and dx may alias (dx: dy), so neither is __restrict__; each thread reads dy[i] before it
// writes dx[i], and only that thread touches column i of the block's partial.
__global__ void rms_norm_backward_rows_kernel(const T* dy, const T* __restrict__ x, const W* __restrict__ w, T* dx,
                                              float* __restrict__ parts, int64_t rows, int64_t cols, int64_t per, float eps) {
  MMPREF_SHARED(SumPair, red, [kBwdThreads / 32]);
  const int64_t b = blockIdx.x;
  float* part = parts + b * cols;
  for (int64_t i = threadIdx.x; i < cols; i += kBwdThreads) part[i] = 0.0f;
  for (int64_t r = b * per, re = min(rows, r + per); r < re; ++r) {
    const T* dyr = dy + r * cols;
    const T* xr = x + r * cols;
    // 1. sum x^2 and sum dy w x over the row
    SumPair p{0.0f, 0.0f};
    for (int64_t i = threadIdx.x; i < cols; i += kBwdThreads) {
      const float v = to_float(xr[i]);
      p.ss += v * v;
      p.sd += to_float(dyr[i]) * to_float(w[i]) * v;
    }
    p = cuda::block_reduce<kBwdThreads>(p, [](SumPair u, SumPair v) { return SumPair{u.ss + v.ss, u.sd + v.sd}; }, red);
    const float rr = rsqrtf(p.ss / float(cols) + eps);
    const float k = rr * rr * rr * (p.sd / float(cols));
    // 2. dx and the row's dw terms
    for (int64_t i = threadIdx.x; i < cols; i += kBwdThreads) {
      const float g = to_float(dyr[i]), v = to_float(xr[i]);
      part[i] += g * (v * rr);
      dx[r * cols + i] = from_float<T>(rr * (g * to_float(w[i])) - k * v);
    }
  }
}

// 3. dw[c] (+)= partials 0, 1, ..., nb - 1 of column c, in that order.
__global__ void rms_norm_backward_dw_kernel(const float* __restrict__ parts, float* __restrict__ dw, int64_t nb, int64_t cols, bool accumulate) {
  for (int64_t c = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; c < cols; c += int64_t(gridDim.x) * blockDim.x) {
    float s = accumulate ? dw[c] : 0.0f;
    for (int64_t b = 0; b < nb; ++b) s += parts[b * cols + c];
    dw[c] = s;
  }
}

}  // namespace

Status rms_norm_backward_cuda(const RmsNormBackwardArgs& a) {
  MMPREF_RETURN_IF_ERROR(cuda::set_device(a.device));
  if (a.cols == 0) return Status::Ok();
  const int64_t per = cuda_block_rows(a.rows), nb = (a.rows + per - 1) / per;
  cuda::DeviceScratch parts;
  MMPREF_RETURN_IF_ERROR(parts.alloc_n<float>(nb * a.cols, "rmsNormBackward: dw partials"));
  Status st = MMPREF_CUDA_DISPATCH_FLOAT(a.dtype, T, "rmsNormBackward", {
    if (nb == 0) return Status::Ok();
    if (a.w_dtype == DType::kFloat32)
      cuda::launch(MMPREF_KERNEL(rms_norm_backward_rows_kernel<T, float>), int(nb), kBwdThreads, 0, cuda::op_stream())(
          static_cast<const T*>(a.dy), static_cast<const T*>(a.x), static_cast<const float*>(a.w), static_cast<T*>(a.dx), parts.get<float>(), a.rows,
          a.cols, per, a.eps);
    else
      cuda::launch(MMPREF_KERNEL(rms_norm_backward_rows_kernel<T, T>), int(nb), kBwdThreads, 0, cuda::op_stream())(
          static_cast<const T*>(a.dy), static_cast<const T*>(a.x), static_cast<const T*>(a.w), static_cast<T*>(a.dx), parts.get<float>(), a.rows,
          a.cols, per, a.eps);
    return cuda::status_from(cudaGetLastError(), "rmsNormBackward");
  });
  MMPREF_RETURN_IF_ERROR(st);
  cuda::launch(MMPREF_KERNEL(rms_norm_backward_dw_kernel), cuda::grid_for(a.cols, 256), 256, 0, cuda::op_stream())(parts.get<float>(), a.dw, nb, a.cols,
                                                                                                            a.accumulate);
  return cuda::check_launch_and_sync("rmsNormBackward");
}

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

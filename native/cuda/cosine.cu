// CUDA similarity.cosine / similarity.filter: a warp per row for norms and paired similarities,
// the shared GEMM (gemm_nt.cuh) with a dividing epilogue for all pairs, and a thread per candidate
// for the filter's row test. Scratch (norms, the filter's similarity matrix) is stream-ordered.
#include "../cpp/ops/cosine.h"
#include "common.cuh"
#include "gemm_nt.cuh"

namespace mmpref {
namespace {

constexpr int kThreads = 256;

__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
  for (int off = 16; off > 0; off >>= 1) v += __shfl_xor_sync(0xffffffffu, v, off);
  return v;
}

template <class T>
__global__ void cosine_norm_kernel(const T* __restrict__ x, int64_t rows, int64_t e, float* __restrict__ out) {
  const int lane = threadIdx.x & 31;
  const int64_t warps = int64_t(gridDim.x) * (kThreads / 32);
  for (int64_t r = int64_t(blockIdx.x) * (kThreads / 32) + threadIdx.x / 32; r < rows; r += warps) {
    float s = 0.0f;
    for (int64_t i = lane; i < e; i += 32) {
      const float v = to_float(x[r * e + i]);
      s = fmaf(v, v, s);
    }
    s = warp_sum(s);
    if (lane == 0) out[r] = sqrtf(s);
  }
}

template <class T>
__global__ void cosine_paired_kernel(const T* __restrict__ x, const T* __restrict__ y, int64_t rows, int64_t e,
                                     float* __restrict__ out, uint8_t* __restrict__ keep, float threshold) {
  const int lane = threadIdx.x & 31;
  const int64_t warps = int64_t(gridDim.x) * (kThreads / 32);
  for (int64_t r = int64_t(blockIdx.x) * (kThreads / 32) + threadIdx.x / 32; r < rows; r += warps) {
    float d = 0.0f, sx = 0.0f, sy = 0.0f;
    for (int64_t i = lane; i < e; i += 32) {
      const float u = to_float(x[r * e + i]), v = to_float(y[r * e + i]);
      d = fmaf(u, v, d);
      sx = fmaf(u, u, sx);
      sy = fmaf(v, v, sy);
    }
    d = warp_sum(d);
    sx = warp_sum(sx);
    sy = warp_sum(sy);
    if (lane == 0) {
      const float c = cosine_finish(d, sqrtf(sx), sqrtf(sy));
      if (keep) keep[r] = c < threshold;
      else out[r] = c;
    }
  }
}

struct CosineEpilogue {
  const float* na;
  const float* nb;
  float* out;
  int64_t m;
  __device__ __forceinline__ void operator()(int64_t i, int64_t j, float c) const {
    out[i * m + j] = cosine_finish(c, na[i], nb[j]);
  }
};

// keep[r] = all_j sim[r, j] < threshold (NaN compares false: dropped).
__global__ void cosine_filter_kernel(const float* __restrict__ sim, int64_t n, int64_t m, float threshold,
                                     uint8_t* __restrict__ keep) {
  for (int64_t r = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; r < n; r += int64_t(gridDim.x) * blockDim.x) {
    bool k = true;
    for (int64_t j = 0; j < m; ++j) k = k && sim[r * m + j] < threshold;
    keep[r] = k;
  }
}

template <class T>
Status launch(const CosineArgs& a) {
  const T* x = static_cast<const T*>(a.a);
  const T* y = static_cast<const T*>(a.b);
  if (a.paired) {
    cuda::launch(MMPREF_KERNEL(cosine_paired_kernel<T>), cuda::grid_for(a.n, kThreads / 32), kThreads, 0, cuda::op_stream())(
        x, y, a.n, a.e, a.out, a.keep, a.threshold);
    return cuda::check_launch_and_sync("cosine");
  }
  cuda::DeviceScratch norms, sim;
  MMPREF_RETURN_IF_ERROR(norms.alloc(size_t(a.n + a.m) * sizeof(float), "cosine: norms"));
  float* na = norms.get<float>();
  float* nb = na + a.n;
  if (a.n > 0)
    cuda::launch(MMPREF_KERNEL(cosine_norm_kernel<T>), cuda::grid_for(a.n, kThreads / 32), kThreads, 0, cuda::op_stream())(x, a.n, a.e, na);
  if (a.m > 0)
    cuda::launch(MMPREF_KERNEL(cosine_norm_kernel<T>), cuda::grid_for(a.m, kThreads / 32), kThreads, 0, cuda::op_stream())(y, a.m, a.e, nb);
  MMPREF_RETURN_IF_ERROR(cuda::status_from(cudaGetLastError(), "cosine"));
  float* out = a.out;
  if (a.keep) {
    MMPREF_RETURN_IF_ERROR(sim.alloc(size_t(a.n * a.m) * sizeof(float), "cosine: similarities"));
    out = sim.get<float>();
  }
  MMPREF_RETURN_IF_ERROR(cuda::gemm_nt_cuda(x, y, a.n, a.m, a.e, CosineEpilogue{na, nb, out, a.m}, "cosine"));
  if (a.keep) {
    cuda::launch(MMPREF_KERNEL(cosine_filter_kernel), cuda::grid_for(a.n, kThreads), kThreads, 0, cuda::op_stream())(out, a.n, a.m, a.threshold,
                                                                                           a.keep);
    return cuda::check_launch_and_sync("similarityFilter");
  }
  // gemm_nt_cuda returns without a sync when M = 0: the norm kernel on `a` must still be waited for
  return cuda::check_launch_and_sync("cosine");
}

}  // namespace

Status cosine_cuda(const CosineArgs& a) {
  MMPREF_RETURN_IF_ERROR(cuda::set_device(a.device));
  if (a.n == 0) return Status::Ok();
  return MMPREF_CUDA_DISPATCH_FLOAT(a.dtype, T, "cosine", { return launch<T>(a); });
}

}  // namespace mmpref

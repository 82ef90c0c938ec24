// CUDA similarity.meanPoolNormalize: a 256-thread block per row; threads own embedding columns
// (coalesced reads of each token row), sum the masked tokens in token order, then one block
// reduction of the squared norm and the division.
#include "../cpp/ops/mean_pool_normalize.h"
#include "block_reduce.cuh"
#include "common.cuh"

namespace mmpref {
namespace {

constexpr int kThreads = 256;

template <class T>
__global__ void __launch_bounds__(kThreads) mean_pool_kernel(const T* __restrict__ x, MeanPoolArgs a) {
  MMPREF_SHARED(float, red, [kThreads / 32]);
  MMPREF_SHARED(float, norm_s, );
  for (int64_t r = blockIdx.x; r < a.m; r += gridDim.x) {
    float* out = a.out + r * a.e;
    int64_t count = 0;  // every thread counts the same tokens
    for (int64_t t = 0; t < a.t; ++t) count += mask_at(a.mask, a.mask_dtype, r * a.t + t);
    float ss = 0.0f;
    for (int64_t i = threadIdx.x; i < a.e; i += kThreads) {
      float acc = 0.0f;
      for (int64_t t = 0; t < a.t; ++t)
        if (mask_at(a.mask, a.mask_dtype, r * a.t + t)) acc += to_float(x[(r * a.t + t) * a.e + i]);
      const float mean = count ? acc / float(count) : 0.0f;
      out[i] = mean;
      ss = fmaf(mean, mean, ss);
    }
    if (!a.normalize || count == 0) continue;  // block-uniform
    const float total = cuda::block_reduce<kThreads>(ss, [](float x, float y) { return x + y; }, red);
    // NB: not fmaxf, which drops a NaN norm; the CPU's std::max(norm, eps) keeps it (NaN row -> all NaN)
    if (threadIdx.x == 0) {
      const float nrm = sqrtf(total);
      norm_s = nrm < kNormalizeEps ? kNormalizeEps : nrm;
    }
    __syncthreads();
    const float norm = norm_s;
    for (int64_t i = threadIdx.x; i < a.e; i += kThreads) out[i] = out[i] / norm;
    __syncthreads();  // red and norm_s are reused by the next row
  }
}

template <class T>
Status launch(const MeanPoolArgs& a) {
  cuda::launch(MMPREF_KERNEL(mean_pool_kernel<T>), cuda::grid_for(a.m, 1), kThreads, 0, cuda::op_stream())(static_cast<const T*>(a.x), a);
  return cuda::check_launch_and_sync("meanPoolNormalize");
}

}  // namespace

Status mean_pool_normalize_cuda(const MeanPoolArgs& a) {
  MMPREF_RETURN_IF_ERROR(cuda::set_device(a.device));
  if (a.m == 0 || a.e == 0) return Status::Ok();
  return MMPREF_CUDA_DISPATCH_FLOAT(a.dtype, T, "meanPoolNormalize", { return launch<T>(a); });
}

}  // namespace mmpref

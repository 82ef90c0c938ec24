// CUDA sampling.contrastive: a 256-thread block per row: (1) max of the clamped clean logits,
// block-reduced; (2) the elementwise combine + mask (vcd_combine, shared with the CPU, so the bits
// are the same), with 16-byte loads and stores when the row length and the pointers allow.
#include "../cpp/ops/contrastive.h"
#include "block_reduce.cuh"
#include "common.cuh"

namespace mmpref {
namespace {

constexpr int kThreads = 256;

struct MaxOp {
  __device__ __forceinline__ float operator()(float a, float b) const { return a > b ? a : b; }
};

template <class T>
__global__ void __launch_bounds__(kThreads)
    contrastive_kernel(const T* __restrict__ l, const T* __restrict__ ld, const uint8_t* __restrict__ active,
                       float* __restrict__ out, int64_t rows, int64_t cols, float alpha, float log_beta, bool vec) {
  MMPREF_SHARED(float, red, [kThreads / 32]);
  MMPREF_SHARED(float, cutoff_s, );
  constexpr int kVec = 16 / sizeof(T);
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const T* lr = l + r * cols;
    const T* dr = ld + r * cols;
    float* o = out + r * cols;
    if (active && !active[r]) {  // finished row: pass through (block-uniform branch)
      for (int64_t j = threadIdx.x; j < cols; j += kThreads) o[j] = to_float(lr[j]);
      continue;
    }
    // 1. row max (NaN never wins: x > mx is false)
    float mx = -kInf;
    for (int64_t j = threadIdx.x; j < cols; j += kThreads) {
      const float x = vcd_clamp_input(to_float(lr[j]));
      mx = x > mx ? x : mx;
    }
    const float m = cuda::block_reduce<kThreads>(mx, MaxOp(), red);
    if (threadIdx.x == 0) cutoff_s = log_beta + m;
    __syncthreads();
    const float cutoff = cutoff_s;
    // 2. combine + mask
    if (vec) {
      for (int64_t i = threadIdx.x; i < cols / kVec; i += kThreads) {
        const uint4 a = __ldg(reinterpret_cast<const uint4*>(lr) + i);
        const uint4 b = __ldg(reinterpret_cast<const uint4*>(dr) + i);
        const T* ae = reinterpret_cast<const T*>(&a);
        const T* be = reinterpret_cast<const T*>(&b);
        float res[kVec];
#pragma unroll
        for (int k = 0; k < kVec; ++k)
          res[k] = vcd_combine(vcd_clamp_input(to_float(ae[k])), vcd_clamp_input(to_float(be[k])), alpha, cutoff);
#pragma unroll
        for (int k = 0; k < kVec; k += 4)
          reinterpret_cast<float4*>(o)[i * (kVec / 4) + k / 4] = make_float4(res[k], res[k + 1], res[k + 2], res[k + 3]);
      }
    } else {
      for (int64_t j = threadIdx.x; j < cols; j += kThreads)
        o[j] = vcd_combine(vcd_clamp_input(to_float(lr[j])), vcd_clamp_input(to_float(dr[j])), alpha, cutoff);
    }
    __syncthreads();  // red and cutoff_s are reused by the next row
  }
}

template <class T>
Status launch(const ContrastiveArgs& a) {
  constexpr int kVec = 16 / sizeof(T);
  const auto al = [](const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; };
  const bool vec = a.cols % kVec == 0 && al(a.logits) && al(a.distorted) && al(a.out);
  cuda::launch(MMPREF_KERNEL(contrastive_kernel<T>), cuda::grid_for(a.rows, 1), kThreads, 0, cuda::op_stream())(
      static_cast<const T*>(a.logits), static_cast<const T*>(a.distorted), a.row_active, a.out, a.rows, a.cols,
      a.alpha, a.log_beta, vec);
  return cuda::check_launch_and_sync("contrastive");
}

}  // namespace

Status contrastive_cuda(const ContrastiveArgs& a) {
  MMPREF_RETURN_IF_ERROR(cuda::set_device(a.device));
  if (a.rows == 0 || a.cols == 0) return Status::Ok();
  return MMPREF_CUDA_DISPATCH_FLOAT(a.dtype, T, "contrastive", { return launch<T>(a); });
}

}  // namespace mmpref

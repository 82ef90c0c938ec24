// CUDA logSumExp: a warp per row for short rows (C <= 1024), a 256-thread block per row otherwise.
// Each thread keeps an online (max, sum) state over 16-byte vector loads, then states are merged
// with warp shuffles and, for block rows, through shared memory. float32 accumulation throughout.
#include "../cpp/core/math.h"
#include "../cpp/ops/log_sum_exp.h"
#include "common.cuh"

namespace mmpref {
namespace {

__device__ __forceinline__ LseState warp_merge(LseState st) {
#pragma unroll
  for (int off = 16; off > 0; off >>= 1) {
    LseState o{__shfl_xor_sync(0xffffffffu, st.m, off), __shfl_xor_sync(0xffffffffu, st.s, off)};
    st = lse_merge(st, o);
  }
  return st;
}

// Thread `lane` of `nthreads` folds its share of one row: scalar head up to 16-byte alignment,
// 16-byte vectors, scalar tail.
template <class T>
__device__ __forceinline__ LseState row_state(const T* p, int64_t n, int lane, int nthreads) {
  constexpr int kVec = 16 / sizeof(T);
  LseState st = lse_empty();
  const int64_t mis = (reinterpret_cast<uintptr_t>(p) / sizeof(T)) % kVec;
  int64_t head = mis ? kVec - mis : 0;
  if (head > n) head = n;
  for (int64_t i = lane; i < head; i += nthreads) st = lse_push(st, to_float(p[i]));
  const int64_t nvec = (n - head) / kVec;
  const uint4* pv = reinterpret_cast<const uint4*>(p + head);
  for (int64_t i = lane; i < nvec; i += nthreads) {
    const uint4 raw = __ldg(pv + i);
    const T* e = reinterpret_cast<const T*>(&raw);
#pragma unroll
    for (int k = 0; k < kVec; ++k) st = lse_push(st, to_float(e[k]));
  }
  for (int64_t i = head + nvec * kVec + lane; i < n; i += nthreads) st = lse_push(st, to_float(p[i]));
  return st;
}

template <class T>
__global__ void log_sum_exp_warp_kernel(const T* __restrict__ x, float* __restrict__ y, int64_t rows,
                                        int64_t cols) {
  const int lane = threadIdx.x & 31;
  const int64_t warps = int64_t(gridDim.x) * (blockDim.x / 32);
  for (int64_t r = int64_t(blockIdx.x) * (blockDim.x / 32) + threadIdx.x / 32; r < rows; r += warps) {
    LseState st = warp_merge(row_state(x + r * cols, cols, lane, 32));
    if (lane == 0) y[r] = lse_finish(st);
  }
}

template <class T, int BLOCK>
__global__ void log_sum_exp_block_kernel(const T* __restrict__ x, float* __restrict__ y, int64_t rows,
                                         int64_t cols) {
  __shared__ LseState part[BLOCK / 32];
  const int lane = threadIdx.x & 31, warp = threadIdx.x / 32;
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    LseState st = warp_merge(row_state(x + r * cols, cols, threadIdx.x, BLOCK));
    if (lane == 0) part[warp] = st;
    __syncthreads();
    if (warp == 0) {
      st = lane < BLOCK / 32 ? part[lane] : lse_empty();
      st = warp_merge(st);
      if (lane == 0) y[r] = lse_finish(st);
    }
    __syncthreads();
  }
}

template <class T>
Status launch(const LogSumExpArgs& a) {
  const T* x = static_cast<const T*>(a.x);
  if (a.cols <= 1024) {
    constexpr int kBlock = 256;
    const int grid = cuda::grid_for(a.rows, kBlock / 32);
    log_sum_exp_warp_kernel<T><<<grid, kBlock, 0, cuda::op_stream()>>>(x, a.y, a.rows, a.cols);
  } else {
    constexpr int kBlock = 256;
    const int grid = int(a.rows < 65535 * 4 ? a.rows : 65535 * 4);
    log_sum_exp_block_kernel<T, kBlock><<<grid, kBlock, 0, cuda::op_stream()>>>(x, a.y, a.rows, a.cols);
  }
  return cuda::check_launch_and_sync("logSumExp");
}

}  // namespace

Status log_sum_exp_cuda(const LogSumExpArgs& a) {
  MMPREF_RETURN_IF_ERROR(cuda::set_device(a.device));
  if (a.rows == 0) return Status::Ok();
  return MMPREF_CUDA_DISPATCH_FLOAT(a.dtype, T, "logSumExp", { return launch<T>(a); });
}

}  // namespace mmpref

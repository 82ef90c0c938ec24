// Block-wide reduction and exclusive scan for kernels of BLOCK threads (a multiple of 32), in a
// fixed order (so results do not depend on scheduling), every thread receiving the result.
// `buf` is shared memory of BLOCK / 32 elements; each call starts with a barrier, so calls may
// follow each other with the same buffer. Values of any trivially copyable type whose size is a
// multiple of 4 bytes move through warp shuffles word by word.
#pragma once

#include "common.cuh"

namespace mmpref::cuda {

template <class T>
__device__ __forceinline__ T shfl_xor_words(T v, int off) {
  static_assert(sizeof(T) % 4 == 0, "shfl_xor_words: size must be a multiple of 4 bytes");
  unsigned w[sizeof(T) / 4];
  __builtin_memcpy(w, &v, sizeof(T));
#pragma unroll
  for (int k = 0; k < int(sizeof(T) / 4); ++k) w[k] = __shfl_xor_sync(0xffffffffu, w[k], off);
  __builtin_memcpy(&v, w, sizeof(T));
  return v;
}

// op(a, b) must be associative; warps combine in a butterfly, then every thread folds the warp
// partials 0, 1, ... in order.
template <int BLOCK, class T, class Op>
__device__ __forceinline__ T block_reduce(T v, Op op, T* buf) {
  static_assert(BLOCK % 32 == 0, "block_reduce: BLOCK must be a multiple of 32");
#pragma unroll
  for (int off = 16; off > 0; off >>= 1) v = op(v, shfl_xor_words(v, off));
  __syncthreads();  // buf may still be read by the previous call
  if ((threadIdx.x & 31) == 0) buf[threadIdx.x >> 5] = v;
  __syncthreads();
  v = buf[0];
#pragma unroll
  for (int w = 1; w < BLOCK / 32; ++w) v = op(v, buf[w]);
  return v;
}

// Exclusive prefix sum of v over the block in thread order; *total = the block's sum.
template <int BLOCK>
__device__ __forceinline__ unsigned long long block_exclusive_sum(unsigned long long v, unsigned long long* total,
                                                                  unsigned long long* buf) {
  static_assert(BLOCK % 32 == 0, "block_exclusive_sum: BLOCK must be a multiple of 32");
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  unsigned long long incl = v;
#pragma unroll
  for (int off = 1; off < 32; off <<= 1) {
    const unsigned long long o = __shfl_up_sync(0xffffffffu, incl, off);
    if (lane >= off) incl += o;
  }
  __syncthreads();
  if (lane == 31) buf[warp] = incl;
  __syncthreads();
  unsigned long long before = 0, all = 0;
#pragma unroll
  for (int w = 0; w < BLOCK / 32; ++w) {
    if (w < warp) before += buf[w];
    all += buf[w];
  }
  *total = all;
  return before + incl - v;
}

}  // namespace mmpref::cuda

// Device helpers shared by the random / noise kernels: 4-element vector loads and stores of any
// element type, block sums, and stream-ordered scratch memory.
//
// Element i of every random stream lives in Philox block i / 4 (core/normal.h), so kernels walk
// "groups" of 4 consecutive elements (one Philox block). A group is loaded and stored as one
// vector (16 bytes for float32, 8 for float16/bfloat16, 4 for uint8) when the tensor pointer is
// aligned for it and the group lies inside the row being processed; otherwise element by element.
#pragma once

#include <cstdint>
#include <type_traits>

#include "../cpp/core/half.h"
#include "common.cuh"

namespace mmpref::cuda {

template <class T>
struct Vec4Storage;
template <>
struct Vec4Storage<float> {
  using type = float4;
};
template <>
struct Vec4Storage<half_t> {
  using type = uint2;
};
template <>
struct Vec4Storage<bfloat16_t> {
  using type = uint2;
};
template <>
struct Vec4Storage<uint8_t> {
  using type = uchar4;
};

// True when p can be read/written 4 elements at a time at every multiple of 4 elements.
template <class T>
inline bool vec4_aligned(const void* p) {
  return reinterpret_cast<uintptr_t>(p) % (4 * sizeof(T)) == 0;
}

__device__ __forceinline__ float load_as_float(float v) { return v; }
__device__ __forceinline__ float load_as_float(half_t v) { return to_float(v); }
__device__ __forceinline__ float load_as_float(bfloat16_t v) { return to_float(v); }
__device__ __forceinline__ float load_as_float(uint8_t v) { return float(v); }

// Loads elements p[0..3] (p aligned to 4 * sizeof(T)).
template <class T>
__device__ __forceinline__ void load4(const T* p, float v[4]) {
  using V = typename Vec4Storage<T>::type;
  const V raw = *reinterpret_cast<const V*>(p);
  const T* e = reinterpret_cast<const T*>(&raw);
#pragma unroll
  for (int q = 0; q < 4; ++q) v[q] = load_as_float(e[q]);
}

// Stores v[0..3] rounded to T into p[0..3] (p aligned to 4 * sizeof(T)).
template <class T>
__device__ __forceinline__ void store4(T* p, const float v[4]) {
  using V = typename Vec4Storage<T>::type;
  V raw;
  T* e = reinterpret_cast<T*>(&raw);
#pragma unroll
  for (int q = 0; q < 4; ++q) e[q] = from_float<T>(v[q]);
  *reinterpret_cast<V*>(p) = raw;
}

__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

// Sum of v over the block (blockDim.x a multiple of 32, every thread calls it); every thread
// gets the result. `sh` is shared memory of at least 33 floats. Fixed order for a fixed blockDim.
__device__ __forceinline__ float block_sum(float v, float* sh) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nwarps = blockDim.x >> 5;
  v = warp_sum(v);
  __syncthreads();  // earlier readers of sh are done
  if (lane == 0) sh[warp] = v;
  __syncthreads();
  if (warp == 0) {
    float s = lane < nwarps ? sh[lane] : 0.0f;
    s = warp_sum(s);
    if (lane == 0) sh[32] = s;
  }
  __syncthreads();
  return sh[32];
}

// Row helpers for the token-wise kernels (one thread block per row of n elements starting at
// flat element e0). `vec`: e0 and n are multiples of 4 and the pointers are aligned for 4-element
// vectors. x and y may alias (in place): no __restrict__.

// An untouched row: raw copy (never through float, so NaN payloads survive).
template <class T>
__device__ __forceinline__ void copy_row(const T* x, T* y, int64_t e0, int64_t n, bool vec) {
  using V = typename Vec4Storage<T>::type;
  if (vec) {
    for (int64_t g = threadIdx.x; g < n / 4; g += blockDim.x)
      *reinterpret_cast<V*>(y + e0 + 4 * g) = *reinterpret_cast<const V*>(x + e0 + 4 * g);
  } else {
    for (int64_t d = threadIdx.x; d < n; d += blockDim.x) y[e0 + d] = x[e0 + d];
  }
}

// y = x + s g over the row, g = the 4 values gen(k, g) makes for Philox block k (elements 4k..4k+3).
template <class T, class Gen>
__device__ __forceinline__ void add_noise_row(const T* x, T* y, int64_t e0, int64_t n, float s, bool vec,
                                              Gen gen) {
  if (vec) {  // group g of the row is Philox block e0 / 4 + g
    for (int64_t g = threadIdx.x; g < n / 4; g += blockDim.x) {
      const int64_t e = e0 + 4 * g;
      float r[4], v[4];
      gen(uint64_t(e / 4), r);
      load4(x + e, v);
#pragma unroll
      for (int q = 0; q < 4; ++q) v[q] = fmaf(s, r[q], v[q]);
      store4(y + e, v);
    }
  } else {  // the Philox blocks overlapping [e0, e0 + n), element by element
    const int64_t k0 = e0 / 4, k1 = (e0 + n + 3) / 4;
    for (int64_t k = k0 + threadIdx.x; k < k1; k += blockDim.x) {
      float r[4];
      gen(uint64_t(k), r);
      for (int q = 0; q < 4; ++q) {
        const int64_t e = 4 * k + q;
        if (e >= e0 && e < e0 + n) y[e] = from_float<T>(fmaf(s, r[q], to_float(x[e])));
      }
    }
  }
}

// Threads per block for rows of n elements: a warp per 128 elements, 32..256 (a multiple of 32).
inline int row_block_threads(int64_t n) {
  const int64_t want = (n / 4 + 31) / 32 * 32;
  return int(want < 32 ? 32 : want > 256 ? 256 : want);
}

}  // namespace mmpref::cuda

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

// Stream-ordered device scratch memory, freed when it goes out of scope.
template <class T>
class Scratch {
 public:
  Status init(int64_t n) {
    if (n <= 0) return Status::Ok();
    return status_from(cudaMallocAsync(reinterpret_cast<void**>(&ptr_), size_t(n) * sizeof(T), op_stream()),
                       "scratch");
  }
  T* get() const { return ptr_; }
  ~Scratch() {
    if (ptr_) cudaFreeAsync(ptr_, op_stream());
  }

 private:
  T* ptr_ = nullptr;
};

}  // namespace mmpref::cuda

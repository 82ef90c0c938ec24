// MMPREF_HD marks math that must give the same answer in C++ and CUDA (ops/<op>.h, core/*.h).
#pragma once

#if defined(__CUDACC__)
#define MMPREF_HD __host__ __device__ __forceinline__
#define MMPREF_DEVICE_CODE 1
#else
#define MMPREF_HD inline
#endif

#include <cstdint>

namespace mmpref {

MMPREF_HD int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

MMPREF_HD uint32_t float_as_bits(float f) {
#if defined(__CUDA_ARCH__)
  return __float_as_uint(f);
#else
  uint32_t u;
  __builtin_memcpy(&u, &f, 4);
  return u;
#endif
}

MMPREF_HD float bits_as_float(uint32_t u) {
#if defined(__CUDA_ARCH__)
  return __uint_as_float(u);
#else
  float f;
  __builtin_memcpy(&f, &u, 4);
  return f;
#endif
}

}  // namespace mmpref

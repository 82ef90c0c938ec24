// cuda_fp16.h for the emulation build: __half as a host type with exact round-to-nearest-even
// conversions (mmpref's own, native/cpp/core/half.h).
#pragma once
#include "../../cpp/core/half.h"
#include "cuda_runtime.h"
struct __half {
  unsigned short __x;
};
inline float __half2float(__half h) { return ::mmpref::half_bits_to_float(h.__x); }
inline __half __float2half_rn(float f) { return __half{::mmpref::float_to_half_bits(f)}; }
inline __half __float2half(float f) { return __float2half_rn(f); }

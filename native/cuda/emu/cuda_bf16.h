// cuda_bf16.h for the emulation build: __nv_bfloat16 as a host type with exact round-to-nearest-even
// conversions (mmpref's own, native/cpp/core/half.h).
#pragma once
#include "../../cpp/core/half.h"
#include "cuda_runtime.h"
struct __nv_bfloat16 {
  unsigned short __x;
};
inline float __bfloat162float(__nv_bfloat16 h) { return ::mmpref::bf16_bits_to_float(h.__x); }
inline __nv_bfloat16 __float2bfloat16_rn(float f) { return __nv_bfloat16{::mmpref::float_to_bf16_bits(f)}; }
inline __nv_bfloat16 __float2bfloat16(float f) { return __float2bfloat16_rn(f); }

// float16 / bfloat16 storage types and exact conversions, identical on CPU and CUDA.
//
// NB: the conversions are written with selects and integer ops only, so the CPU loops that use
// them auto-vectorise (no libgcc __extendhfsf2 calls) and give the same bits as CUDA's
// __half2float / __float2half_rn / __float2bfloat16_rn (round to nearest even, NaN kept quiet).
#pragma once

#include <cstdint>

#include "hd.h"

namespace mmpref {

struct half_t {
  uint16_t bits;
};
struct bfloat16_t {
  uint16_t bits;
};

// binary16 -> float32, exact (denormals, +-inf and NaN included).
MMPREF_HD float half_bits_to_float(uint16_t h) {
  const uint32_t sign = uint32_t(h & 0x8000u) << 16;
  const uint32_t em = h & 0x7fffu;
  // Reinterpret exponent+mantissa as a float with bias 127 and rescale by 2^(127-15): handles
  // normals and denormals (a float denormal times 2^112 is exact).
  float f = bits_as_float(em << 13) * 5.192296858534828e33f;  // 2^112
  uint32_t r = float_as_bits(f) | (em >= 0x7c00u ? 0x7f800000u : 0u);
  return bits_as_float(r | sign);
}

// float32 -> binary16, round to nearest even; overflow -> inf, NaN -> quiet NaN.
MMPREF_HD uint16_t float_to_half_bits(float x) {
  uint32_t f = float_as_bits(x);
  const uint32_t sign = f & 0x80000000u;
  f ^= sign;
  const uint32_t f32_inf = 255u << 23;
  const uint32_t f16_max = (127u + 16u) << 23;
  const uint32_t denorm_magic = ((127u - 15u) + (23u - 10u) + 1u) << 23;
  // denormal / zero result: let the FPU round by adding a magic number
  const uint32_t den = float_as_bits(bits_as_float(f) + bits_as_float(denorm_magic)) - denorm_magic;
  // normal result: rebias and round to nearest even by hand
  const uint32_t mant_odd = (f >> 13) & 1u;
  const uint32_t nor = (f + (uint32_t(15 - 127) << 23) + 0xfffu + mant_odd) >> 13;
  const uint32_t big = f > f32_inf ? 0x7e00u : 0x7c00u;
  const uint32_t o = f >= f16_max ? big : (f < (113u << 23) ? den : nor);
  return uint16_t(o | (sign >> 16));
}

MMPREF_HD float bf16_bits_to_float(uint16_t b) { return bits_as_float(uint32_t(b) << 16); }

// float32 -> bfloat16, round to nearest even; NaN -> quiet NaN.
MMPREF_HD uint16_t float_to_bf16_bits(float x) {
  const uint32_t u = float_as_bits(x);
  const uint32_t rounded = (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;
  return uint16_t((u & 0x7fffffffu) > 0x7f800000u ? ((u >> 16) | 0x40u) : rounded);
}

// Load any float dtype as float32, store float32 into any float dtype.
MMPREF_HD float to_float(float v) { return v; }
MMPREF_HD float to_float(half_t v) { return half_bits_to_float(v.bits); }
MMPREF_HD float to_float(bfloat16_t v) { return bf16_bits_to_float(v.bits); }

template <class T>
MMPREF_HD T from_float(float f);
template <>
MMPREF_HD float from_float<float>(float f) {
  return f;
}
template <>
MMPREF_HD half_t from_float<half_t>(float f) {
  return half_t{float_to_half_bits(f)};
}
template <>
MMPREF_HD bfloat16_t from_float<bfloat16_t>(float f) {
  return bfloat16_t{float_to_bf16_bits(f)};
}

}  // namespace mmpref

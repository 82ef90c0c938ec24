// Fixed-width float lanes for CPU reductions and dot products, as GCC/Clang vector types: one
// zmm in the AVX-512 clone, two ymm in the AVX2 clone, four xmm in the baseline clone (use only
// inside MMPREF_CPU_CLONES functions; the helpers are always_inline so they take the caller's ISA).
// NB: lanes are independent IEEE operations and every horizontal reduction is one fixed halving
// tree, so every clone computes the same bits. Used where the auto-vectoriser picks the wrong loop
// of a nest (several accumulators, conversions from 16-bit storage).
#pragma once

#include <cstdint>
#include <cstring>

#include "half.h"

namespace mmpref {

constexpr int kLaneWidth = 16;
typedef float lanes_t __attribute__((vector_size(kLaneWidth * sizeof(float))));
typedef float half_lanes_t __attribute__((vector_size(kLaneWidth / 2 * sizeof(float))));
typedef float quarter_lanes_t __attribute__((vector_size(kLaneWidth / 4 * sizeof(float))));
typedef uint32_t ulanes_t __attribute__((vector_size(kLaneWidth * sizeof(uint32_t))));
typedef int32_t ilanes_t __attribute__((vector_size(kLaneWidth * sizeof(int32_t))));
typedef uint16_t u16lanes_t __attribute__((vector_size(kLaneWidth * sizeof(uint16_t))));

#define MMPREF_LANES_INLINE __attribute__((always_inline)) inline

// kLaneWidth consecutive elements as float32 lanes (the exact conversions of half.h).
MMPREF_LANES_INLINE void load_lanes(const float* p, lanes_t* v) { std::memcpy(v, p, sizeof(lanes_t)); }
MMPREF_LANES_INLINE void load_lanes(const bfloat16_t* p, lanes_t* v) {
  u16lanes_t h;
  std::memcpy(&h, p, sizeof(h));
  const ulanes_t u = __builtin_convertvector(h, ulanes_t) << 16;
  std::memcpy(v, &u, sizeof(lanes_t));
}
MMPREF_LANES_INLINE void load_lanes(const half_t* p, lanes_t* v) {
  // half_bits_to_float, lane-wise: rebias exponent+mantissa by a multiply, then inf/NaN and sign
  u16lanes_t h;
  std::memcpy(&h, p, sizeof(h));
  const ulanes_t u = __builtin_convertvector(h, ulanes_t);
  const ulanes_t sign = (u & 0x8000u) << 16;
  const ulanes_t em = u & 0x7fffu;
  const ulanes_t shifted = em << 13;
  lanes_t f;
  std::memcpy(&f, &shifted, sizeof(f));
  f *= 5.192296858534828e33f;  // 2^112
  ulanes_t r;
  std::memcpy(&r, &f, sizeof(r));
  const ilanes_t special = em >= 0x7c00u;  // -1 where inf/NaN
  r |= (ulanes_t)special & 0x7f800000u;
  r |= sign;
  std::memcpy(v, &r, sizeof(lanes_t));
}

// Sum of the lanes as a fixed halving tree: v[i] + v[i + 8], then + 4, + 2, + 1.
MMPREF_LANES_INLINE float lane_sum(lanes_t v) {
  half_lanes_t a, b;
  std::memcpy(&a, &v, sizeof(a));
  std::memcpy(&b, reinterpret_cast<const char*>(&v) + sizeof(a), sizeof(b));
  a += b;
  quarter_lanes_t c, d;
  std::memcpy(&c, &a, sizeof(c));
  std::memcpy(&d, reinterpret_cast<const char*>(&a) + sizeof(c), sizeof(d));
  c += d;
  return (c[0] + c[2]) + (c[1] + c[3]);
}

// Maximum of the lanes (NaN lanes never win: a > b is false for NaN).
MMPREF_LANES_INLINE float lane_max(lanes_t v) {
  float m = v[0];
  for (int j = 1; j < kLaneWidth; ++j) m = v[j] > m ? v[j] : m;
  return m;
}

}  // namespace mmpref

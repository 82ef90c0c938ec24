// Philox words -> uniform and normal floats, identical on CPU and CUDA.
//
// Stream convention (see philox.h): a (seed, offset) pair names a stream of Philox4x32-10 blocks;
// block b = philox4x32_10({b_lo, b_hi, offset_lo, offset_hi}, {seed_lo, seed_hi}) holds words
// 4b..4b+3. Element i of every mmpref random tensor consumes:
//   bits     word i                           (block i/4, word i%4)
//   uniform  word i -> uniform01(w) = (w >> 8) * 2^-24 in [0, 1)
//   pm1      word i -> uniform_pm1(w) = (w >> 8) * 2^-23 - 1 + 2^-24 in (-1, 1), symmetric
//   normal   block i/4: Box-Muller on the word pairs (0, 1) -> elements 4k, 4k+1 and
//            (2, 3) -> elements 4k+2, 4k+3 (the cuRAND curand_normal4 layout):
//              u = (w_a >> 1) * 2^-31 + 2^-32      in [2^-32, 1]  (never 0: safe for log)
//              theta = 2 pi (w_b >> 8) * 2^-24      in [0, 2 pi)
//              z_even = sqrt(-2 ln u) cos(theta),  z_odd = sqrt(-2 ln u) sin(theta)
//            so |z| <= sqrt(64 ln 2) = 6.66.
// Because an element's words depend only on (seed, offset, i), results are the same for any
// thread count, any CUDA launch shape and any split of the work.
//
// NB: the transforms below are written with explicit fmaf, integer bit operations and selects
// only (no libm, no division; sqrtf is correctly rounded on both sides), so the CPU clones
// vectorise and CPU, every SIMD clone and CUDA produce the same float bits. ln and sin/cos are
// ~1 ulp polynomial approximations (Cephes logf; Taylor series of sin/cos(pi/2 f), |f| <= 1/2,
// evaluated on an exactly reduced argument: theta comes from integer turns, never from a
// rounded float angle).
#pragma once

#include <cmath>
#include <cstdint>

#include "hd.h"
#include "philox.h"

// Force inlining on the host too: these run inside MMPREF_CPU_CLONES loops, which only
// vectorise when the whole transform is inlined into them.
#if defined(__CUDACC__)
#define MMPREF_HDI MMPREF_HD
#else
#define MMPREF_HDI inline __attribute__((always_inline))
#endif

namespace mmpref {

// int32 -> float, round to nearest even on both sides.
MMPREF_HDI float i32_to_float(int32_t v) {
#if defined(__CUDA_ARCH__)
  return __int2float_rn(v);
#else
  return float(v);
#endif
}

// Symmetric uniform in (-1, 1): k * 2^-23 - (1 - 2^-24), k = w >> 8. Exact (no rounding), mean 0.
MMPREF_HDI float uniform_pm1(uint32_t w) {
  return fmaf(i32_to_float(int32_t(w >> 8)), 1.1920928955078125e-7f, -0.99999994039535522f);
}

// Natural log of a positive normal float (Cephes logf, ~1 ulp). Only called with u in [2^-32, 1].
// NB: the range reduction selects with integer ops (not `small ? m + m : m`): GCC does not
// if-convert a conditional float add under -ftrapping-math, and the AVX2 clone would not vectorise.
MMPREF_HDI float log_pos(float u) {
  const uint32_t bits = float_as_bits(u);
  const uint32_t mant = bits & 0x007fffffu;
  // u = m 2^e with m in [sqrt(1/2), sqrt(2)): m = 1.mant / 2, doubled when below sqrt(1/2)
  const uint32_t small = mant < 0x3504f3u ? 1u : 0u;  // 0x3504f3: mantissa of sqrt(2)
  const int32_t e = int32_t(bits >> 23) - 126 - int32_t(small);
  const float m = bits_as_float((mant | 0x3f000000u) + (small << 23));
  const float x = m - 1.0f;  // exact; x in [-0.2929, 0.4142)
  const float fe = i32_to_float(e);
  const float z = x * x;
  float p = 7.0376836292e-2f;
  p = fmaf(p, x, -1.1514610310e-1f);
  p = fmaf(p, x, 1.1676998740e-1f);
  p = fmaf(p, x, -1.2420140846e-1f);
  p = fmaf(p, x, 1.4249322787e-1f);
  p = fmaf(p, x, -1.6668057665e-1f);
  p = fmaf(p, x, 2.0000714765e-1f);
  p = fmaf(p, x, -2.4999993993e-1f);
  p = fmaf(p, x, 3.3333331174e-1f);
  float y = (x * z) * p;
  y = fmaf(fe, -2.12194440e-4f, y);
  y = fmaf(-0.5f, z, y);
  float r = x + y;
  r = fmaf(fe, 0.693359375f, r);
  return r;
}

// Box-Muller radius sqrt(-2 ln u) from word w_a (u in [2^-32, 1]).
MMPREF_HDI float bm_radius(uint32_t wa) {
  const float u = fmaf(i32_to_float(int32_t(wa >> 1)), 4.656612873077392578125e-10f,
                       2.3283064365386962890625e-10f);
  return sqrtf(-2.0f * log_pos(u));
}

// (cos, sin) of theta = 2 pi k 2^-24, k = w_b >> 8. 4k 2^-24 = q + f with q = round(.) mod 4 and
// f in [-1/2, 1/2) computed in integers (exact); then cos/sin(pi/2 f) by polynomials and a
// quadrant rotation by selects.
MMPREF_HDI void bm_cos_sin(uint32_t wb, float* c_out, float* s_out) {
  const uint32_t kk = (wb >> 8) + (1u << 21);
  const uint32_t q = (kk >> 22) & 3u;
  const float f = i32_to_float(int32_t(kk & 0x3fffffu) - (1 << 21)) * 2.384185791015625e-7f;  // 2^-22
  const float y = f * f;
  float s = 1.6044118478735975e-4f;
  s = fmaf(s, y, -4.681754135318687e-3f);
  s = fmaf(s, y, 7.969262624616703e-2f);
  s = fmaf(s, y, -6.459640975062462e-1f);
  s = fmaf(s, y, 1.5707963267948966f);
  s = s * f;
  float c = -2.5202042373060596e-5f;
  c = fmaf(c, y, 9.192602748394263e-4f);
  c = fmaf(c, y, -2.0863480763352957e-2f);
  c = fmaf(c, y, 2.53669507901048e-1f);
  c = fmaf(c, y, -1.2337005501361697f);
  c = fmaf(c, y, 1.0f);
  // theta = q pi/2 + pi/2 f: rotate (c, s) by q quarter turns.
  const float cq = (q & 1u) ? s : c;
  const float sq = (q & 1u) ? c : s;
  const bool neg_c = q == 1u || q == 2u;
  const bool neg_s = q >= 2u;
  *c_out = neg_c ? -cq : cq;
  *s_out = neg_s ? -sq : sq;
}

// Two standard normals from a word pair (Box-Muller).
MMPREF_HDI void box_muller(uint32_t wa, uint32_t wb, float* z0, float* z1) {
  const float r = bm_radius(wa);
  float c, s;
  bm_cos_sin(wb, &c, &s);
  *z0 = r * c;
  *z1 = r * s;
}

// The four normals of block `block` of stream (seed, offset): elements 4 block .. 4 block + 3.
MMPREF_HDI void normal4(uint64_t seed, uint64_t offset, uint64_t block, float z[4]) {
  const Philox4 w = philox_block(seed, offset, block);
  box_muller(w.v[0], w.v[1], &z[0], &z[1]);
  box_muller(w.v[2], w.v[3], &z[2], &z[3]);
}

// Word i of stream (seed, offset).
MMPREF_HDI uint32_t philox_word(uint64_t seed, uint64_t offset, uint64_t i) {
  return philox_block(seed, offset, i >> 2).v[i & 3];
}

// Auxiliary draws of an op (e.g. NoiseBoost's per-token keep/skip) come from the same stream
// at blocks 2^63 + j, far from the element blocks (an element stream would need 2^65 elements
// to reach them), so they never reuse an element's words.
constexpr uint64_t kAuxBlockBase = uint64_t(1) << 63;

// Word j of the auxiliary region of stream (seed, offset).
MMPREF_HDI uint32_t philox_aux_word(uint64_t seed, uint64_t offset, uint64_t j) {
  return philox_block(seed, offset, kAuxBlockBase + (j >> 2)).v[j & 3];
}

}  // namespace mmpref

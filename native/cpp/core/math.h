// Elementwise math shared by CPU and CUDA kernels.
//
// exp_approx: Cephes-style expf (range reduction by n*ln2 in two parts, degree-6 polynomial),
// max error ~1 ulp. NB: written with explicit fmaf and selects only, so CPU loops vectorise under
// target_clones and every ISA (and CUDA) produces the same bits; results below FLT_MIN flush to
// +0 (they only ever feed sums), -inf -> 0, +inf -> inf, NaN -> NaN.
#pragma once

#include <cmath>
#include <cstdint>

#include "hd.h"

namespace mmpref {

constexpr float kInf = __builtin_huge_valf();

MMPREF_HD float exp_approx(float x) {
  const float kHi = 88.72283935546875f;   // ln(FLT_MAX)
  const float kLo = -87.3365478515625f;   // ln(FLT_MIN)
  float xc = x > kHi ? kHi : x;
  xc = xc < kLo ? kLo : xc;
  // n = round(x / ln2) by the 1.5*2^23 trick (exact for |n| < 2^22, ties to even).
  const float t = fmaf(xc, 1.44269504088896341f, 12582912.0f);
  const float n = t - 12582912.0f;
  const int32_t ni = int32_t(float_as_bits(t) - 0x4B400000u);
  float r = fmaf(n, -0.693359375f, xc);
  r = fmaf(n, 2.12194440e-4f, r);
  float p = 1.9875691500e-4f;
  p = fmaf(p, r, 1.3981999507e-3f);
  p = fmaf(p, r, 8.3334519073e-3f);
  p = fmaf(p, r, 4.1665795894e-2f);
  p = fmaf(p, r, 1.6666665459e-1f);
  p = fmaf(p, r, 5.0000001201e-1f);
  p = fmaf(p, r * r, r) + 1.0f;
  // 2^n in two factors so n = 128 (x near ln(FLT_MAX)) does not overflow the exponent field.
  const int32_t n1 = ni >> 1;
  const int32_t n2 = ni - n1;
  float y = p * bits_as_float(uint32_t(n1 + 127) << 23) * bits_as_float(uint32_t(n2 + 127) << 23);
  y = x < kLo ? 0.0f : y;
  y = x > kHi ? kInf : y;
  return x != x ? x : y;
}

// exp(x) for x <= 0 (or -inf), not NaN: the softmax/log-sum-exp inner loop, where x = v - max.
// Same polynomial as exp_approx with the overflow and NaN handling dropped (about half the
// instructions); results below FLT_MIN flush to +0.
MMPREF_HD float exp_nonpos(float x) {
  const float kLo = -87.3365478515625f;  // ln(FLT_MIN)
  const float xc = x < kLo ? kLo : x;
  const float t = fmaf(xc, 1.44269504088896341f, 12582912.0f);
  const float n = t - 12582912.0f;
  const int32_t ni = int32_t(float_as_bits(t) - 0x4B400000u);  // in [-126, 0]
  float r = fmaf(n, -0.693359375f, xc);
  r = fmaf(n, 2.12194440e-4f, r);
  float p = 1.9875691500e-4f;
  p = fmaf(p, r, 1.3981999507e-3f);
  p = fmaf(p, r, 8.3334519073e-3f);
  p = fmaf(p, r, 4.1665795894e-2f);
  p = fmaf(p, r, 1.6666665459e-1f);
  p = fmaf(p, r, 5.0000001201e-1f);
  p = fmaf(p, r * r, r) + 1.0f;
  const float y = p * bits_as_float(uint32_t(ni + 127) << 23);
  return x < kLo ? 0.0f : y;
}

// Online log-sum-exp state: value = m + log(s). Merge is associative up to rounding; callers merge
// in a fixed order so results never depend on thread count.
struct LseState {
  float m;  // running max (-inf when empty; NaN once a NaN was seen)
  float s;  // sum of exp(x - m)
};

MMPREF_HD LseState lse_empty() { return LseState{-kInf, 0.0f}; }

MMPREF_HD LseState lse_merge(LseState a, LseState b) {
  // NB: -inf - -inf is NaN, so an empty side contributes nothing explicitly; +inf and NaN maxima
  // are final (lse_finish turns them into +inf / NaN).
  if (a.m != a.m || b.m != b.m) return LseState{a.m != a.m ? a.m : b.m, 0.0f};
  if (b.m == -kInf) return a;
  if (a.m == -kInf) return b;
  if (a.m == kInf || b.m == kInf) return LseState{kInf, 0.0f};
  if (a.m >= b.m) return LseState{a.m, a.s + b.s * exp_nonpos(b.m - a.m)};
  return LseState{b.m, b.s + a.s * exp_nonpos(a.m - b.m)};
}

MMPREF_HD float lse_finish(LseState st) {
  if (st.m != st.m || st.m == kInf || st.m == -kInf) return st.m;
  return st.m + logf(st.s);
}

}  // namespace mmpref

namespace mmpref {

// Adds one element to an online log-sum-exp state (one exp per element). Same special cases as
// lse_merge: -inf entries are ignored, +inf wins, NaN poisons.
MMPREF_HD LseState lse_push(LseState st, float v) {
  if (v != v) return LseState{v, 0.0f};
  if (st.m != st.m || v == -kInf || st.m == kInf) return st;
  if (v > st.m) return LseState{v, (st.m == -kInf ? 0.0f : st.s * exp_nonpos(st.m - v)) + 1.0f};
  return LseState{st.m, st.s + exp_nonpos(v - st.m)};
}

}  // namespace mmpref

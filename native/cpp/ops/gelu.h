// GELU and its gradient (the LLaVA projector's activation; PyTorch F.gelu(x, approximate=...)):
//   exact ('none', LLaVA-1.5):  y = x·Φ(x),  Φ(x) = 0.5·(1 + erf(x/√2)) = 0.5·erfc(−x/√2)
//                               dy/dx = Φ(x) + x·φ(x),  φ(x) = exp(−x²/2)/√(2π)
//   tanh:                       y = 0.5·x·(1 + tanh(z)),  z = √(2/π)·(x + 0.044715·x³)
//                                 = x·σ(2z)   (1 + tanh(z) = 2σ(2z): no cancellation for z < 0)
//                               dy/dx = 0.5(1 + t) + 0.5x(1 − t²)·z'(x) = s + x·s(1 − s)·(2z)',  s = σ(2z)
// Backward: dx = dy·dy/dx. Any dtype is loaded, the math is float32, the result rounded once.
// NB: written with explicit fmaf and no a·b + c left for a compiler to contract, on exp_approx
// (core/math.h) and fixed polynomials, so the CPU clones, the CUDA kernels and the emulator give the
// same bits (no erff/tanhf/expf from a math library, whose bits differ between glibc and CUDA).
// Limits where PyTorch gives NaN: gelu(−inf) = −0, dy/dx(+inf) = 1, dy/dx(−inf) = 0.
#pragma once

#include <cmath>
#include <cstdint>

#include "../core/dtype.h"
#include "../core/hd.h"
#include "../core/math.h"
#include "../core/status.h"

namespace mmpref {

struct GeluArgs {
  const void* x;   // [n]
  const void* dy;  // [n] (backward; nullptr in the forward)
  void* y;         // [n]: gelu(x), or dx in the backward
  DType dtype;
  int64_t n;
  bool tanh;  // approximate = 'tanh'
  int device;
};

// Φ(x), the standard normal CDF, in float32 (max error measured over a sweep of float32 x in
// [−9, 9]: see test/gelu.test.ts; about 2e−7 absolute and a few ulp relative down to 1e−17).
//  1. |u| < 0.921875, u = x/√2: erf(u) = u + u·P(u²), P a degree-6 minimax fit of erf(u)/u − 1;
//     Φ = 0.5 + 0.5·erf(u).
//  2. otherwise erfc(t) = exp(−t² + H(t)), t = |u|, H a degree-10 fit of log(erfcx(t)) on
//     [0.921875, 6] in v = t − 3.5 (erfc(6) = 2.2e−17: beyond it erfc is taken as 0);
//     Φ = 1 − 0.5·erfc(t) for u > 0, 0.5·erfc(t) for u < 0 (the tail keeps its relative accuracy,
//     where 1 + erf would cancel).
MMPREF_HD float gelu_cdf(float x) {
  const float u = x * 0.707106781186547524f;
  const float t = fabsf(u);
  // 1. near 0
  const float s = u * u;
  float p = 8.397802594e-05f;
  p = fmaf(p, s, -8.149807691e-04f);
  p = fmaf(p, s, 5.201716442e-03f);
  p = fmaf(p, s, -2.685970254e-02f);
  p = fmaf(p, s, 1.128370166e-01f);
  p = fmaf(p, s, -3.761263490e-01f);
  p = fmaf(p, s, 1.283791661e-01f);
  const float near0 = fmaf(0.5f, fmaf(u, p, u), 0.5f);
  // 2. tails
  const float tc = t < 6.0f ? t : 6.0f;
  const float v = tc - 3.5f;
  float h = 4.622228822e-09f;
  h = fmaf(h, v, -8.345060110e-08f);
  h = fmaf(h, v, 6.400770189e-07f);
  h = fmaf(h, v, -3.900106549e-06f);
  h = fmaf(h, v, 2.415046220e-05f);
  h = fmaf(h, v, -1.472264266e-04f);
  h = fmaf(h, v, 8.741261554e-04f);
  h = fmaf(h, v, -5.225766450e-03f);
  h = fmaf(h, v, 3.324665129e-02f);
  h = fmaf(h, v, -2.660995424e-01f);
  h = fmaf(h, v, -1.862437367e+00f);
  // NB: every arm is computed before it is selected (GCC if-converts selects of computed values,
  // but does not speculate a floating-point arm under -ftrapping-math: the AVX2 clone stayed scalar)
  const float e0 = exp_approx(fmaf(-tc, tc, h));
  const float ec = t < 6.0f ? e0 : 0.0f;
  const float upper = fmaf(-0.5f, ec, 1.0f), lower = 0.5f * ec;
  const float tail = u > 0.0f ? upper : lower;
  const float r = t < 0.921875f ? near0 : tail;
  return x != x ? x : r;
}

// exact GELU: x·Φ(x) (x clamped below at −20 for the product, where Φ = 0: gelu(−inf) = −0)
MMPREF_HD float gelu_exact(float x) { return (x < -20.0f ? -20.0f : x) * gelu_cdf(x); }

// d gelu_exact / dx = Φ(x) + x·φ(x) (x clamped to ±20 in x·φ(x), which is 0 beyond)
MMPREF_HD float gelu_exact_grad(float x) {
  const float xc = x < -20.0f ? -20.0f : (x > 20.0f ? 20.0f : x);
  const float phi = 0.398942280401432678f * exp_approx(-0.5f * xc * xc);
  return fmaf(xc, phi, gelu_cdf(x));
}

// 2z = x·(2c + 2c·0.044715·x²), c = √(2/π)
MMPREF_HD float gelu_tanh_2z(float x) { return x * fmaf(0.0713548162726008f, x * x, 1.59576912160573071f); }

// tanh GELU: x·σ(2z) = x / (1 + exp(−2z)) (x clamped below at −30, where σ(2z) = 0)
MMPREF_HD float gelu_tanh(float x) {
  const float e = exp_approx(-gelu_tanh_2z(x));
  return (x < -30.0f ? -30.0f : x) / (1.0f + e);
}

// d gelu_tanh / dx = s + x·s(1 − s)·(2z)', s = σ(2z), s(1 − s) = e·s·s with e = exp(−2z)
// (x clamped to ±30, where the second term is 0; e = inf gives s = 0 and the term 0)
MMPREF_HD float gelu_tanh_grad(float x) {
  const float xc = x < -30.0f ? -30.0f : (x > 30.0f ? 30.0f : x);
  const float e = exp_approx(-gelu_tanh_2z(xc));
  const float s = 1.0f / (1.0f + e);
  const float ess = e * s * s;
  const float ss = e < kInf ? ess : 0.0f;
  const float dz = fmaf(0.2140644488178024f, xc * xc, 1.59576912160573071f);
  return x != x ? x : fmaf(xc * ss, dz, s);
}

MMPREF_HD float gelu_fwd(float x, bool tanh) { return tanh ? gelu_tanh(x) : gelu_exact(x); }
MMPREF_HD float gelu_bwd(float dy, float x, bool tanh) { return dy * (tanh ? gelu_tanh_grad(x) : gelu_exact_grad(x)); }

Status gelu_cpu(const GeluArgs& a);
Status gelu_cuda(const GeluArgs& a);
Status gelu_backward_cpu(const GeluArgs& a);
Status gelu_backward_cuda(const GeluArgs& a);
}  // namespace mmpref

/**
 * float64 references for gelu / geluBackward (written from the formulas in native/cpp/ops/gelu.h,
 * never from mmpref): erf by its positive-term series, erfc by its continued fraction in the tail.
 */

/** erfc(t) for t >= 0, relative error ~1e-13: 1 - series below 2.5, Laplace continued fraction above. */
function erfcPos(t: number): number {
  if (t < 2.5) {
    // erf(t) = 2/sqrt(pi) e^{-t^2} sum_n 2^n t^{2n+1} / (1*3*...*(2n+1)): positive terms, no cancellation
    let term = t;
    let sum = t;
    for (let n = 1; n < 200 && term > 1e-18 * sum; n++) {
      term *= (2 * t * t) / (2 * n + 1);
      sum += term;
    }
    return 1 - (2 / Math.sqrt(Math.PI)) * Math.exp(-t * t) * sum;
  }
  // erfc(t) = e^{-t^2}/sqrt(pi) * 1/(t + (1/2)/(t + 1/(t + (3/2)/(t + ...)))), evaluated backward
  let f = t;
  for (let k = 120; k >= 1; k--) f = t + k / 2 / f;
  return Math.exp(-t * t) / Math.sqrt(Math.PI) / f;
}

/** Standard normal CDF Φ(x) = 0.5 erfc(-x/√2), accurate in both tails. */
export function normalCdf(x: number): number {
  const u = x / Math.SQRT2;
  return u < 0 ? 0.5 * erfcPos(-u) : 1 - 0.5 * erfcPos(u);
}

/** Standard normal density φ(x). */
export const normalPdf = (x: number): number => Math.exp(-0.5 * x * x) / Math.sqrt(2 * Math.PI);

const C = Math.sqrt(2 / Math.PI);

// NB: 0.5·(1 + tanh(z)) = 1/(1 + e^{-2z}) and 0.5·(1 - tanh²(z)) = 2·σ(2z)·σ(-2z), evaluated so
// (1 + tanh(z) in float64 cancels to 0 for z < -19, where the float32 op still has digits).
const sig = (v: number): number => 1 / (1 + Math.exp(-v));

/** gelu(x): exact x·Φ(x), or 0.5·x·(1 + tanh(√(2/π)(x + 0.044715x³))). */
export function geluScalar(x: number, tanh: boolean): number {
  if (x === -Infinity) return 0;
  if (!tanh) return x * normalCdf(x);
  return x * sig(2 * C * (x + 0.044715 * x * x * x));
}

/** d gelu / dx: Φ(x) + x·φ(x), or 0.5(1 + t) + 0.5x(1 - t²)·√(2/π)(1 + 3·0.044715x²). */
export function geluGradScalar(x: number, tanh: boolean): number {
  if (!Number.isFinite(x) && !Number.isNaN(x)) return x > 0 ? 1 : 0;
  if (!tanh) return normalCdf(x) + x * normalPdf(x);
  const z2 = 2 * C * (x + 0.044715 * x * x * x);
  return sig(z2) + x * 2 * sig(z2) * sig(-z2) * C * (1 + 3 * 0.044715 * x * x);
}

export function geluRef(x: ArrayLike<number>, tanh: boolean): Float64Array {
  return Float64Array.from({ length: x.length }, (_, i) => geluScalar(x[i]!, tanh));
}

export function geluBackwardRef(dy: ArrayLike<number>, x: ArrayLike<number>, tanh: boolean): Float64Array {
  return Float64Array.from({ length: x.length }, (_, i) => dy[i]! * geluGradScalar(x[i]!, tanh));
}

/** Statistics for the randomness tests: moments, the normal CDF and Kolmogorov-Smirnov. */

export function moments(x: ArrayLike<number>): { n: number; mean: number; variance: number; skew: number; kurtosis: number } {
  const n = x.length;
  let s = 0;
  for (let i = 0; i < n; i++) s += x[i]!;
  const mean = s / n;
  let m2 = 0;
  let m3 = 0;
  let m4 = 0;
  for (let i = 0; i < n; i++) {
    const d = x[i]! - mean;
    m2 += d * d;
    m3 += d * d * d;
    m4 += d * d * d * d;
  }
  const variance = m2 / (n - 1);
  const pv = m2 / n;
  return { n, mean, variance, skew: m3 / n / pv ** 1.5, kurtosis: m4 / n / (pv * pv) - 3 };
}

/** erfc (Numerical Recipes erfcc Chebyshev fit, relative error < 1.2e-7). */
export function erfc(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const r =
    t *
    Math.exp(
      -z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
    );
  return x >= 0 ? r : 2 - r;
}

export const normalCdf = (x: number): number => 0.5 * erfc(-x / Math.SQRT2);

/** Kolmogorov-Smirnov statistic sup |F_n - F| of a sample against a continuous CDF. */
export function ksStatistic(sample: ArrayLike<number>, cdf: (x: number) => number): number {
  const s = Float64Array.from(sample).sort();
  const n = s.length;
  let d = 0;
  for (let i = 0; i < n; i++) {
    const f = cdf(s[i]!);
    d = Math.max(d, (i + 1) / n - f, f - i / n);
  }
  return d;
}

/** Critical value of the KS statistic at level alpha (asymptotic: sqrt(-ln(alpha / 2) / 2) / sqrt(n)). */
export const ksCritical = (n: number, alpha = 1e-3): number => Math.sqrt(-Math.log(alpha / 2) / 2) / Math.sqrt(n);

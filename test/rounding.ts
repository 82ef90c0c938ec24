/**
 * Exact float64 -> float16 / bfloat16 rounding for tests of ops that store a float32 result in a
 * half type once (round to nearest, ties to even). An op whose float32 result y32 is within E of
 * the float64 reference r stores rne(y32), which lies in [rne(r - E), rne(r + E)] because rounding
 * is monotonic: that interval is the whole tolerance, at most 0.5 ulp plus E. Truncation, or a
 * second rounding through another type, lands outside it for about half the elements.
 */
import type { FloatDType } from '../lib';

const FORMAT = {
  float16: { digits: 11, minExp: -14, max: 65504 },
  bfloat16: { digits: 8, minExp: -126, max: 3.3895313892515355e38 },
} as const;

function spacing(v: number, f: (typeof FORMAT)[keyof typeof FORMAT]): number {
  const e = Math.max(Math.floor(Math.log2(Math.abs(v))), f.minExp);
  let ulp = 2 ** (e - f.digits + 1);
  if (Math.abs(v) >= 2 * 2 ** e) ulp *= 2; // log2 rounded down across a power of two
  if (Math.abs(v) < 2 ** e && e > f.minExp) ulp /= 2;
  return ulp;
}

/** Round to nearest even in `dtype` ('float32' rounds through Math.fround). */
export function rne(v: number, dtype: FloatDType): number {
  if (dtype === 'float32') return Math.fround(v);
  if (!Number.isFinite(v) || v === 0) return v;
  const f = FORMAT[dtype];
  const ulp = spacing(v, f);
  const x = v / ulp;
  const lo = Math.floor(x);
  const d = x - lo;
  const n = d > 0.5 ? lo + 1 : d < 0.5 ? lo : lo % 2 === 0 ? lo : lo + 1;
  const r = n * ulp;
  // overflow: values at or above max + ulp/2 round to infinity
  return Math.abs(r) > f.max ? Math.sign(v) * Infinity : r;
}

/** Round toward zero in `dtype`: a known-wrong store, for tests that show the check can fail. */
export function truncate(v: number, dtype: Exclude<FloatDType, 'float32'>): number {
  if (!Number.isFinite(v) || v === 0) return v;
  const ulp = spacing(v, FORMAT[dtype]);
  return Math.trunc(v / ulp) * ulp;
}

/**
 * Counts elements of `got` (values decoded from `dtype`) outside [rne(ref - E), rne(ref + E)],
 * E = err[i]; for float32 outputs the interval is [ref - E, ref + E]. Returns the first few.
 */
export function roundingMisses(got: ArrayLike<number>, ref: ArrayLike<number>, err: ArrayLike<number>, dtype: FloatDType): { count: number; first: string[] } {
  let count = 0;
  const first: string[] = [];
  for (let i = 0; i < ref.length; i++) {
    const r = ref[i]!;
    const e = err[i]!;
    const lo = dtype === 'float32' ? r - e : rne(r - e, dtype);
    const hi = dtype === 'float32' ? r + e : rne(r + e, dtype);
    const g = got[i]!;
    if (!(g >= lo && g <= hi) && !(Number.isNaN(g) && Number.isNaN(r))) {
      count++;
      if (first.length < 5) first.push(`[${i}] got ${g}, reference ${r} allows [${lo}, ${hi}]`);
    }
  }
  return { count, first };
}

/** Throws unless every element is a correctly rounded store of a float32 result within err. */
export function assertRoundedOnce(got: ArrayLike<number>, ref: ArrayLike<number>, err: ArrayLike<number>, dtype: FloatDType, name: string): void {
  const { count, first } = roundingMisses(got, ref, err, dtype);
  if (count) throw new Error(`${name}: ${count}/${ref.length} values are not rne(reference +- E) in ${dtype}\n  ${first.join('\n  ')}`);
}

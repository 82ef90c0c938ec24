/**
 * Attention outputs, CUDA vs CPU: both accumulate in float32 from the same inputs, in different
 * orders, then round once to the dtype. So for every element
 *   |gpu - cpu| <= ulp_dtype(|cpu|) + 4 * 2^-24 * (keys + d) * max|v|
 * the first term one rounding step of the output at its own magnitude (relative to |ref|), the
 * second the float32 accumulation error of a p-weighted mean of `keys` values of size <= max|v|
 * (Σ p_j / l = 1; scores from d-term dots), growing with the reduction length. An all-zero
 * output (typical |out| ~ 0.015 at 4096 keys) exceeds it by far.
 */
import type { FloatDType } from '../../lib';

export function ulpOf(x: number, dtype: FloatDType): number {
  const a = Math.abs(x);
  const [mant, minExp] = dtype === 'float32' ? [23, -126] : dtype === 'float16' ? [10, -14] : [7, -126];
  const e = a > 0 && Number.isFinite(a) ? Math.max(Math.floor(Math.log2(a)), minExp) : minExp;
  return 2 ** (e - mant);
}

/** Throws with the worst element when an element is outside the bound above. */
export function assertAttnClose(got: ArrayLike<number>, ref: ArrayLike<number>, dtype: FloatDType,
                                keys: number, d: number, vmax: number, name: string): void {
  if (got.length !== ref.length) throw new Error(`${name}: length ${got.length} != ${ref.length}`);
  const acc = 4 * 2 ** -24 * (keys + d) * vmax;
  let bad = 0;
  let worst = -1;
  let worstRatio = 0;
  for (let i = 0; i < got.length; i++) {
    const g = got[i]!;
    const r = ref[i]!;
    if (Number.isNaN(r) || Number.isNaN(g)) {
      if (Number.isNaN(r) !== Number.isNaN(g)) { bad++; worst = i; worstRatio = Infinity; }
      continue;
    }
    const tol = ulpOf(r, dtype) + acc;
    const ratio = Math.abs(g - r) / tol;
    if (ratio > 1) {
      bad++;
      if (ratio > worstRatio) { worstRatio = ratio; worst = i; }
    }
  }
  if (bad) throw new Error(`${name}: ${bad}/${got.length} outside ulp(|ref|) + ${acc.toExponential(2)} ` +
    `(worst [${worst}] got ${got[worst]} expected ${ref[worst]}, ${worstRatio.toFixed(1)}x the bound)`);
}

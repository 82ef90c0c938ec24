// The float32 arithmetic's bound for the elementwise decoder ops (rmsNorm, rotary, swiglu, add),
// asserted as such on float32 outputs. A half output is the float32 result rounded once to nearest
// even, so it must be rne(ref +- E) (test/rounding.ts): at most 0.5 ulp plus E, which a truncating
// or double-rounding store fails (test/swiglu.test.ts shows it).
import type { FloatDType, Tensor } from '../lib';
import { assertRoundedOnce } from './rounding';

export const F32_TOL = { rtol: 2e-6, atol: 1e-6 };

/** Checks y (any float dtype) against the float64 reference, E = (atol + rtol |ref|) * widen. */
export function expectRef(y: Tensor, ref: Float64Array, dtype: FloatDType, name: string, widen = 1): void {
  const err = ref.map((r) => widen * (F32_TOL.atol + F32_TOL.rtol * Math.abs(r)));
  assertRoundedOnce(y.toFloat32Array(), ref, err, dtype, name);
}

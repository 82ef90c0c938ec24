import { describe, expect, it } from 'vitest';
import { ops, setNumThreads, numThreads, tensor, zeros, type FloatDType } from '../lib';
import { decodeToFloat32 } from '../lib/dtype';
import { swigluRef } from './reference/swiglu';
import { assertBitEqual, expectError, expectRejection, randomArray, rng } from './helpers';
import { expectRef, F32_TOL } from './half_check';
import { roundingMisses, truncate } from './rounding';
import { rmsNormRef } from './reference/rms_norm';

const DTYPES: FloatDType[] = ['float32', 'float16', 'bfloat16'];

function make(n: number, shape: number[], dtype: FloatDType, seed: number, scale = 1) {
  const t = tensor(Float32Array.from(randomArray(n, rng(seed), scale)), shape, { dtype });
  return { t, held: Float64Array.from(decodeToFloat32(dtype, t.data)) };
}

describe('ops.swiglu', () => {
  for (const dtype of DTYPES)
    it(`swiglu matches the reference (${dtype})`, () => {
      const g = make(1001, [7, 143], dtype, 6, 4);
      const u = make(1001, [7, 143], dtype, 8, 2);
      expectRef(ops.swiglu(g.t, u.t), swigluRef(g.held, u.held), dtype, `${dtype} swiglu`);
    });

  it('async agrees; mismatched shapes are rejected', async () => {
    expect(Array.from((await ops.swigluAsync(tensor([0]), tensor([5]))).data)).toEqual([0]);
    expectError(() => ops.swiglu(zeros([2]), zeros([3])), 'ERR_SHAPE');
  });
});

describe('the half-precision check can fail', () => {
  for (const dtype of ['float16', 'bfloat16'] as const)
    it(`a store that truncates instead of rounding to nearest even fails it (${dtype})`, () => {
      const g = make(1001, [7, 143], dtype, 6, 4);
      const u = make(1001, [7, 143], dtype, 8, 2);
      for (const ref of [swigluRef(g.held, u.held), rmsNormRef(g.held, u.held.subarray(0, 143), 7, 143, 1e-5)]) {
        const err = ref.map((r) => F32_TOL.atol + F32_TOL.rtol * Math.abs(r));
        expect(roundingMisses(ref.map((v) => truncate(v, dtype)), ref, err, dtype).count).toBeGreaterThan(ref.length / 4);
      }
    });
});

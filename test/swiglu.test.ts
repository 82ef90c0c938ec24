import { describe, expect, it } from 'vitest';
import { ops, setNumThreads, numThreads, tensor, zeros, type FloatDType } from '../lib';
import { decodeToFloat32 } from '../lib/dtype';
import { swigluRef } from './reference/swiglu';
import { assertBitEqual, assertClose, expectError, expectRejection, randomArray, rng } from './helpers';

// storage rounding of the output dominates for half types
const TOL: Record<FloatDType, { rtol: number; atol: number }> = {
  float32: { rtol: 2e-6, atol: 1e-6 },
  float16: { rtol: 1e-3, atol: 1e-4 },
  bfloat16: { rtol: 8e-3, atol: 1e-3 },
};
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
      assertClose(ops.swiglu(g.t, u.t).toFloat32Array(), swigluRef(g.held, u.held), TOL[dtype]);
    });

  it('async agrees; mismatched shapes are rejected', async () => {
    expect(Array.from((await ops.swigluAsync(tensor([0]), tensor([5]))).data)).toEqual([0]);
    expectError(() => ops.swiglu(zeros([2]), zeros([3])), 'ERR_SHAPE');
  });
});

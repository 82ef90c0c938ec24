import { describe, expect, it } from 'vitest';
import { ops, setNumThreads, numThreads, tensor, zeros, type FloatDType } from '../lib';
import { decodeToFloat32 } from '../lib/dtype';

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

describe('ops.embedding', () => {
  it('embedding gathers rows and rejects out-of-range tokens without writing', async () => {
    const table = tensor(Float32Array.from({ length: 5 * 3 }, (_, i) => i), [5, 3]);
    const y = ops.embedding(table, tensor([[4, 0], [2, 2]], undefined, { dtype: 'int32' }));
    expect(y.shape).toEqual([2, 2, 3]);
    expect(Array.from(y.data)).toEqual([12, 13, 14, 0, 1, 2, 6, 7, 8, 6, 7, 8]);
    expect(Array.from(ops.embedding(table, tensor([1n])).data)).toEqual([3, 4, 5]);
    const out = zeros([2, 3]);
    expectError(() => ops.embedding(table, tensor([1, 5], undefined, { dtype: 'int32' }), { out }), 'ERR_RANGE', /token 5 at index 1 is outside \[0, 5\)/);
    expect(Array.from(out.data)).toEqual([0, 0, 0, 0, 0, 0]);
    await expectRejection(ops.embeddingAsync(table, tensor([-1], undefined, { dtype: 'int32' })), 'ERR_RANGE');
    expectError(() => ops.embedding(table, tensor([1])), 'ERR_DTYPE', /tokens/);
  });
});

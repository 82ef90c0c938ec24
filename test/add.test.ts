import { describe, expect, it } from 'vitest';
import { ops, setNumThreads, numThreads, tensor, zeros, type FloatDType } from '../lib';
import { decodeToFloat32 } from '../lib/dtype';

import { assertBitEqual, expectError, expectRejection, randomArray, rng } from './helpers';
import { expectRef } from './half_check';

const DTYPES: FloatDType[] = ['float32', 'float16', 'bfloat16'];

function make(n: number, shape: number[], dtype: FloatDType, seed: number, scale = 1) {
  const t = tensor(Float32Array.from(randomArray(n, rng(seed), scale)), shape, { dtype });
  return { t, held: Float64Array.from(decodeToFloat32(dtype, t.data)) };
}

describe('ops.add', () => {
  for (const dtype of DTYPES)
    it(`add matches the reference (${dtype})`, () => {
      const g = make(1001, [7, 143], dtype, 6, 4);
      const u = make(1001, [7, 143], dtype, 8, 2);
      const s = ops.add(g.t, u.t, { alpha: -0.5 });
      expectRef(s, Float64Array.from(g.held, (v, i) => v - 0.5 * u.held[i]!), dtype, `${dtype} add`);
    });

  it('add accumulates in place; async forms agree', async () => {
    const a = tensor([1, 2, 3]);
    const b = tensor([10, 20, 30]);
    ops.add(a, b, { out: a });
    expect(Array.from(a.data)).toEqual([11, 22, 33]);
    expect(Array.from((await ops.addAsync(a, b)).data)).toEqual([21, 42, 63]);
    expectError(() => ops.add(zeros([2]), zeros([2], 'bfloat16')), 'ERR_DTYPE');
  });
});

import { describe, expect, it } from 'vitest';
import { ops, setNumThreads, numThreads, tensor, zeros, type FloatDType } from '../lib';
import { decodeToFloat32 } from '../lib/dtype';
import { rmsNormRef } from './reference/rms_norm';
import { assertBitEqual, expectError, expectRejection, randomArray, rng } from './helpers';
import { expectRef } from './half_check';

const DTYPES: FloatDType[] = ['float32', 'float16', 'bfloat16'];

function make(n: number, shape: number[], dtype: FloatDType, seed: number, scale = 1) {
  const t = tensor(Float32Array.from(randomArray(n, rng(seed), scale)), shape, { dtype });
  return { t, held: Float64Array.from(decodeToFloat32(dtype, t.data)) };
}

describe('ops.rmsNorm', () => {
  for (const dtype of DTYPES)
    it(`matches the reference (${dtype}, odd sizes, float32 or same-dtype weight)`, () => {
      for (const [rows, cols] of [[1, 1], [3, 47], [5, 4096], [2, 33]] as const) {
        const { t, held } = make(rows * cols, [rows, cols], dtype, rows + cols, 3);
        const w = make(cols, [cols], dtype, 7);
        const wf = tensor(decodeToFloat32(dtype, w.t.data), [cols]);
        for (const weight of [w.t, wf]) {
          const y = ops.rmsNorm(t, weight, { eps: 1e-5 });
          expect(y.dtype).toBe(dtype);
          expectRef(y, rmsNormRef(held, w.held, rows, cols, 1e-5), dtype, `${dtype} [${rows}, ${cols}]`);
        }
      }
    });

  it('works in place through out, async is bit-identical, thread count does not matter', async () => {
    const { t } = make(64 * 300, [64, 300], 'float32', 1);
    const w = make(300, [300], 'float32', 2).t;
    const a = ops.rmsNorm(t, w);
    const b = await ops.rmsNormAsync(t, w);
    assertBitEqual(a.data as Float32Array, b.data as Float32Array);
    const before = numThreads();
    setNumThreads(3);
    assertBitEqual(ops.rmsNorm(t, w).data as Float32Array, a.data as Float32Array);
    setNumThreads(before);
    const c = t.clone();
    ops.rmsNorm(c, w, { out: c });
    assertBitEqual(c.data as Float32Array, a.data as Float32Array);
  });

  it('rejects bad input', () => {
    const x = zeros([2, 4]);
    expectError(() => ops.rmsNorm(x, zeros([3])), 'ERR_SHAPE', /expected weight of shape \[4\]/);
    expectError(() => ops.rmsNorm(x, zeros([4], 'bfloat16')), 'ERR_DTYPE', /weight/);
    expectError(() => ops.rmsNorm(x, zeros([4]), { eps: -1 }), 'ERR_RANGE', /eps/);
    expectError(() => ops.rmsNorm(zeros([2], 'int32'), zeros([2])), 'ERR_DTYPE');
  });
});

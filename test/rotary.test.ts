import { describe, expect, it } from 'vitest';
import { ops, setNumThreads, numThreads, tensor, zeros, type FloatDType } from '../lib';
import { decodeToFloat32 } from '../lib/dtype';
import { rotaryRef } from './reference/rotary';
import { assertBitEqual, expectError, expectRejection, randomArray, rng } from './helpers';
import { expectRef } from './half_check';

const DTYPES: FloatDType[] = ['float32', 'float16', 'bfloat16'];

function make(n: number, shape: number[], dtype: FloatDType, seed: number, scale = 1) {
  const t = tensor(Float32Array.from(randomArray(n, rng(seed), scale)), shape, { dtype });
  return { t, held: Float64Array.from(decodeToFloat32(dtype, t.data)) };
}

describe('ops.rotary', () => {
  for (const dtype of DTYPES)
    it(`matches the reference with offsets and explicit positions (${dtype})`, () => {
      const [B, H, T, d] = [2, 3, 5, 8];
      const { t, held } = make(B * H * T * d, [B, H, T, d], dtype, 3, 2);
      const y = ops.rotary(t, { offset: 7, theta: 500000 });
      expectRef(y, rotaryRef(held, B, H, T, d, (_b, tt) => 7 + tt, 500000), dtype, `${dtype} offset`, 4);
      const pos = tensor(Int32Array.from({ length: B * T }, (_, i) => (i * 37) % 1000), [B, T]);
      const z = ops.rotary(t, { positions: pos });
      expectRef(z, rotaryRef(held, B, H, T, d, (b, tt) => ((b * T + tt) * 37) % 1000, 10000), dtype, `${dtype} positions`, 4);
    });

  it('in place equals out of place; position 0 is the identity', () => {
    const { t } = make(2 * 2 * 3 * 16, [2, 2, 3, 16], 'float32', 4);
    const y = ops.rotary(t, { offset: 11 });
    const c = t.clone();
    expect(ops.rotary(c, { offset: 11, inPlace: true })).toBe(c);
    assertBitEqual(c.data as Float32Array, y.data as Float32Array);
    const one = make(16, [1, 1, 1, 16], 'float32', 5).t;
    assertBitEqual(ops.rotary(one).data as Float32Array, one.data as Float32Array);
  });

  it('rejects bad input', () => {
    expectError(() => ops.rotary(zeros([1, 1, 2, 3])), 'ERR_SHAPE', /even head dimension/);
    expectError(() => ops.rotary(zeros([1, 2, 3])), 'ERR_SHAPE');
    expectError(() => ops.rotary(zeros([1, 1, 2, 4]), { positions: zeros([1, 3], 'int32') }), 'ERR_SHAPE', /positions/);
    expectError(() => ops.rotary(zeros([1, 1, 2, 4]), { theta: 0 }), 'ERR_RANGE');
    expectError(() => ops.rotary(zeros([1, 1, 2, 4]), { offset: -1 }), 'ERR_RANGE');
  });
});

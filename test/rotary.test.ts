import { describe, expect, it } from 'vitest';
import { ops, setNumThreads, numThreads, tensor, zeros, type FloatDType } from '../lib';
import { decodeToFloat32 } from '../lib/dtype';
import { rotaryBackwardRef, rotaryRef } from './reference/rotary';
import { finiteDiffGrad, rotaryBackwardBound } from './decoder_backward_bounds';
import { assertRoundedOnce } from './rounding';
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

describe('ops.rotaryBackward', () => {
  for (const dtype of DTYPES)
    it(`is within the float32 bound of the float64 inverse rotation (${dtype}, offset and positions, odd sizes)`, () => {
      for (const [B, H, T, d] of [[1, 1, 1, 2], [2, 3, 5, 38], [1, 2, 7, 128]] as const) {
        const { t, held } = make(B * H * T * d, [B, H, T, d], dtype, 3 + d, 2);
        const off = (_b: number, tt: number) => 7 + tt;
        const dx = ops.rotaryBackward(t, { offset: 7, theta: 500000 });
        expect(dx.dtype).toBe(dtype);
        assertRoundedOnce(dx.toFloat32Array(), rotaryBackwardRef(held, B, H, T, d, off, 500000), rotaryBackwardBound(held, B, H, T, d, off, 500000), dtype, `${dtype} offset`);
        const pos = tensor(Int32Array.from({ length: B * T }, (_, i) => (i * 937) % 4000), [B, T]);
        const at = (b: number, tt: number) => ((b * T + tt) * 937) % 4000;
        const dz = ops.rotaryBackward(t, { positions: pos });
        assertRoundedOnce(dz.toFloat32Array(), rotaryBackwardRef(held, B, H, T, d, at, 10000), rotaryBackwardBound(held, B, H, T, d, at, 10000), dtype, `${dtype} positions`);
      }
    });

  it('agrees with central finite differences of the float64 forward, and undoes the forward', () => {
    const [B, H, T, d] = [2, 1, 3, 6];
    const x = make(B * H * T * d, [B, H, T, d], 'float32', 41);
    const dy = make(B * H * T * d, [B, H, T, d], 'float32', 42);
    const at = (b: number, tt: number) => 3 + 5 * b + tt;
    const pos = tensor(Int32Array.from({ length: B * T }, (_, i) => at(Math.floor(i / T), i % T)), [B, T]);
    const fd = finiteDiffGrad((xs) => rotaryRef(xs, B, H, T, d, at, 10000), x.held, dy.held);
    const fdTol = fd.map((r) => 1e-8 * (1 + Math.abs(r)));
    assertRoundedOnce(rotaryBackwardRef(dy.held, B, H, T, d, at, 10000), fd, fdTol, 'float32', 'reference vs finite differences');
    const bound = rotaryBackwardBound(dy.held, B, H, T, d, at, 10000);
    assertRoundedOnce(ops.rotaryBackward(dy.t, { positions: pos }).data as Float32Array, fd, bound.map((e, i) => e + fdTol[i]!), 'float32', 'op vs finite differences');
    // a rotation's gradient is its inverse: rotaryBackward(rotary(x)) = x within two roundings
    const back = ops.rotaryBackward(ops.rotary(x.t, { positions: pos }), { positions: pos });
    const err = x.held.map((v) => 1e-6 * (1 + Math.abs(v)));
    assertRoundedOnce(back.data as Float32Array, x.held, err, 'float32', 'rotaryBackward(rotary(x))');
  });

  it('works in place (inPlace or out: dy) bit-identically, Async too; dy is left alone otherwise', async () => {
    const { t } = make(2 * 2 * 3 * 16, [2, 2, 3, 16], 'bfloat16', 4);
    const keep = (t.data as Uint16Array).slice();
    const y = ops.rotaryBackward(t, { offset: 11 });
    assertBitEqual(t.data as Uint16Array, keep, 'dy untouched');
    const c = t.clone();
    expect(ops.rotaryBackward(c, { offset: 11, inPlace: true })).toBe(c);
    assertBitEqual(c.data as Uint16Array, y.data as Uint16Array);
    const e = t.clone();
    expect(ops.rotaryBackward(e, { offset: 11, out: e })).toBe(e);
    assertBitEqual(e.data as Uint16Array, y.data as Uint16Array);
    assertBitEqual((await ops.rotaryBackwardAsync(t, { offset: 11 })).data as Uint16Array, y.data as Uint16Array);
  });

  it('rejects bad input', async () => {
    expectError(() => ops.rotaryBackward(zeros([1, 1, 2, 3])), 'ERR_SHAPE', /even head dimension/);
    expectError(() => ops.rotaryBackward(zeros([1, 2, 3])), 'ERR_SHAPE', /dy/);
    expectError(() => ops.rotaryBackward(zeros([1, 1, 2, 4]), { positions: zeros([1, 3], 'int32') }), 'ERR_SHAPE', /positions/);
    expectError(() => ops.rotaryBackward(zeros([1, 1, 2, 4]), { theta: 0 }), 'ERR_RANGE');
    expectError(() => ops.rotaryBackward(zeros([1, 1, 2, 4]), { offset: -1 }), 'ERR_RANGE');
    expectError(() => ops.rotaryBackward(zeros([1, 1, 2, 4]), { out: zeros([1, 1, 2, 4], 'float16') }), 'ERR_DTYPE');
    expectError(() => ops.rotaryBackward(zeros([1, 1, 2, 4]), { out: zeros([1, 1, 2, 4]), inPlace: true }), 'ERR_ARGUMENT');
    expectError(() => ops.rotaryBackward(zeros([1, 1, 2, 4], 'int32') as never), 'ERR_DTYPE');
    await expectRejection(ops.rotaryBackwardAsync(zeros([1, 1, 2, 3])), 'ERR_SHAPE');
  });
});

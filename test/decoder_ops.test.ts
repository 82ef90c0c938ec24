import { describe, expect, it } from 'vitest';
import { ops, setNumThreads, numThreads, tensor, zeros, type FloatDType, type Tensor } from '../lib';
import { decodeToFloat32 } from '../lib/dtype';
import { rmsNormRef, rotaryRef, swigluRef } from './reference/decoder_ops';
import { assertBitEqual, expectError, expectRejection, randomArray, rng } from './helpers';
import { assertRoundedOnce, roundingMisses, truncate } from './rounding';

// The float32 arithmetic's bound (asserted as such on float32 inputs). A half output is the float32
// result rounded once to nearest even, so it must be rne(ref +- E) (test/rounding.ts): at most
// 0.5 ulp plus E, which a truncating or double-rounding store fails.
const F32_TOL = { rtol: 2e-6, atol: 1e-6 };

/** Checks y (any float dtype) against the float64 reference, E = (atol + rtol |ref|) * widen. */
function expectRef(y: Tensor, ref: Float64Array, dtype: FloatDType, name: string, widen = 1): void {
  const err = ref.map((r) => widen * (F32_TOL.atol + F32_TOL.rtol * Math.abs(r)));
  assertRoundedOnce(y.toFloat32Array(), ref, err, dtype, name);
}
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

describe('ops.swiglu, ops.add, ops.embedding', () => {
  for (const dtype of DTYPES)
    it(`swiglu and add match the reference (${dtype})`, () => {
      const g = make(1001, [7, 143], dtype, 6, 4);
      const u = make(1001, [7, 143], dtype, 8, 2);
      expectRef(ops.swiglu(g.t, u.t), swigluRef(g.held, u.held), dtype, `${dtype} swiglu`);
      const s = ops.add(g.t, u.t, { alpha: -0.5 });
      expectRef(s, Float64Array.from(g.held, (v, i) => v - 0.5 * u.held[i]!), dtype, `${dtype} add`);
    });

  it('add accumulates in place; async forms agree', async () => {
    const a = tensor([1, 2, 3]);
    const b = tensor([10, 20, 30]);
    ops.add(a, b, { out: a });
    expect(Array.from(a.data)).toEqual([11, 22, 33]);
    expect(Array.from((await ops.addAsync(a, b)).data)).toEqual([21, 42, 63]);
    expect(Array.from((await ops.swigluAsync(tensor([0]), tensor([5]))).data)).toEqual([0]);
  });

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
    expectError(() => ops.swiglu(zeros([2]), zeros([3])), 'ERR_SHAPE');
    expectError(() => ops.add(zeros([2]), zeros([2], 'bfloat16')), 'ERR_DTYPE');
  });
});

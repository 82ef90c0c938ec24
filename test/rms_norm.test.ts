import { describe, expect, it } from 'vitest';
import { ops, setNumThreads, numThreads, tensor, zeros, type FloatDType } from '../lib';
import { decodeToFloat32 } from '../lib/dtype';
import { rmsNormBackwardRef, rmsNormRef } from './reference/rms_norm';
import { finiteDiffGrad, rmsNormBackwardBound } from './decoder_backward_bounds';
import { assertRoundedOnce } from './rounding';
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

describe('ops.rmsNormBackward', () => {
  const EPS = 1e-5;
  // D = 1, 7, 47, 33, 4099: tails of every SIMD width; rows 1 to 300 (several dw blocks of 32 rows)
  const SHAPES = [[1, 1], [1, 7], [3, 47], [300, 33], [2, 4099]] as const;
  for (const dtype of DTYPES)
    it(`dx and dWeight are within the float32 bound of the float64 reference (${dtype}, float32 or same-dtype weight)`, () => {
      for (const [rows, cols] of SHAPES) {
        const x = make(rows * cols, [rows, cols], dtype, rows + cols, 3);
        const dy = make(rows * cols, [rows, cols], dtype, 2 * rows + cols, 2);
        const w = make(cols, [cols], dtype, 7);
        const wf = tensor(decodeToFloat32(dtype, w.t.data), [cols]);
        const ref = rmsNormBackwardRef(dy.held, x.held, w.held, rows, cols, EPS);
        const err = rmsNormBackwardBound(dy.held, x.held, w.held, rows, cols, EPS);
        for (const weight of [w.t, wf]) {
          const g = ops.rmsNormBackward(dy.t, x.t, weight, { eps: EPS });
          expect(g.dx.dtype).toBe(dtype);
          expect(g.dWeight.dtype).toBe('float32');
          assertRoundedOnce(g.dx.toFloat32Array(), ref.dx, err.dx, dtype, `dx ${dtype} [${rows}, ${cols}]`);
          assertRoundedOnce(g.dWeight.data as Float32Array, ref.dw, err.dw, 'float32', `dWeight ${dtype} [${rows}, ${cols}]`);
        }
      }
    });

  it('the reference and the op agree with central finite differences of the float64 forward', () => {
    for (const [rows, cols] of [[1, 5], [3, 17], [2, 1]] as const) {
      const x = make(rows * cols, [rows, cols], 'float32', 11 + cols, 2);
      const dy = make(rows * cols, [rows, cols], 'float32', 12 + cols);
      const w = make(cols, [cols], 'float32', 13 + cols);
      const ref = rmsNormBackwardRef(dy.held, x.held, w.held, rows, cols, EPS);
      const fdx = finiteDiffGrad((xs) => rmsNormRef(xs, w.held, rows, cols, EPS), x.held, dy.held);
      const fdw = finiteDiffGrad((ws) => rmsNormRef(x.held, ws, rows, cols, EPS), w.held, dy.held);
      const err = rmsNormBackwardBound(dy.held, x.held, w.held, rows, cols, EPS);
      // the finite differences' own error (third-derivative term and cancellation at h = 1e-5) is below 1e-8 here
      const fdTol = (v: Float64Array) => v.map((r) => 1e-8 * (1 + Math.abs(r)));
      assertRoundedOnce(ref.dx, fdx, fdTol(fdx), 'float32', 'reference dx vs finite differences');
      assertRoundedOnce(ref.dw, fdw, fdTol(fdw), 'float32', 'reference dw vs finite differences');
      const g = ops.rmsNormBackward(dy.t, x.t, w.t, { eps: EPS });
      assertRoundedOnce(g.dx.data as Float32Array, fdx, err.dx.map((e, i) => e + fdTol(fdx)[i]!), 'float32', 'dx vs finite differences');
      assertRoundedOnce(g.dWeight.data as Float32Array, fdw, err.dw.map((e, i) => e + fdTol(fdw)[i]!), 'float32', 'dWeight vs finite differences');
    }
  });

  it('dWeight has the same bits at any thread count; Async is bit-identical; accumulate adds', async () => {
    const [rows, cols] = [2000, 37];
    const x = make(rows * cols, [rows, cols], 'bfloat16', 21, 2);
    const dy = make(rows * cols, [rows, cols], 'bfloat16', 22);
    const w = make(cols, [cols], 'float32', 23);
    const before = numThreads();
    const runs = [1, 2, 3, 5].map((n) => {
      setNumThreads(n);
      return ops.rmsNormBackward(dy.t, x.t, w.t);
    });
    setNumThreads(before);
    for (const r of runs.slice(1)) {
      assertBitEqual(r.dWeight.data as Float32Array, runs[0]!.dWeight.data as Float32Array, 'dWeight');
      assertBitEqual(r.dx.data as Uint16Array, runs[0]!.dx.data as Uint16Array, 'dx');
    }
    const a = await ops.rmsNormBackwardAsync(dy.t, x.t, w.t);
    assertBitEqual(a.dWeight.data as Float32Array, runs[0]!.dWeight.data as Float32Array, 'async dWeight');
    assertBitEqual(a.dx.data as Uint16Array, runs[0]!.dx.data as Uint16Array, 'async dx');
    // accumulate: two micro-batches into one buffer = the float64 sum of both within the bound
    const init = Float32Array.from(randomArray(cols, rng(24)));
    const acc = tensor(init.slice(), [cols]);
    const half = rows / 2;
    const x1 = make(half * cols, [half, cols], 'float32', 25);
    const x2 = make(half * cols, [half, cols], 'float32', 26);
    const g1 = make(half * cols, [half, cols], 'float32', 27);
    const g2 = make(half * cols, [half, cols], 'float32', 28);
    const r1 = ops.rmsNormBackward(g1.t, x1.t, w.t, { dWeightOut: acc, accumulate: true });
    expect(r1.dWeight).toBe(acc);
    await ops.rmsNormBackwardAsync(g2.t, x2.t, w.t, { dWeightOut: acc, accumulate: true });
    const ref1 = rmsNormBackwardRef(g1.held, x1.held, w.held, half, cols, 1e-6).dw;
    const ref2 = rmsNormBackwardRef(g2.held, x2.held, w.held, half, cols, 1e-6).dw;
    const b1 = rmsNormBackwardBound(g1.held, x1.held, w.held, half, cols, 1e-6, init).dw;
    const b2 = rmsNormBackwardBound(g2.held, x2.held, w.held, half, cols, 1e-6, ref1.map((v, j) => v + init[j]!)).dw;
    assertRoundedOnce(acc.data as Float32Array, ref1.map((v, j) => v + ref2[j]! + init[j]!), b1.map((e, j) => e + b2[j]!), 'float32', 'accumulated dWeight');
    // without accumulate a given dWeightOut is overwritten
    ops.rmsNormBackward(g1.t, x1.t, w.t, { dWeightOut: acc });
    assertBitEqual(acc.data as Float32Array, ops.rmsNormBackward(g1.t, x1.t, w.t).dWeight.data as Float32Array);
  });

  it('works in place on dy (out: dy), leaves its inputs alone, and rejects any other overlap', () => {
    const x = make(5 * 64, [5, 64], 'float16', 31, 2);
    const dy = make(5 * 64, [5, 64], 'float16', 32);
    const w = make(64, [64], 'float16', 33);
    const xs = (x.t.data as Uint16Array).slice();
    const ref = ops.rmsNormBackward(dy.t, x.t, w.t);
    assertBitEqual(x.t.data as Uint16Array, xs, 'x untouched');
    const c = dy.t.clone();
    expect(ops.rmsNormBackward(c, x.t, w.t, { out: c }).dx).toBe(c);
    assertBitEqual(c.data as Uint16Array, ref.dx.data as Uint16Array);
    expectError(() => ops.rmsNormBackward(dy.t, x.t, w.t, { out: x.t }), 'ERR_ARGUMENT');
  });

  it('rejects bad input with typed errors', async () => {
    const x = zeros([2, 4]);
    expectError(() => ops.rmsNormBackward(zeros([2, 3]), x, zeros([4])), 'ERR_SHAPE', /expected dy of shape \[2, 4\]/);
    expectError(() => ops.rmsNormBackward(zeros([2, 4]), x, zeros([3])), 'ERR_SHAPE', /weight/);
    expectError(() => ops.rmsNormBackward(zeros([2, 4], 'float16'), x, zeros([4])), 'ERR_DTYPE', /dy/);
    expectError(() => ops.rmsNormBackward(zeros([2, 4]), x, zeros([4], 'bfloat16')), 'ERR_DTYPE', /weight/);
    expectError(() => ops.rmsNormBackward(zeros([2, 4]), x, zeros([4]), { eps: -1 }), 'ERR_RANGE', /eps/);
    expectError(() => ops.rmsNormBackward(zeros([2, 4]), x, zeros([4]), { accumulate: true }), 'ERR_ARGUMENT', /dWeightOut/);
    expectError(() => ops.rmsNormBackward(zeros([2, 4]), x, zeros([4]), { dWeightOut: zeros([4], 'float16') as never }), 'ERR_DTYPE', /dWeightOut/);
    expectError(() => ops.rmsNormBackward(zeros([2, 4]), x, zeros([4]), { dWeightOut: zeros([5]) }), 'ERR_SHAPE', /dWeightOut/);
    expectError(() => ops.rmsNormBackward(zeros([2, 4]), x, zeros([4]), { out: zeros([2, 4], 'float16') }), 'ERR_DTYPE');
    expectError(() => ops.rmsNormBackward(zeros([2, 4]), x, zeros([4]), { bogus: 1 } as never), 'ERR_ARGUMENT');
    await expectRejection(ops.rmsNormBackwardAsync(zeros([2, 3]), x, zeros([4])), 'ERR_SHAPE');
  });
});

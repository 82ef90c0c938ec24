import { describe, expect, it } from 'vitest';
import { ops, setNumThreads, numThreads, tensor, zeros, type FloatDType } from '../lib';
import { decodeToFloat32 } from '../lib/dtype';
import { swigluBackwardRef, swigluRef } from './reference/swiglu';
import { finiteDiffGrad, swigluBackwardBound } from './decoder_backward_bounds';
import { assertRoundedOnce } from './rounding';
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

describe('ops.swigluBackward', () => {
  for (const dtype of DTYPES)
    it(`dGate and dUp are within the float32 bound of the float64 reference (${dtype}, odd sizes, saturated gates)`, () => {
      for (const n of [1, 7, 1001, 16411]) {
        const g = make(n, [n], dtype, 6 + n, 4);
        const u = make(n, [n], dtype, 8 + n, 2);
        const dy = make(n, [n], dtype, 9 + n);
        // saturated gates: s = 0 (exp overflows), s = 1, and values near the switch points
        if (n === 1001) for (const [i, v] of [[0, -100], [1, 100], [2, -88], [3, 30], [4, -20], [5, 0]] as const) (g.t.data as Float32Array | Uint16Array)[i] = tensor([v], [1], { dtype }).data[0]!;
        const gh = Float64Array.from(decodeToFloat32(dtype, g.t.data));
        const ref = swigluBackwardRef(dy.held, gh, u.held);
        const err = swigluBackwardBound(dy.held, gh, u.held);
        const r = ops.swigluBackward(dy.t, g.t, u.t);
        expect(r.dGate.dtype).toBe(dtype);
        assertRoundedOnce(r.dGate.toFloat32Array(), ref.dg, err.dg, dtype, `dGate ${dtype} [${n}]`);
        assertRoundedOnce(r.dUp.toFloat32Array(), ref.du, err.du, dtype, `dUp ${dtype} [${n}]`);
      }
    });

  it('agrees with central finite differences of the float64 forward', () => {
    const n = 13;
    const g = make(n, [n], 'float32', 51, 4);
    const u = make(n, [n], 'float32', 52, 2);
    const dy = make(n, [n], 'float32', 53);
    const fdg = finiteDiffGrad((gs) => swigluRef(gs, u.held), g.held, dy.held);
    const fdu = finiteDiffGrad((us) => swigluRef(g.held, us), u.held, dy.held);
    const tol = (v: Float64Array) => v.map((r) => 1e-8 * (1 + Math.abs(r)));
    const ref = swigluBackwardRef(dy.held, g.held, u.held);
    assertRoundedOnce(ref.dg, fdg, tol(fdg), 'float32', 'reference dGate vs finite differences');
    assertRoundedOnce(ref.du, fdu, tol(fdu), 'float32', 'reference dUp vs finite differences');
    const err = swigluBackwardBound(dy.held, g.held, u.held);
    const r = ops.swigluBackward(dy.t, g.t, u.t);
    assertRoundedOnce(r.dGate.data as Float32Array, fdg, err.dg.map((e, i) => e + tol(fdg)[i]!), 'float32', 'dGate vs finite differences');
    assertRoundedOnce(r.dUp.data as Float32Array, fdu, err.du.map((e, i) => e + tol(fdu)[i]!), 'float32', 'dUp vs finite differences');
  });

  it('works in place (dGate into gate or dy, dUp into up), Async and any thread count give the same bits', async () => {
    const n = 40000;
    const g = make(n, [n], 'float16', 61, 4);
    const u = make(n, [n], 'float16', 62, 2);
    const dy = make(n, [n], 'float16', 63);
    const ref = ops.swigluBackward(dy.t, g.t, u.t);
    const before = numThreads();
    setNumThreads(3);
    const three = ops.swigluBackward(dy.t, g.t, u.t);
    setNumThreads(before);
    assertBitEqual(three.dGate.data as Uint16Array, ref.dGate.data as Uint16Array);
    const a = await ops.swigluBackwardAsync(dy.t, g.t, u.t);
    assertBitEqual(a.dGate.data as Uint16Array, ref.dGate.data as Uint16Array);
    assertBitEqual(a.dUp.data as Uint16Array, ref.dUp.data as Uint16Array);
    const gc = g.t.clone();
    const uc = u.t.clone();
    const r = ops.swigluBackward(dy.t, gc, uc, { dGateOut: gc, dUpOut: uc });
    expect(r.dGate).toBe(gc);
    expect(r.dUp).toBe(uc);
    assertBitEqual(gc.data as Uint16Array, ref.dGate.data as Uint16Array);
    assertBitEqual(uc.data as Uint16Array, ref.dUp.data as Uint16Array);
    const dc = dy.t.clone();
    ops.swigluBackward(dc, g.t, u.t, { dGateOut: dc });
    assertBitEqual(dc.data as Uint16Array, ref.dGate.data as Uint16Array);
    expectError(() => ops.swigluBackward(dy.t, g.t, u.t, { dGateOut: u.t }), 'ERR_ARGUMENT');
    expectError(() => ops.swigluBackward(dy.t, g.t, u.t, { dUpOut: g.t }), 'ERR_ARGUMENT');
    const o = g.t.clone();
    expectError(() => ops.swigluBackward(dy.t, g.t, u.t, { dGateOut: o, dUpOut: o }), 'ERR_ARGUMENT');
  });

  it('rejects bad input', async () => {
    expectError(() => ops.swigluBackward(zeros([2]), zeros([2]), zeros([3])), 'ERR_SHAPE', /up/);
    expectError(() => ops.swigluBackward(zeros([3]), zeros([2]), zeros([2])), 'ERR_SHAPE', /dy/);
    expectError(() => ops.swigluBackward(zeros([2], 'float16'), zeros([2]), zeros([2])), 'ERR_DTYPE', /dy/);
    expectError(() => ops.swigluBackward(zeros([2]), zeros([2], 'int32') as never, zeros([2])), 'ERR_DTYPE', /gate/);
    expectError(() => ops.swigluBackward(zeros([2]), zeros([2]), zeros([2]), { dUpOut: zeros([3]) }), 'ERR_SHAPE', /dUpOut/);
    expectError(() => ops.swigluBackward(zeros([2]), zeros([2]), zeros([2]), { dGateOut: zeros([2], 'bfloat16') }), 'ERR_DTYPE', /dGateOut/);
    expectError(() => ops.swigluBackward(zeros([2]), zeros([2]), zeros([2]), { out: zeros([2]) } as never), 'ERR_ARGUMENT');
    await expectRejection(ops.swigluBackwardAsync(zeros([2]), zeros([2]), zeros([3])), 'ERR_SHAPE');
  });
});

import { describe, expect, it } from 'vitest';
import { ops, tensor, zeros, type FloatDType, type Tensor } from '../lib';
import { decodeToFloat32 } from '../lib/dtype';
import { geluBackwardRef, geluGradScalar, geluRef, geluScalar, normalCdf, normalPdf } from './reference/gelu';
import { assertBitEqual, expectError, expectRejection, randomArray, rng } from './helpers';
import { assertRoundedOnce, roundingMisses } from './rounding';

const DTYPES: FloatDType[] = ['float32', 'float16', 'bfloat16'];
const MODES = ['none', 'tanh'] as const;
const U = 2 ** -24; // float32 unit roundoff

// ---- error bounds of the float32 math (native/cpp/ops/gelu.h), per element --------------------
// Φ: measured over every 97th float32 in [-9.5, 9.5] against erfc in float64 (a one-off C++ sweep
// of gelu_cdf, 2026-12-07): max absolute error 6.25e-8 (bound 1e-7); for x < 0 the relative error
// grows with the rounding of t² = x²/2 inside exp (x² u from the rounded x/√2, x²/4 u from the
// rounded argument) plus ~6u for the polynomial, exp_approx and the final product: measured
// 5.97e-6 at x = -8.32, bound (2x² + 16)u = 9.2e-6 there. Below x = -8.485 (erfc(6)) Φ is 0.
function cdfErr(x: number): number {
  const p = normalCdf(x);
  if (x < -8.48) return p;
  return x < 0 ? Math.min(1e-7, (2 * x * x + 16) * U * p) : 1e-7;
}
// exact: y = x·Φ rounded once: |x| ΔΦ + u|y|
const exactErr = (x: number) => Math.abs(x) * cdfErr(x) + U * Math.abs(geluScalar(x, false));
// exact gradient: ΔΦ + |xφ|((x²/2 + 4)u: the rounded x², exp_approx, the constant) + u|g| (the fma)
// (+ 2^-126: exp_approx flushes results below FLT_MIN to 0)
const exactGradErr = (x: number) => 2 ** -126 + cdfErr(x) + Math.abs(x * normalPdf(x)) * (x * x + 5) * U + U * Math.abs(geluGradScalar(x, false));
// tanh: y = x/(1 + e), e = exp(-2z): 2z carries 3 roundings, exp_approx 2u, so Δe/e <= (3|2z| + 2)u,
// which reaches y through (1 - s) = e/(1 + e); 1 + e and the division 2u; the reference 1u
function tanhParts(x: number) {
  const z2 = 2 * Math.sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x);
  const s = 1 / (1 + Math.exp(-z2));
  return { z2: Math.abs(z2), s, q: 1 - s };
}
function tanhErr(x: number): number {
  const { z2, q } = tanhParts(x);
  const y = Math.abs(geluScalar(x, true));
  return 2 ** -149 + 3 * U * y + y * q * (3 * z2 + 2) * U;
}
// tanh gradient: g = s + x·e·s·s·(2z)': Δs <= s·q(3|2z| + 2)u + 2u s; the second term's relative
// error 3 Δe/e + 10u (e, two s, the products, (2z)'); the final fma u|g|
function tanhGradErr(x: number): number {
  const { z2, s, q } = tanhParts(x);
  const de = (3 * z2 + 2) * U;
  const term = Math.abs(x * s * q * 2 * Math.sqrt(2 / Math.PI) * (1 + 3 * 0.044715 * x * x));
  return 2 ** -126 + s * q * de + 2 * U * s + term * (3 * de + 10 * U) + U * Math.abs(geluGradScalar(x, true));
}

function make(n: number, shape: number[], dtype: FloatDType, seed: number, scale: number, extra: number[] = []) {
  const v = randomArray(n, rng(seed), scale);
  v.set(extra.slice(0, n));
  const t = tensor(Float32Array.from(v), shape, { dtype });
  return { t, held: Float64Array.from(decodeToFloat32(dtype, t.data)) };
}

// edge inputs: 0, tails, the Φ branch points (|x/√2| = 0.921875, 6), large |x|
const EDGES = [0, -0, 1e-30, -1e-30, 1.3037, -1.3037, 1.3038, -1.3038, -5, -8.4, -8.49, -9, -12, 9, 12, 30, -30, -40, 100, -100, 3.5, -3.5];

function checkForward(y: Tensor, x: Float64Array, tanh: boolean, dtype: FloatDType, name: string) {
  const ref = geluRef(x, tanh);
  const err = Float64Array.from(x, (v) => (tanh ? tanhErr(v) : exactErr(v)));
  assertRoundedOnce(y.toFloat32Array(), ref, err, dtype, name);
}

function checkBackward(dx: Tensor, dy: Float64Array, x: Float64Array, tanh: boolean, dtype: FloatDType, name: string) {
  const ref = geluBackwardRef(dy, x, tanh);
  const err = Float64Array.from(x, (v, i) => Math.abs(dy[i]!) * (tanh ? tanhGradErr(v) : exactGradErr(v)) + U * Math.abs(ref[i]!));
  assertRoundedOnce(dx.toFloat32Array(), ref, err, dtype, name);
}

describe('ops.gelu', () => {
  for (const approximate of MODES)
    for (const dtype of DTYPES)
      it(`gelu matches the float64 reference within the derived bound (${approximate}, ${dtype})`, () => {
        const x = make(1001, [7, 143], dtype, 3, 3, EDGES);
        checkForward(ops.gelu(x.t, { approximate }), x.held, approximate === 'tanh', dtype, `${dtype} gelu ${approximate}`);
      });

  it('gelu defaults to exact; specials: -inf -> -0, +inf, NaN', () => {
    const x = tensor([-Infinity, Infinity, NaN, 0, 1]);
    for (const approximate of [undefined, 'none', 'tanh'] as const) {
      const y = Array.from(ops.gelu(x, approximate ? { approximate } : undefined).data);
      expect(Object.is(y[0], -0)).toBe(true);
      expect(y[1]).toBe(Infinity);
      expect(y[2]).toBeNaN();
      expect(y[3]).toBe(0);
    }
    expect(ops.gelu(tensor([1])).data[0]).toBeCloseTo(0.8413447460685429, 6);
    expect(ops.gelu(tensor([1]), { approximate: 'tanh' }).data[0]).toBeCloseTo(0.8411919906082768, 6);
  });

  it('in place, Async bit-identical, errors typed', async () => {
    const x = make(300, [300], 'float32', 5, 2);
    const y = ops.gelu(x.t);
    assertBitEqual((await ops.geluAsync(x.t)).data as Float32Array, y.data as Float32Array, 'async');
    const c = tensor(Float32Array.from(x.t.data as Float32Array));
    ops.gelu(c, { out: c });
    assertBitEqual(c.data as Float32Array, y.data as Float32Array, 'in place');
    expectError(() => ops.gelu(x.t, { approximate: 'erf' as never }), 'ERR_ARGUMENT', /approximate/);
    expectError(() => ops.gelu(tensor([1], undefined, { dtype: 'int32' })), 'ERR_DTYPE', /x/);
    expectError(() => ops.gelu(x.t, { out: zeros([299]) }), 'ERR_SHAPE', /out/);
    await expectRejection(ops.geluAsync(x.t, { out: zeros([300], 'float16') }), 'ERR_DTYPE');
  });
});

describe('ops.geluBackward', () => {
  for (const approximate of MODES)
    for (const dtype of DTYPES)
      it(`geluBackward matches the float64 reference gradient within the derived bound (${approximate}, ${dtype})`, () => {
        const x = make(1001, [11, 91], dtype, 7, 3, EDGES);
        const dy = make(1001, [11, 91], dtype, 9, 1.5);
        checkBackward(ops.geluBackward(dy.t, x.t, { approximate }), dy.held, x.held, approximate === 'tanh', dtype, `${dtype} geluBackward ${approximate}`);
      });

  for (const approximate of MODES)
    it(`geluBackward agrees with central finite differences of the float64 reference (${approximate})`, () => {
      const tanh = approximate === 'tanh';
      const x = make(257, [257], 'float32', 11, 3, [0, -4, 4, -8, 8, 1.3, -1.3]);
      const dy = make(257, [257], 'float32', 13, 1);
      const got = ops.geluBackward(dy.t, x.t, { approximate }).toFloat32Array();
      for (let i = 0; i < 257; i++) {
        const v = x.held[i]!;
        const h = 1e-5 * Math.max(1, Math.abs(v));
        const fd = (dy.held[i]! * (geluScalar(v + h, tanh) - geluScalar(v - h, tanh))) / (2 * h);
        // truncation h²|f'''|/6 (|f'''| < 2 here) + cancellation 1e-16/h, plus the kernel's bound
        const tol = Math.abs(dy.held[i]!) * ((tanh ? tanhGradErr(v) : exactGradErr(v)) + 1e-9) + U * Math.abs(fd);
        if (!(Math.abs(got[i]! - fd) <= tol)) throw new Error(`x = ${v}: geluBackward ${got[i]} vs finite difference ${fd} (tol ${tol})`);
      }
    });

  it('gradient limits: +inf -> 1, -inf -> 0, NaN -> NaN; in place on dy or x; Async identical; errors typed', async () => {
    for (const approximate of MODES) {
      const g = Array.from(ops.geluBackward(tensor([1, 1, 1, 2]), tensor([Infinity, -Infinity, NaN, 0]), { approximate }).data);
      expect(g.slice(0, 2)).toEqual([1, 0]);
      expect(g[2]).toBeNaN();
      expect(g[3]).toBe(1);
    }
    const x = make(500, [500], 'bfloat16', 15, 2);
    const dy = make(500, [500], 'bfloat16', 17, 1);
    const want = ops.geluBackward(dy.t, x.t);
    assertBitEqual((await ops.geluBackwardAsync(dy.t, x.t)).data as Uint16Array, want.data as Uint16Array, 'async');
    const d2 = tensor(Float32Array.from(dy.held), [500], { dtype: 'bfloat16' });
    ops.geluBackward(d2, x.t, { out: d2 });
    assertBitEqual(d2.data as Uint16Array, want.data as Uint16Array, 'in place on dy');
    const x2 = tensor(Float32Array.from(x.held), [500], { dtype: 'bfloat16' });
    ops.geluBackward(dy.t, x2, { out: x2 });
    assertBitEqual(x2.data as Uint16Array, want.data as Uint16Array, 'in place on x');
    expectError(() => ops.geluBackward(dy.t, zeros([500])), 'ERR_DTYPE', /x/);
    expectError(() => ops.geluBackward(zeros([3]), zeros([4])), 'ERR_SHAPE', /x/);
    expectError(() => ops.geluBackward(zeros([3]), zeros([3]), { approximate: 'TANH' as never }), 'ERR_ARGUMENT', /approximate/);
  });
});

describe('the gelu checks can fail', () => {
  it('a gradient missing the x·φ(x) term, or Φ through float32 1 + erf, falls outside the bounds', () => {
    const x = make(1001, [1001], 'float32', 3, 3, EDGES).held;
    const dy = new Float64Array(1001).fill(1);
    const ref = geluBackwardRef(dy, x, false);
    const err = Float64Array.from(x, (v) => exactGradErr(v) + U * Math.abs(geluGradScalar(v, false)));
    const dropped = Float64Array.from(x, (v) => Math.fround(normalCdf(v)));
    expect(roundingMisses(dropped, ref, err, 'float32').count).toBeGreaterThan(500);
    // the tail bound is relative: y = x·0.5·(1 + erf(x/√2)) with erf rounded to float32 misses it
    const fwd = geluRef(x, false);
    const ferr = Float64Array.from(x, exactErr);
    const cancel = Float64Array.from(x, (v) => Math.fround(v * 0.5 * Math.fround(1 + Math.fround(2 * normalCdf(v) - 1))));
    expect(roundingMisses(cancel, fwd, ferr, 'float32').count).toBeGreaterThan(20);
  });
});

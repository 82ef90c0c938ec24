import { describe, expect, it } from 'vitest';
import { empty, numThreads, ops, setNumThreads, tensor, zeros, type FloatDType, type Tensor } from '../lib';
import { decodeToFloat32 } from '../lib/dtype';
import { linearBackwardRef, linearRef } from './reference/linear';
import { assertBitEqual, expectError, expectRejection, randomArray, rng } from './helpers';
import { assertRoundedOnce, roundingMisses, truncate } from './rounding';

/**
 * float32 accumulation allowance, relative to sum_k |x w| + |b| (ref.scale): the bound the float32
 * cases assert. Half outputs must then be the round-to-nearest-even of a value within it
 * (test/rounding.ts): 0.5 ulp plus this allowance, so a kernel that truncates fails.
 */
const SUM_TOL = 2e-6;

function make(n: number, shape: number[], dtype: FloatDType, seed: number, scale = 1) {
  const t = tensor(Float32Array.from(randomArray(n, rng(seed), scale)), shape, { dtype });
  return { t, held: Float64Array.from(decodeToFloat32(dtype, t.data)) };
}

function check(y: Tensor, ref: { y: Float64Array; scale: Float64Array }, dtype: FloatDType, name: string): void {
  const got = decodeToFloat32(dtype, y.data as Float32Array);
  assertRoundedOnce(got, ref.y, ref.scale.map((s) => SUM_TOL * s), dtype, name);
}

describe('ops.linear', () => {
  // [M, N, K]: small-M (decode) path for M <= 8 (rows in chunks of 4), blocked path above; odd
  // sizes hit every remainder
  const shapes: [number, number, number][] = [
    [1, 1, 1],
    [1, 7, 17],
    [2, 65, 33],
    [3, 130, 1030],
    [4, 64, 16],
    [5, 3, 1],
    [7, 9, 35],
    [8, 130, 300],
    [33, 67, 49],
    [37, 129, 600],
    [70, 5, 513],
  ];
  for (const dtype of ['float32', 'float16', 'bfloat16'] as const)
    for (const [m, n, k] of shapes)
      it(`matches the float64 reference: ${dtype} [${m}, ${k}] x [${n}, ${k}]^T + b`, () => {
        const x = make(m * k, [m, k], dtype, m * 7 + k);
        const w = make(n * k, [n, k], dtype, n * 13 + k, 0.5);
        const b = make(n, [n], dtype, n);
        const y = ops.linear(x.t, w.t, { bias: b.t });
        expect(y.dtype).toBe(dtype);
        expect(y.shape).toEqual([m, n]);
        check(y, linearRef(x.held, w.held, b.held, m, n, k), dtype, `${dtype} ${m}x${n}x${k}`);
        const y0 = ops.linear(x.t, w.t);
        check(y0, linearRef(x.held, w.held, null, m, n, k), dtype, `${dtype} ${m}x${n}x${k} no bias`);
      });

  for (const dtype of ['float16', 'bfloat16'] as const)
    it(`the check fails a kernel that truncates instead of rounding to nearest even (${dtype})`, () => {
      const [m, n, k] = [37, 129, 600];
      const x = make(m * k, [m, k], dtype, m * 7 + k);
      const w = make(n * k, [n, k], dtype, n * 13 + k, 0.5);
      const ref = linearRef(x.held, w.held, null, m, n, k);
      const err = ref.scale.map((v) => SUM_TOL * v);
      const trunc = ref.y.map((v) => truncate(v, dtype));
      expect(roundingMisses(trunc, ref.y, err, dtype).count).toBeGreaterThan(ref.y.length / 4);
      // while the kernel's own stores pass
      expect(roundingMisses(decodeToFloat32(dtype, ops.linear(x.t, w.t).data as never), ref.y, err, dtype).count).toBe(0);
    });

  it('keeps leading dimensions of x', () => {
    const x = make(2 * 3 * 5 * 9, [2, 3, 5, 9], 'float32', 1);
    const w = make(4 * 9, [4, 9], 'float32', 2);
    const y = ops.linear(x.t, w.t);
    expect(y.shape).toEqual([2, 3, 5, 4]);
    check(y, linearRef(x.held, w.held, null, 30, 4, 9), 'float32', 'leading dims');
    const v = ops.linear(tensor([1, 2, 3]), tensor([[1, 0, 0], [0, 1, 1]]));
    expect(v.shape).toEqual([2]);
    expect(Array.from(v.data)).toEqual([1, 5]);
  });

  it('handles empty dimensions: K = 0 gives the bias, M = 0 and N = 0 give empty outputs', () => {
    const y = ops.linear(empty([3, 0]), empty([2, 0]), { bias: tensor([1.5, -2]) });
    expect(Array.from(y.data)).toEqual([1.5, -2, 1.5, -2, 1.5, -2]);
    expect(ops.linear(empty([0, 4]), zeros([3, 4])).shape).toEqual([0, 3]);
    expect(ops.linear(zeros([2, 4]), empty([0, 4])).shape).toEqual([2, 0]);
  });

  it('propagates special values like a float32 dot product (0 * Infinity is NaN, as in torch)', () => {
    const x = tensor([1, 2, Infinity, 0, NaN, 1, 3, 4, 5], [3, 3]);
    const w = tensor([1, 1, 1, 0, 1, 0], [2, 3]);
    const y = ops.linear(x, w).data;
    expect(y[0]).toBe(Infinity);
    expect(Number.isNaN(y[1])).toBe(true); // 0 * Infinity
    expect(Number.isNaN(y[2])).toBe(true);
    expect(Number.isNaN(y[3])).toBe(true);
    expect(Array.from(y.subarray(4))).toEqual([12, 4]);
  });

  it('writes into a given out tensor and checks it', () => {
    const x = make(5 * 6, [5, 6], 'bfloat16', 3);
    const w = make(7 * 6, [7, 6], 'bfloat16', 4);
    const out = empty([5, 7], 'bfloat16');
    expect(ops.linear(x.t, w.t, { out })).toBe(out);
    check(out, linearRef(x.held, w.held, null, 5, 7, 6), 'bfloat16', 'out');
    expectError(() => ops.linear(x.t, w.t, { out: empty([5, 6], 'bfloat16') }), 'ERR_SHAPE', /expected out of shape \[5, 7\]/);
    expectError(() => ops.linear(x.t, w.t, { out: empty([5, 7], 'float32') as never }), 'ERR_DTYPE', /out/);
  });

  it('does not modify its inputs', () => {
    const x = make(9 * 40, [9, 40], 'float16', 5);
    const w = make(11 * 40, [11, 40], 'float16', 6);
    const b = make(11, [11], 'float16', 7);
    const before = [x.t.data.slice(), w.t.data.slice(), b.t.data.slice()];
    ops.linear(x.t, w.t, { bias: b.t });
    assertBitEqual(x.t.data, before[0]!);
    assertBitEqual(w.t.data, before[1]!);
    assertBitEqual(b.t.data, before[2]!);
  });

  it('async gives bit-identical results', async () => {
    for (const [m, dtype] of [[3, 'float32'], [40, 'bfloat16']] as const) {
      const x = make(m * 300, [m, 300], dtype, 8);
      const w = make(90 * 300, [90, 300], dtype, 9);
      const a = ops.linear(x.t, w.t);
      const b = await ops.linearAsync(x.t, w.t);
      assertBitEqual(a.data, b.data, `${dtype} M=${m}`);
    }
  });

  it('is bit-identical for any thread count', () => {
    const before = numThreads();
    try {
      for (const [m, n, k, dtype] of [[2, 300, 777, 'float32'], [100, 200, 1100, 'float16']] as const) {
        const x = make(m * k, [m, k], dtype, 10);
        const w = make(n * k, [n, k], dtype, 11);
        setNumThreads(1);
        const ref = ops.linear(x.t, w.t).data;
        for (const t of [2, 3, 7]) {
          setNumThreads(t);
          assertBitEqual(ops.linear(x.t, w.t).data, ref, `${t} threads`);
        }
      }
    } finally {
      setNumThreads(before);
    }
  });

  it('rejects bad input with typed errors', async () => {
    const x = zeros([2, 3]);
    const w = zeros([4, 3]);
    expectError(() => ops.linear(tensor([1, 2], [1, 2], { dtype: 'int32' }) as never, w), 'ERR_DTYPE', /expected x of dtype float32 or float16 or bfloat16 but received int32/);
    expectError(() => ops.linear(x, zeros([4, 3], 'bfloat16') as never), 'ERR_DTYPE', /expected weight of dtype float32 but received bfloat16/);
    expectError(() => ops.linear(x, zeros([4, 2])), 'ERR_SHAPE', /expected weight of shape \[4, 3\] \(from x \[2, 3\]\) but received \[4, 2\]/);
    expectError(() => ops.linear(x, zeros([12])), 'ERR_SHAPE', /expected weight with 2 dimensions but received \[12\]/);
    expectError(() => ops.linear(x, w, { bias: zeros([3]) }), 'ERR_SHAPE', /expected bias of shape \[4\]/);
    expectError(() => ops.linear(x, w, { bias: zeros([4], 'float16') as never }), 'ERR_DTYPE', /expected bias of dtype float32/);
    expectError(() => ops.linear(tensor([1], []), zeros([1, 1])), 'ERR_SHAPE', /at least 1 dimension/);
    expectError(() => ops.linear(x, w, { bogus: 1 } as never), 'ERR_ARGUMENT', /unknown option 'bogus'/);
    expectError(() => ops.linear(new Float32Array(3) as never, w), 'ERR_ARGUMENT', /expected a Tensor for x/);
    const d = zeros([4, 3]);
    d.dispose();
    expectError(() => ops.linear(x, d), 'ERR_DETACHED', /disposed/);
    await expectRejection(ops.linearAsync(x, zeros([4, 5])), 'ERR_SHAPE');
  });

  it('the raw binding re-checks shapes, dtypes and devices', async () => {
    const { native } = await import('../lib/native');
    const x = zeros([2, 3]);
    expectError(() => native.linear(x, zeros([4, 2]), null, zeros([2, 4]), false), 'ERR_SHAPE', /expected weight of shape \[4, 3\] \(from x \[2, 3\]\) but received \[4, 2\]/);
    expectError(() => native.linear(x, zeros([4, 3]), zeros([5]), zeros([2, 4]), false), 'ERR_SHAPE', /bias/);
    expectError(() => native.linear(x, zeros([4, 3]), null, zeros([2, 5]), false), 'ERR_SHAPE', /out/);
    expectError(() => native.linear(x, zeros([4, 3], 'float16'), null, zeros([2, 4]), false), 'ERR_DTYPE', /weight/);
    expectError(() => native.linear(x, {} as never, null, zeros([2, 4]), false), 'ERR_ARGUMENT', /weight/);
    expectError(() => (native.linear as (...a: unknown[]) => void)(x, zeros([4, 3])), 'ERR_ARGUMENT', /async/);
  });

  it('M > 8 runs the GEMM core: the same bits as _gemm NT with bias, in every dtype', async () => {
    const { native } = await import('../lib/native');
    const gemm = (native as unknown as { _gemm: (...a: unknown[]) => void })._gemm;
    for (const dtype of ['float32', 'float16', 'bfloat16'] as const) {
      const x = make(19 * 300, [19, 300], dtype, 12);
      const w = make(45 * 300, [45, 300], dtype, 13);
      const b = make(45, [45], dtype, 14);
      const c = empty([19, 45], dtype);
      gemm(x.t, w.t, c, b.t, false, true, false, -1, false);
      assertBitEqual(ops.linear(x.t, w.t, { bias: b.t }).data, c.data, dtype);
    }
  });

  it('accepts onnxruntime-style tensors', () => {
    const y = ops.linear({ type: 'float32', data: new Float32Array([1, 2]), dims: [1, 2] }, { type: 'float32', data: new Float32Array([3, 4]), dims: [1, 2] });
    expect(Array.from(y.data)).toEqual([11]);
  });
});

describe('ops.linearBackward', () => {
  const f32 = (t: Tensor, dtype: FloatDType = 'float32') => decodeToFloat32(dtype, t.data as Float32Array);
  const tol = (scale: Float64Array) => scale.map((s) => SUM_TOL * s);

  // [M, out, in]: dx is the NN GEMM [M, out] x [out, in] (K = out), dW the TN GEMM [out, M] x [M, in]
  // (K = M). Tails of the 6x16 (AVX2) and 12x32 (AVX-512) register tiles in every dimension, K past
  // one KC slice (256 / 128) for both GEMMs, M past MC (144 / 240), M = 1 and out <= 8 (the
  // streaming path of the dW GEMM), and 1x1x1.
  const shapes: [number, number, number][] = [
    [1, 1, 1],
    [1, 7, 17],
    [1, 300, 33],
    [5, 33, 19],
    [13, 70, 37],
    [37, 300, 47],
    [300, 9, 33],
    [260, 5, 35],
    [150, 130, 50],
  ];
  for (const dtype of ['float32', 'float16', 'bfloat16'] as const)
    for (const [m, n, k] of shapes)
      it(`matches the float64 reference: ${dtype} dy [${m}, ${n}], x [${m}, ${k}], weight [${n}, ${k}]`, () => {
        const dy = make(m * n, [m, n], dtype, m * 3 + n);
        const x = make(m * k, [m, k], dtype, m * 7 + k);
        const w = make(n * k, [n, k], dtype, n * 13 + k, 0.5);
        const r = ops.linearBackward(dy.t, x.t, w.t, { needBias: true });
        expect(r.dx!.dtype).toBe(dtype);
        expect(r.dx!.shape).toEqual([m, k]);
        expect(r.dWeight!.dtype).toBe('float32');
        expect(r.dWeight!.shape).toEqual([n, k]);
        expect(r.dBias!.shape).toEqual([n]);
        const ref = linearBackwardRef(dy.held, x.held, w.held, m, n, k);
        assertRoundedOnce(f32(r.dx!, dtype), ref.dx, tol(ref.dxScale), dtype, `dx ${dtype} ${m}x${n}x${k}`);
        assertRoundedOnce(f32(r.dWeight!), ref.dw, tol(ref.dwScale), 'float32', `dWeight ${dtype} ${m}x${n}x${k}`);
        assertRoundedOnce(f32(r.dBias!), ref.db, tol(ref.dbScale), 'float32', `dBias ${dtype} ${m}x${n}x${k}`);
      });

  it('equals central finite differences of the float64 forward (odd shapes, leading dims)', () => {
    // L = sum(g * (x W^T + b)) in float64; dL/dx = g W, dL/dW = g^T x, dL/db = sum g
    for (const [lead, n, k] of [[[1], 1, 1], [[3], 5, 7], [[2, 3], 17, 9], [[7], 13, 19]] as [number[], number, number][]) {
      const m = lead.reduce((a, b) => a * b, 1);
      const g = make(m * n, [...lead, n], 'float32', 21 + n);
      const x = make(m * k, [...lead, k], 'float32', 22 + k);
      const w = make(n * k, [n, k], 'float32', 23 + m);
      const b = Float64Array.from(randomArray(n, rng(24)));
      const loss = (xs: Float64Array, ws: Float64Array, bs: Float64Array) => {
        const y = linearRef(xs, ws, bs, m, n, k).y;
        return y.reduce((s, v, i) => s + v * g.held[i]!, 0);
      };
      const fd = (v: Float64Array, i: number, f: () => number) => {
        const h = 1e-3 * Math.max(1, Math.abs(v[i]!));
        const v0 = v[i]!;
        v[i] = v0 + h;
        const up = f();
        v[i] = v0 - h;
        const dn = f();
        v[i] = v0;
        return (up - dn) / (2 * h);
      };
      const xs = Float64Array.from(x.held), ws = Float64Array.from(w.held);
      const L = () => loss(xs, ws, b);
      const r = ops.linearBackward(g.t, x.t, w.t, { needBias: true });
      expect(r.dx!.shape).toEqual([...lead, k]);
      // the kernels' results are float32 sums of float32-exact products: 1e-5 of the magnitude
      // covers them, while a missing or wrong term moves a value by O(1)
      const numeric = (v: Float64Array) => Float64Array.from(v, (_, i) => fd(v, i, L));
      const close = (got: ArrayLike<number>, want: Float64Array, name: string) => {
        for (let i = 0; i < want.length; i++)
          expect(Math.abs(got[i]! - want[i]!), `${name}[${i}] got ${got[i]} finite difference ${want[i]}`).toBeLessThanOrEqual(1e-5 * (1 + Math.abs(want[i]!)) * Math.max(n, m, k));
      };
      close(f32(r.dx!), numeric(xs), `dx ${lead}x${n}x${k}`);
      close(f32(r.dWeight!), numeric(ws), `dW ${lead}x${n}x${k}`);
      close(f32(r.dBias!), numeric(b), `db ${lead}x${n}x${k}`);
    }
  });

  it('accumulate: two micro-batches into one buffer equal the gradient of both (and start from its contents)', () => {
    for (const dtype of ['float32', 'bfloat16'] as const) {
      const [m, n, k] = [40, 37, 300];
      const dy1 = make(m * n, [m, n], dtype, 31), x1 = make(m * k, [m, k], dtype, 32);
      const dy2 = make(m * n, [m, n], dtype, 33), x2 = make(m * k, [m, k], dtype, 34);
      const w = make(n * k, [n, k], dtype, 35);
      const dW0 = Float32Array.from(randomArray(n * k, rng(36)));
      const db0 = Float32Array.from(randomArray(n, rng(37)));
      const dWeightOut = tensor(dW0.slice(), [n, k]);
      const dBiasOut = tensor(db0.slice(), [n]);
      const o = { needBias: true, accumulate: true, needInput: false, dWeightOut, dBiasOut };
      const r1 = ops.linearBackward(dy1.t, x1.t, w.t, o);
      expect(r1.dWeight).toBe(dWeightOut);
      expect(r1.dBias).toBe(dBiasOut);
      expect(r1.dx).toBeUndefined();
      ops.linearBackward(dy2.t, x2.t, w.t, o);
      // reference: dW0 + dy1^T x1 + dy2^T x2 as one [2m] batch
      const cat = (a: Float64Array, b: Float64Array) => Float64Array.from([...a, ...b]);
      const ref = linearBackwardRef(cat(dy1.held, dy2.held), cat(x1.held, x2.held), w.held, 2 * m, n, k, dW0, db0);
      assertRoundedOnce(f32(dWeightOut), ref.dw, tol(ref.dwScale), 'float32', `accumulated dWeight ${dtype}`);
      assertRoundedOnce(f32(dBiasOut), ref.db, tol(ref.dbScale), 'float32', `accumulated dBias ${dtype}`);
      // without accumulate the buffers are overwritten
      const single = linearBackwardRef(dy2.held, x2.held, w.held, m, n, k);
      ops.linearBackward(dy2.t, x2.t, w.t, { needBias: true, needInput: false, dWeightOut, dBiasOut });
      assertRoundedOnce(f32(dWeightOut), single.dw, tol(single.dwScale), 'float32', `overwritten dWeight ${dtype}`);
      assertRoundedOnce(f32(dBiasOut), single.db, tol(single.dbScale), 'float32', `overwritten dBias ${dtype}`);
    }
  });

  it('computes only what is asked for, and writes dxOut', () => {
    const dy = make(6 * 5, [2, 3, 5], 'float16', 41), x = make(6 * 4, [2, 3, 4], 'float16', 42), w = make(20, [5, 4], 'float16', 43);
    expect(Object.keys(ops.linearBackward(dy.t, x.t, w.t))).toEqual(['dx', 'dWeight']);
    expect(Object.keys(ops.linearBackward(dy.t, x.t, w.t, { needInput: false, needWeight: false, needBias: true }))).toEqual(['dBias']);
    expect(Object.keys(ops.linearBackward(dy.t, x.t, w.t, { needInput: false, needWeight: false }))).toEqual([]);
    const dxOut = empty([2, 3, 4], 'float16');
    const r = ops.linearBackward(dy.t, x.t, w.t, { dxOut, needWeight: false });
    expect(r.dx).toBe(dxOut);
    const ref = linearBackwardRef(dy.held, x.held, w.held, 6, 5, 4);
    assertRoundedOnce(f32(dxOut, 'float16'), ref.dx, tol(ref.dxScale), 'float16', 'dxOut');
  });

  it('the GEMMs are the core NN (dx) and TN (dW) layouts: the same bits as _gemm', async () => {
    const { native } = await import('../lib/native');
    const gemm = (native as unknown as { _gemm: (...a: unknown[]) => void })._gemm;
    for (const dtype of ['float32', 'float16', 'bfloat16'] as const) {
      const [m, n, k] = [23, 45, 300];
      const dy = make(m * n, [m, n], dtype, 51), x = make(m * k, [m, k], dtype, 52), w = make(n * k, [n, k], dtype, 53);
      const r = ops.linearBackward(dy.t, x.t, w.t);
      const dx = empty([m, k], dtype), dw = empty([n, k]);
      gemm(dy.t, w.t, dx, null, false, false, false, -1, false);
      gemm(dy.t, x.t, dw, null, true, false, false, -1, false);
      assertBitEqual(r.dx!.data, dx.data, `dx ${dtype}`);
      assertBitEqual(r.dWeight!.data, dw.data as Float32Array, `dW ${dtype}`);
    }
  });

  it('M = 0 and K = 0: empty gradients are zeros (accumulate keeps the buffers)', () => {
    const r = ops.linearBackward(empty([0, 3]), empty([0, 2]), tensor([1, 2, 3, 4, 5, 6], [3, 2]), { needBias: true });
    expect(r.dx!.shape).toEqual([0, 2]);
    expect(Array.from(r.dWeight!.data)).toEqual([0, 0, 0, 0, 0, 0]);
    expect(Array.from(r.dBias!.data)).toEqual([0, 0, 0]);
    const dWeightOut = tensor([1, 2, 3, 4, 5, 6], [3, 2]);
    const dBiasOut = tensor([7, 8, 9]);
    ops.linearBackward(empty([0, 3]), empty([0, 2]), zeros([3, 2]), { needBias: true, accumulate: true, dWeightOut, dBiasOut });
    expect(Array.from(dWeightOut.data)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(Array.from(dBiasOut.data)).toEqual([7, 8, 9]);
    const k0 = ops.linearBackward(tensor([1, 2], [1, 2]), empty([1, 0]), empty([2, 0]), { needBias: true });
    expect(k0.dx!.shape).toEqual([1, 0]);
    expect(k0.dWeight!.shape).toEqual([2, 0]);
    expect(Array.from(k0.dBias!.data)).toEqual([1, 2]);
  });

  it('is bit-identical for any thread count, and async equals sync', async () => {
    const before = numThreads();
    try {
      for (const [m, n, k, dtype] of [[1, 300, 777, 'float32'], [300, 130, 70, 'float32'], [100, 200, 300, 'bfloat16'], [50, 600, 40, 'float16']] as const) {
        const dy = make(m * n, [m, n], dtype, 61), x = make(m * k, [m, k], dtype, 62), w = make(n * k, [n, k], dtype, 63);
        setNumThreads(1);
        const ref = ops.linearBackward(dy.t, x.t, w.t, { needBias: true });
        for (const t of [2, 3, 7]) {
          setNumThreads(t);
          const r = ops.linearBackward(dy.t, x.t, w.t, { needBias: true });
          assertBitEqual(r.dx!.data, ref.dx!.data, `dx ${dtype} ${t} threads`);
          assertBitEqual(r.dWeight!.data, ref.dWeight!.data, `dW ${dtype} ${t} threads`);
          assertBitEqual(r.dBias!.data, ref.dBias!.data, `db ${dtype} ${t} threads`);
        }
        setNumThreads(before);
        const a = await ops.linearBackwardAsync(dy.t, x.t, w.t, { needBias: true });
        assertBitEqual(a.dx!.data, ref.dx!.data, `async dx ${dtype}`);
        assertBitEqual(a.dWeight!.data, ref.dWeight!.data, `async dW ${dtype}`);
        assertBitEqual(a.dBias!.data, ref.dBias!.data, `async db ${dtype}`);
      }
    } finally {
      setNumThreads(before);
    }
  });

  it('does not modify its inputs', () => {
    const dy = make(9 * 11, [9, 11], 'bfloat16', 71), x = make(9 * 40, [9, 40], 'bfloat16', 72), w = make(11 * 40, [11, 40], 'bfloat16', 73);
    const before = [dy.t.data.slice(), x.t.data.slice(), w.t.data.slice()];
    ops.linearBackward(dy.t, x.t, w.t, { needBias: true });
    assertBitEqual(dy.t.data, before[0]!);
    assertBitEqual(x.t.data, before[1]!);
    assertBitEqual(w.t.data, before[2]!);
  });

  it('rejects bad input with typed errors', async () => {
    const dy = zeros([2, 4]), x = zeros([2, 3]), w = zeros([4, 3]);
    const op = ops.linearBackward;
    expectError(() => op(dy, tensor([1, 2, 3], [1, 3], { dtype: 'int32' }) as never, w), 'ERR_DTYPE', /expected x of dtype float32 or float16 or bfloat16 but received int32/);
    expectError(() => op(zeros([2, 4], 'float16') as never, x, w), 'ERR_DTYPE', /expected dy of dtype float32 but received float16/);
    expectError(() => op(dy, x, zeros([4, 3], 'bfloat16') as never), 'ERR_DTYPE', /expected weight of dtype float32 but received bfloat16/);
    expectError(() => op(dy, x, zeros([4, 2])), 'ERR_SHAPE', /expected weight of shape \[4, 3\] \(from x \[2, 3\]\) but received \[4, 2\]/);
    expectError(() => op(zeros([2, 5]), x, w), 'ERR_SHAPE', /expected dy of shape \[2, 4\] \(from x \[2, 3\] and weight \[4, 3\]\) but received \[2, 5\]/);
    expectError(() => op(zeros([3, 4]), x, w), 'ERR_SHAPE', /expected dy of shape \[2, 4\]/);
    expectError(() => op(dy, x, zeros([12])), 'ERR_SHAPE', /expected weight with 2 dimensions/);
    expectError(() => op(dy, tensor([1], []), zeros([4, 1])), 'ERR_SHAPE', /at least 1 dimension/);
    expectError(() => op(dy, x, w, { accumulate: true }), 'ERR_ARGUMENT', /expected dWeightOut \(the float32 buffer to add into\) with accumulate: true but received none/);
    expectError(() => op(dy, x, w, { accumulate: true, needWeight: false, needBias: true, dBiasOut: undefined }), 'ERR_ARGUMENT', /expected dBiasOut/);
    expectError(() => op(dy, x, w, { needInput: false, dxOut: zeros([2, 3]) }), 'ERR_ARGUMENT', /expected no dxOut with needInput: false/);
    expectError(() => op(dy, x, w, { dWeightOut: zeros([4, 3], 'bfloat16') as never }), 'ERR_DTYPE', /expected dWeightOut of dtype float32/);
    expectError(() => op(dy, x, w, { dWeightOut: zeros([3, 4]) }), 'ERR_SHAPE', /expected dWeightOut of shape \[4, 3\]/);
    expectError(() => op(dy, x, w, { needBias: true, dBiasOut: zeros([3]) }), 'ERR_SHAPE', /expected dBiasOut of shape \[4\]/);
    expectError(() => op(dy, x, w, { dxOut: zeros([2, 3], 'float16') as never }), 'ERR_DTYPE', /expected dxOut of dtype float32/);
    expectError(() => op(dy, x, w, { needBias: 1 } as never), 'ERR_ARGUMENT', /expected a boolean for needBias but received/);
    expectError(() => op(dy, x, w, { bogus: 1 } as never), 'ERR_ARGUMENT', /unknown option 'bogus'/);
    expectError(() => op(new Float32Array(8) as never, x, w), 'ERR_ARGUMENT', /expected a Tensor for dy/);
    expectError(() => op(dy, x, w, { dWeightOut: w }), 'ERR_ARGUMENT', /overlap|weight/);
    const d = zeros([2, 3]);
    d.dispose();
    expectError(() => op(dy, d, w), 'ERR_DETACHED', /disposed/);
    await expectRejection(ops.linearBackwardAsync(dy, x, zeros([4, 5])), 'ERR_SHAPE');
  });

  it('the raw binding re-checks shapes, dtypes and overlaps', async () => {
    const { native } = await import('../lib/native');
    const f = native.linearBackward as (...a: unknown[]) => void;
    const dy = zeros([2, 4]), x = zeros([2, 3]), w = zeros([4, 3]);
    expectError(() => f(dy, x, zeros([4, 2]), null, null, null, false, false), 'ERR_SHAPE', /expected weight of shape \[4, 3\] \(from x \[2, 3\]\) but received \[4, 2\]/);
    expectError(() => f(zeros([2, 5]), x, w, null, null, null, false, false), 'ERR_SHAPE', /dy/);
    expectError(() => f(dy, x, w, zeros([2, 4]), null, null, false, false), 'ERR_SHAPE', /dx/);
    expectError(() => f(dy, x, w, null, zeros([3, 4]), null, false, false), 'ERR_SHAPE', /dWeight/);
    expectError(() => f(dy, x, w, null, null, zeros([3]), false, false), 'ERR_SHAPE', /dBias/);
    expectError(() => f(dy, x, w, null, zeros([4, 3], 'float16'), null, false, false), 'ERR_DTYPE', /dWeight/);
    expectError(() => f(dy, zeros([2, 3], 'float16'), w, null, null, null, false, false), 'ERR_DTYPE', /x/);
    expectError(() => f(dy, x, w, x, null, null, false, false), 'ERR_ARGUMENT', /dx/);
    expectError(() => f(dy, x, w, null, null, null, false), 'ERR_ARGUMENT', /async/);
  });
});

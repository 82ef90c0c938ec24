import { describe, expect, it } from 'vitest';
import { empty, numThreads, ops, setNumThreads, tensor, zeros, type FloatDType, type Tensor } from '../lib';
import { decodeToFloat32 } from '../lib/dtype';
import { linearRef } from './reference/linear';
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
    expectError(() => ops.linear(x, zeros([4, 2])), 'ERR_SHAPE', /expected x of shape \[\.\.\., 2\] \(from weight \[4, 2\]\) but received \[2, 3\]/);
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
    expectError(() => native.linear(x, zeros([4, 2]), null, zeros([2, 4]), false), 'ERR_SHAPE', /last dimensions differ/);
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

// The CPU GEMM core (native/cpp/ops/gemm.{h,cc}) through the internal _gemm binding: the three
// layouts of a linear layer (NT forward, NN input gradient, TN weight gradient), every ISA level
// this CPU has, odd shapes (tails of every blocking), accumulate, bias, half outputs, threads.
import { describe, expect, it } from 'vitest';
import { empty, numThreads, setNumThreads, tensor, type FloatDType, type Tensor } from '../lib';
import { decodeToFloat32 } from '../lib/dtype';
import { native } from '../lib/native';
import { assertBitEqual, expectError, randomArray, rng } from './helpers';
import { gemmRef } from './reference/gemm';

type GemmFn = (
  a: Tensor, b: Tensor, c: Tensor, bias: Tensor | null,
  transA: boolean, transB: boolean, accumulate: boolean, maxIsa: number, async: boolean,
) => void | Promise<void>;
const raw = native as unknown as { _gemm: GemmFn; _gemmIsa: () => string };

const ISA_NAMES = ['baseline', 'avx2', 'avx512', 'avx512bf16'];
/** ISA levels to run: every level up to the one this CPU gets (higher ones would be capped to it). */
const LEVELS = Array.from({ length: ISA_NAMES.indexOf(raw._gemmIsa()) + 1 }, (_, i) => i);

/** Unit roundoff of each storage dtype (round to nearest even). */
const U: Record<FloatDType, number> = { float32: 2 ** -24, float16: 2 ** -11, bfloat16: 2 ** -8 };

/**
 * Error bound: each of the K steps of a float32 sum rounds at most twice (product, when not fused
 * or exact, and addition), each by at most 2^-24 of the running |sum| <= scale; the bias and the
 * accumulated C add one more rounding each; a half output rounds once more, by u_out.
 */
function check(got: ArrayLike<number>, ref: { c: Float64Array; scale: Float64Array }, k: number, out: FloatDType, name: string) {
  let bad = 0;
  const first: string[] = [];
  for (let i = 0; i < ref.c.length; i++) {
    const e = ref.c[i]!;
    const sum = (2 * k + 4) * 2 ** -24 * ref.scale[i]!;
    const tol = sum + (out === 'float32' ? 0 : U[out] * (Math.abs(e) + sum));
    if (!(Math.abs(got[i]! - e) <= tol)) {
      bad++;
      if (first.length < 5) first.push(`[${i}] got ${got[i]} expected ${e} (tol ${tol})`);
    }
  }
  if (bad) throw new Error(`${name}: ${bad}/${ref.c.length} mismatches\n  ${first.join('\n  ')}`);
}

function make(shape: number[], dtype: FloatDType, seed: number, scale = 1) {
  const n = shape.reduce((p, d) => p * d, 1);
  const t = tensor(Float32Array.from(randomArray(n, rng(seed), scale)), shape, { dtype });
  return { t, held: decodeToFloat32(dtype, t.data as Float32Array) };
}

const LAYOUTS = {
  NT: { transA: false, transB: true },
  NN: { transA: false, transB: false },
  TN: { transA: true, transB: false },
} as const;

function operands(layout: keyof typeof LAYOUTS, m: number, n: number, k: number, dtype: FloatDType, seed: number) {
  const { transA, transB } = LAYOUTS[layout];
  const a = make(transA ? [k, m] : [m, k], dtype, seed);
  const b = make(transB ? [n, k] : [k, n], dtype, seed + 1, 0.5);
  return { a, b, transA, transB };
}

describe('_gemm (CPU GEMM core)', () => {
  it('reports an ISA level', () => {
    expect(ISA_NAMES).toContain(raw._gemmIsa());
  });

  // [M, N, K]: tails of MR (4, 6, 12), NR (16, 32), MC (128, 144, 240), KC (128, 256) and NC (4080, 4096)
  const shapes: [number, number, number][] = [
    [1, 1, 1],
    [5, 3, 1],
    [7, 17, 2],
    [13, 33, 257],
    [12, 32, 128],
    [145, 50, 300],
    [250, 70, 530],
    [3, 4100, 9],
  ];
  for (const layout of ['NT', 'NN', 'TN'] as const)
    for (const dtype of ['float32', 'float16', 'bfloat16'] as const)
      it(`${layout} ${dtype}: matches the float64 reference at every ISA level, float32 and ${dtype} out, bias, accumulate`, () => {
        for (const [m, n, k] of shapes) {
          const { a, b, transA, transB } = operands(layout, m, n, k, dtype, m * 31 + n * 7 + k);
          const bias = make([n], 'float32', n + 3);
          const biasIn = make([n], dtype, n + 5);
          const c0 = make([m, n], 'float32', m + 11);
          const plain = gemmRef(a.held, b.held, m, n, k, { transA, transB });
          const withBias = gemmRef(a.held, b.held, m, n, k, { transA, transB, bias: biasIn.held });
          const accum = gemmRef(a.held, b.held, m, n, k, { transA, transB, bias: bias.held, c0: c0.held });
          for (const isa of LEVELS) {
            const tag = `${layout} ${dtype} [${m}, ${n}, ${k}] isa ${ISA_NAMES[isa]}`;
            const c = empty([m, n]);
            raw._gemm(a.t, b.t, c, null, transA, transB, false, isa, false);
            check(c.data as Float32Array, plain, k, 'float32', `${tag} float32 out`);
            const h = empty([m, n], dtype);
            raw._gemm(a.t, b.t, h, biasIn.t, transA, transB, false, isa, false);
            check(decodeToFloat32(dtype, h.data as Float32Array), withBias, k, dtype, `${tag} ${dtype} out + bias`);
            const acc = tensor((c0.t.data as Float32Array).slice(), [m, n]);
            raw._gemm(a.t, b.t, acc, bias.t, transA, transB, true, isa, false);
            check(acc.data as Float32Array, accum, k, 'float32', `${tag} accumulate + float32 bias`);
          }
        }
      });

  it('empty dimensions: M = 0 or N = 0 write nothing; K = 0 gives zeros, the bias, or leaves C (accumulate)', () => {
    for (const isa of LEVELS) {
      const c = tensor([7, 7, 7, 7, 7, 7], [3, 2]);
      raw._gemm(empty([3, 0]), empty([2, 0]), c, null, false, true, false, isa, false);
      expect(Array.from(c.data)).toEqual([0, 0, 0, 0, 0, 0]);
      raw._gemm(empty([3, 0]), empty([2, 0]), c, tensor([1.5, -2]), false, true, false, isa, false);
      expect(Array.from(c.data)).toEqual([1.5, -2, 1.5, -2, 1.5, -2]);
      raw._gemm(empty([0, 3]), empty([0, 2]), c, tensor([1, 1]), true, false, true, isa, false);
      expect(Array.from(c.data)).toEqual([2.5, -1, 2.5, -1, 2.5, -1]);
      const e = empty([0, 5]);
      raw._gemm(empty([0, 4]), empty([5, 4]), e, null, false, true, false, isa, false);
      raw._gemm(empty([2, 4]), empty([0, 4]), empty([2, 0]), null, false, true, false, isa, false);
    }
  });

  it('propagates special values like a float32 dot product (0 * Infinity is NaN)', () => {
    for (const isa of LEVELS) {
      const a = tensor([1, 2, Infinity, 0, NaN, 1, 3, 4, 5], [3, 3]);
      const b = tensor([1, 1, 1, 0, 1, 0], [2, 3]);
      const c = empty([3, 2]);
      raw._gemm(a, b, c, null, false, true, false, isa, false);
      const y = c.data as Float32Array;
      expect(y[0]).toBe(Infinity);
      expect(Number.isNaN(y[1])).toBe(true);
      expect(Number.isNaN(y[2]) && Number.isNaN(y[3])).toBe(true);
      expect(Array.from(y.subarray(4))).toEqual([12, 4]);
    }
  });

  it('is bit-identical for any thread count, in every layout and dtype path', () => {
    const before = numThreads();
    try {
      for (const layout of ['NT', 'NN', 'TN'] as const)
        for (const dtype of ['float32', 'bfloat16'] as const) {
          const [m, n, k] = [300, 150, 700];
          const { a, b, transA, transB } = operands(layout, m, n, k, dtype, 99);
          for (const isa of LEVELS) {
            setNumThreads(1);
            const ref = empty([m, n]);
            raw._gemm(a.t, b.t, ref, null, transA, transB, false, isa, false);
            for (const t of [2, 3, 7]) {
              setNumThreads(t);
              const c = empty([m, n]);
              raw._gemm(a.t, b.t, c, null, transA, transB, false, isa, false);
              assertBitEqual(c.data as Float32Array, ref.data as Float32Array, `${layout} ${dtype} isa ${isa} ${t} threads`);
            }
          }
        }
    } finally {
      setNumThreads(before);
    }
  });

  it('small M (the register-transposing GEMV for M <= 4, the streaming path for M <= 8) gives the same bits as those rows inside a large M', () => {
    // k = 603: a tail after the GEMV's 8-k steps; n = 70: a tail after its 16-column blocks
    for (const dtype of ['float32', 'float16', 'bfloat16'] as const)
      for (const isa of LEVELS) {
        const [m, n, k] = [40, 70, dtype === 'float16' ? 603 : 600];
        const { a, b } = operands('NT', m, n, k, dtype, 21);
        const big = empty([m, n]);
        raw._gemm(a.t, b.t, big, null, false, true, false, isa, false);
        for (const rows of [1, 2, 3, 4, 5, 8]) {
          const sub = tensor(Float32Array.from(a.held.subarray(0, rows * k)), [rows, k], { dtype });
          const c = empty([rows, n]);
          raw._gemm(sub, b.t, c, null, false, true, false, isa, false);
          assertBitEqual(c.data as Float32Array, (big.data as Float32Array).slice(0, rows * n), `${dtype} isa ${isa} ${rows} rows`);
        }
      }
  });

  it('float32 sums are one FMA chain over K: the AVX2 and AVX-512 kernels give the same bits (when the CPU has both)', () => {
    if (LEVELS.length < 3) return; // only AVX2 (or less) here: nothing to compare
    const { a, b } = operands('NT', 77, 99, 1000, 'float32', 5);
    const c1 = empty([77, 99]);
    const c2 = empty([77, 99]);
    raw._gemm(a.t, b.t, c1, null, false, true, false, 1, false);
    raw._gemm(a.t, b.t, c2, null, false, true, false, 2, false);
    assertBitEqual(c1.data as Float32Array, c2.data as Float32Array, 'avx2 vs avx512');
  });

  it('async gives bit-identical results', async () => {
    const { a, b } = operands('TN', 40, 60, 300, 'bfloat16', 8);
    const s = empty([40, 60]);
    const t = empty([40, 60]);
    raw._gemm(a.t, b.t, s, null, true, false, false, -1, false);
    await raw._gemm(a.t, b.t, t, null, true, false, false, -1, true);
    assertBitEqual(s.data as Float32Array, t.data as Float32Array);
  });

  it('rejects bad input with typed errors', () => {
    const a = empty([4, 3]);
    const g = (...args: unknown[]) => (raw._gemm as unknown as (...x: unknown[]) => void)(...args);
    expectError(() => g(a, empty([5, 3]), empty([4, 4]), null, false, true, false, -1, false), 'ERR_SHAPE', /expected b with K = 3 and c \[4, 5\]/);
    expectError(() => g(a, empty([3, 5]), empty([4, 5]), null, false, true, false, -1, false), 'ERR_SHAPE', /expected b with K = 3/);
    expectError(() => g(a, empty([5, 3]), empty([4, 5]), empty([4]), false, true, false, -1, false), 'ERR_SHAPE', /bias of shape \[5\]/);
    expectError(() => g(empty([12]), empty([5, 3]), empty([4, 5]), null, false, true, false, -1, false), 'ERR_SHAPE', /expected a with 2 dimensions but received \[12\]/);
    expectError(() => g(a, empty([5, 3], 'bfloat16'), empty([4, 5]), null, false, true, false, -1, false), 'ERR_DTYPE', /b/);
    expectError(() => g(a, empty([5, 3]), empty([4, 5], 'bfloat16'), null, false, true, false, -1, false), 'ERR_DTYPE', /c/);
    const h = empty([4, 3], 'bfloat16');
    expectError(() => g(h, empty([5, 3], 'bfloat16'), empty([4, 5], 'bfloat16'), null, false, true, true, -1, false), 'ERR_DTYPE', /accumulate expects a float32 output but received bfloat16/);
    expectError(() => g(a, empty([5, 3]), empty([4, 5]), null, false, true, false, 4, false), 'ERR_RANGE', /maxIsa/);
    expectError(() => g(a, empty([5, 3]), empty([4, 5]), null, false, 'yes', false, -1, false), 'ERR_ARGUMENT', /transB/);
    expectError(() => g(a, empty([5, 3]), empty([4, 5]), null, false, true, false, -1), 'ERR_ARGUMENT', /async/);
  });
});

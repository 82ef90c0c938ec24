import { describe, expect, it } from 'vitest';
import { ops, setNumThreads, numThreads, tensor, zeros, type FloatDType } from '../lib';
import { decodeToFloat32 } from '../lib/dtype';

import { embeddingBackwardRef, embeddingRef } from './reference/embedding';
import { assertBitEqual, assertClose, expectError, expectRejection, randomArray, rng } from './helpers';

// storage rounding of the output dominates for half types
const TOL: Record<FloatDType, { rtol: number; atol: number }> = {
  float32: { rtol: 2e-6, atol: 1e-6 },
  float16: { rtol: 1e-3, atol: 1e-4 },
  bfloat16: { rtol: 8e-3, atol: 1e-3 },
};
const DTYPES: FloatDType[] = ['float32', 'float16', 'bfloat16'];

function make(n: number, shape: number[], dtype: FloatDType, seed: number, scale = 1) {
  const t = tensor(Float32Array.from(randomArray(n, rng(seed), scale)), shape, { dtype });
  return { t, held: Float64Array.from(decodeToFloat32(dtype, t.data)) };
}

describe('ops.embedding', () => {
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
  });
});

// ---- embeddingBackward ------------------------------------------------------------------------

/** The op's promised bits: per element, float32 sum from the initial value, rows in increasing index. */
function sequentialSum(dy: ArrayLike<number>, tokens: ArrayLike<number>, V: number, D: number, init?: ArrayLike<number>): Float32Array {
  const g = init ? Float32Array.from(init) : new Float32Array(V * D);
  for (let i = 0; i < tokens.length; i++) for (let d = 0; d < D; d++) g[tokens[i]! * D + d] = Math.fround(g[tokens[i]! * D + d]! + dy[i * D + d]!);
  return g;
}

/** tokens in [0, V) with one heavy token (the padding case) taking about a third of the rows */
function tokenIds(n: number, V: number, seed: number): Int32Array {
  const r = rng(seed);
  return Int32Array.from({ length: n }, () => (r() < 0.35 ? 3 : Math.floor(r() * V)));
}

describe('ops.embeddingBackward', () => {
  for (const dtype of DTYPES)
    it(`embeddingBackward is the float32 sum in row order and within gamma_m of the float64 reference (${dtype})`, () => {
      // D = 1031: two full 512-column blocks and a tail; 600 rows, V = 37 (heavy token 3, absent tokens)
      const N = 600, V = 37, D = 1031;
      const dy = make(N * D, [20, 30, D], dtype, 21, 2);
      const tok = tokenIds(N, V, 5);
      const g = ops.embeddingBackward(dy.t, tensor(tok, [20, 30]), { vocabSize: V });
      expect(g.shape).toEqual([V, D]);
      expect(g.dtype).toBe('float32');
      assertBitEqual(g.data as Float32Array, sequentialSum(dy.held, tok, V, D), `${dtype} bits`);
      // a float32 sum of m terms is within (m - 1) u sum |terms| of the exact sum (Higham, gamma_{m-1})
      const ref = embeddingBackwardRef(dy.held, tok, V, D);
      const abs = embeddingBackwardRef(dy.held.map(Math.abs), tok, V, D);
      const count = new Float64Array(V);
      for (const t of tok) count[t]!++;
      const got = g.data as Float32Array;
      for (let i = 0; i < V * D; i++) {
        const m = count[Math.floor(i / D)]!;
        const tol = Math.max(0, m - 1) * 2 ** -24 * abs[i]! * 1.01;
        if (!(Math.abs(got[i]! - ref[i]!) <= tol)) throw new Error(`[${i}] got ${got[i]} reference ${ref[i]} tol ${tol}`);
      }
    });

  it('embeddingBackward agrees with central finite differences of the float64 reference forward', () => {
    // L(table) = sum_{i,d} dy[i,d] * embedding(table, tokens)[i,d]; dL/dtable by central differences
    const V = 5, D = 3, N = 7;
    const dy = make(N * D, [N, D], 'float32', 23, 1);
    const tok = Int32Array.from([4, 0, 4, 2, 4, 0, 1]);
    const table = randomArray(V * D, rng(3));
    const L = (tb: Float64Array) => embeddingRef(tb, tok, D).reduce((s, y, k) => s + dy.held[k]! * y, 0);
    const got = ops.embeddingBackward(dy.t, tensor(tok), { vocabSize: V }).data as Float32Array;
    for (let k = 0; k < V * D; k++) {
      const h = 1e-4;
      const p = Float64Array.from(table), m = Float64Array.from(table);
      p[k]! += h;
      m[k]! -= h;
      const fd = (L(p) - L(m)) / (2 * h);
      expect(Math.abs(got[k]! - fd)).toBeLessThanOrEqual(1e-9 + 4 * 2 ** -24 * Math.abs(fd));
    }
  });

  it('embeddingBackward gives the same bits at 1, 2, 3 and 5 threads, sync and Async, int32 and int64 tokens', async () => {
    const N = 2000, V = 50, D = 700;
    const dy = make(N * D, [N, D], 'bfloat16', 25, 1);
    const tok = tokenIds(N, V, 9);
    const keep = numThreads();
    try {
      setNumThreads(1);
      const want = ops.embeddingBackward(dy.t, tensor(tok), { vocabSize: V }).data as Float32Array;
      for (const n of [2, 3, 5]) {
        setNumThreads(n);
        assertBitEqual(ops.embeddingBackward(dy.t, tensor(tok), { vocabSize: V }).data as Float32Array, want, `${n} threads`);
        assertBitEqual((await ops.embeddingBackwardAsync(dy.t, tensor(BigInt64Array.from(tok, BigInt)), { vocabSize: V })).data as Float32Array, want, `${n} threads, Async, int64`);
      }
    } finally {
      setNumThreads(keep);
    }
  });

  it('embeddingBackward accumulates into out; overwrites it otherwise; vocabSize from out', () => {
    const V = 6, D = 4;
    const dy = make(3 * D, [3, D], 'float16', 27, 1);
    const tok = Int32Array.from([2, 5, 2]);
    const init = Float32Array.from(randomArray(V * D, rng(4)));
    const out = tensor(Float32Array.from(init), [V, D]);
    expect(ops.embeddingBackward(dy.t, tensor(tok), { out, accumulate: true })).toBe(out);
    assertBitEqual(out.data as Float32Array, sequentialSum(dy.held, tok, V, D, init), 'accumulate');
    ops.embeddingBackward(dy.t, tensor(tok), { out, vocabSize: V });
    assertBitEqual(out.data as Float32Array, sequentialSum(dy.held, tok, V, D), 'overwrite');
    expect(Array.from(ops.embeddingBackward(zeros([0, D]), tensor(new Int32Array(0)), { vocabSize: 2 }).data)).toEqual(new Array(2 * D).fill(0));
  });

  it('embeddingBackward: a token out of range is ERR_RANGE naming its index, and nothing is written; bad arguments typed', async () => {
    const V = 4, D = 2;
    const out = tensor(Float32Array.from([1, 2, 3, 4, 5, 6, 7, 8]), [V, D]);
    const dy = zeros([3, D]);
    expectError(() => ops.embeddingBackward(dy, tensor([1, 4, 0], undefined, { dtype: 'int32' }), { out, accumulate: true }), 'ERR_RANGE', /token 4 at index 1 is outside \[0, 4\)/);
    expectError(() => ops.embeddingBackward(dy, tensor([1, 0, -1], undefined, { dtype: 'int32' }), { out }), 'ERR_RANGE', /token -1 at index 2/);
    await expectRejection(ops.embeddingBackwardAsync(dy, tensor([9n, 0n, 0n]), { out }), 'ERR_RANGE', /token 9 at index 0/);
    expect(Array.from(out.data)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    const tok = tensor([0, 1, 2], undefined, { dtype: 'int32' });
    expectError(() => ops.embeddingBackward(dy, tok), 'ERR_ARGUMENT', /vocabSize/);
    expectError(() => ops.embeddingBackward(dy, tok, { vocabSize: 4, accumulate: true }), 'ERR_ARGUMENT', /accumulate/);
    expectError(() => ops.embeddingBackward(dy, tok, { vocabSize: 0 }), 'ERR_RANGE', /vocabSize/);
    expectError(() => ops.embeddingBackward(dy, tok, { vocabSize: 5, out }), 'ERR_SHAPE', /out/);
    expectError(() => ops.embeddingBackward(dy, tok, { out: zeros([V, D], 'bfloat16') }), 'ERR_DTYPE', /out/);
    expectError(() => ops.embeddingBackward(zeros([2, D]), tok, { vocabSize: 4 }), 'ERR_SHAPE', /tokens/);
    expectError(() => ops.embeddingBackward(dy, tensor([0, 1, 2]), { vocabSize: 4 }), 'ERR_DTYPE', /tokens/);
  });
});

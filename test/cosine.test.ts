import { describe, expect, it } from 'vitest';
import { empty, numThreads, setNumThreads, similarity, tensor, zeros, type FloatDType } from '../lib';
import { decodeToFloat32 } from '../lib/dtype';
import { cosineRef, filterRef } from './reference/cosine';
import { assertBitEqual, assertClose, expectError, expectRejection, randomArray, rng } from './helpers';

function make(n: number, shape: number[], dtype: FloatDType, seed: number) {
  const t = tensor(Float32Array.from(randomArray(n, rng(seed))), shape, { dtype });
  return { t, held: Float64Array.from(decodeToFloat32(dtype, t.data as Float32Array)) };
}

describe('similarity.cosine', () => {
  // [N, M, E]: N <= 4 takes the decode-shaped GEMM path, E > 512 spans several K slices
  const shapes: [number, number, number][] = [[1, 1, 1], [3, 5, 7], [4, 70, 33], [33, 17, 100], [70, 6, 769]];
  for (const dtype of ['float32', 'float16', 'bfloat16'] as const)
    for (const [n, m, e] of shapes)
      it(`matches the float64 reference: ${dtype} [${n}, ${e}] x [${m}, ${e}] and paired`, () => {
        const a = make(n * e, [n, e], dtype, n + e);
        const b = make(m * e, [m, e], dtype, m + e + 1);
        const s = similarity.cosine(a.t, b.t);
        expect(s.shape).toEqual([n, m]);
        assertClose(s.data, cosineRef(a.held, b.held, n, m, e), { atol: 2e-6, rtol: 0, name: 'all pairs' });
        const b2 = make(n * e, [n, e], dtype, 9);
        const p = similarity.cosine(a.t, b2.t, { paired: true });
        expect(p.shape).toEqual([n]);
        assertClose(p.data, cosineRef(a.held, b2.held, n, n, e, true), { atol: 2e-6, rtol: 0, name: 'paired' });
      });

  it('zero vectors give 0, parallel vectors 1, opposite -1, and results stay in [-1, 1]', () => {
    const a = tensor([[0, 0, 0], [1, 2, 3], [1, 2, 3], [3e-20, 1e-20, 2e-20]]);
    const b = tensor([[0, 0, 0], [2, 4, 6], [-1, -2, -3], [0.3, 0.1, 0.2]]);
    const p = similarity.cosine(a, b, { paired: true }).data;
    expect(p[0]).toBe(0);
    expect(p[1]).toBeCloseTo(1, 6);
    expect(p[2]).toBeCloseTo(-1, 6);
    expect(p[3]).toBeCloseTo(1, 5); // tiny magnitudes
    const all = similarity.cosine(a, b).data;
    expect(Array.from(all.subarray(0, 4))).toEqual([0, 0, 0, 0]); // a zero row
    for (const v of all) expect(Math.abs(v)).toBeLessThanOrEqual(1);
    // many near-parallel pairs: rounding must never leave [-1, 1]
    const r = rng(4);
    const x = Float32Array.from({ length: 64 * 50 }, () => r() - 0.5);
    const s = similarity.cosine(tensor(x, [64, 50]), tensor(x.map((v) => v * 3), [64, 50]), { paired: true }).data;
    for (const v of s) expect(v).toBeLessThanOrEqual(1);
    expect(Math.min(...s)).toBeGreaterThan(0.99999);
  });

  it('NaN propagates; E = 0 gives 0; N = 0 and M = 0 give empty outputs', () => {
    const s = similarity.cosine(tensor([[NaN, 1]]), tensor([[1, 1], [0, 0]])).data;
    expect(Number.isNaN(s[0])).toBe(true);
    expect(s[1]).toBe(0);
    expect(Array.from(similarity.cosine(empty([2, 0]), empty([3, 0])).data)).toEqual([0, 0, 0, 0, 0, 0]);
    expect(similarity.cosine(empty([0, 4]), zeros([3, 4])).shape).toEqual([0, 3]);
    expect(similarity.cosine(zeros([2, 4]), empty([0, 4])).shape).toEqual([2, 0]);
  });

  it('writes into out; async and any thread count give the same bits; inputs are unchanged', async () => {
    const a = make(37 * 300, [37, 300], 'bfloat16', 1);
    const b = make(90 * 300, [90, 300], 'bfloat16', 2);
    const before = [a.t.data.slice(), b.t.data.slice()];
    const out = empty([37, 90]);
    expect(similarity.cosine(a.t, b.t, { out })).toBe(out);
    assertBitEqual(a.t.data, before[0]!);
    assertBitEqual(b.t.data, before[1]!);
    assertBitEqual((await similarity.cosineAsync(a.t, b.t)).data, out.data);
    const keep = numThreads();
    try {
      // paired rows of a with other rows (not a with itself, whose cosines are all ~1)
      const a2 = make(37 * 300, [37, 300], 'bfloat16', 3);
      setNumThreads(1);
      const paired1 = similarity.cosine(a.t, a2.t, { paired: true }).data;
      for (const n of [1, 2, 3, 7]) {
        setNumThreads(n);
        assertBitEqual(similarity.cosine(a.t, b.t).data, out.data, `${n} threads`);
        assertBitEqual(similarity.cosine(a.t, a2.t, { paired: true }).data, paired1, `paired, ${n} threads vs 1`);
      }
    } finally {
      setNumThreads(keep);
    }
  });

  it('rejects bad input with typed errors', async () => {
    const a = zeros([2, 3]);
    expectError(() => similarity.cosine(tensor([1], [1, 1], { dtype: 'int32' }), a), 'ERR_DTYPE', /expected a of dtype float32 or float16 or bfloat16 but received int32/);
    expectError(() => similarity.cosine(a, zeros([2, 3], 'float16')), 'ERR_DTYPE', /expected b of dtype float32 but received float16/);
    expectError(() => similarity.cosine(a, zeros([4, 2])), 'ERR_SHAPE', /expected b of shape \[4, 3\] \(from a \[2, 3\]\) but received \[4, 2\]/);
    expectError(() => similarity.cosine(a, zeros([4, 3]), { paired: true }), 'ERR_SHAPE', /expected b of shape \[2, 3\] .*paired/);
    expectError(() => similarity.cosine(zeros([6]), a), 'ERR_SHAPE', /expected a with 2 dimensions/);
    expectError(() => similarity.cosine(a, a, { paired: 1 } as never), 'ERR_ARGUMENT', /expected a boolean for paired/);
    expectError(() => similarity.cosine(a, a, { out: zeros([2]) }), 'ERR_SHAPE', /expected out of shape \[2, 2\]/);
    expectError(() => similarity.cosine(a, a, { eps: 1 } as never), 'ERR_ARGUMENT', /unknown option 'eps'/);
    const d = zeros([2, 3]);
    d.dispose();
    expectError(() => similarity.cosine(a, d), 'ERR_DETACHED');
    await expectRejection(similarity.cosineAsync(a, zeros([2, 4])), 'ERR_SHAPE');
    const { native } = await import('../lib/native');
    expectError(() => native.cosine(a, zeros([2, 4]), false, zeros([2, 2]), false), 'ERR_SHAPE', /expected b of shape \[2, 3\] \(from a \[2, 3\]\) but received \[2, 4\]/);
    expectError(() => native.cosine(a, a, false, zeros([2]), false), 'ERR_SHAPE', /expected out of shape \[2, 2\]/);
    expectError(() => native.cosine(a, a, true, zeros([2, 2]), false), 'ERR_SHAPE', /expected out of shape \[2\]/);
    expectError(() => (native.cosine as (...x: unknown[]) => void)(a, a, 'no', zeros([2]), false), 'ERR_ARGUMENT', /paired/);
  });
});

describe('similarity.filter', () => {
  it('keeps candidates whose similarity to every reference is below the threshold (default 0.97)', () => {
    const refs = tensor([[1, 0, 0, 0], [0, 1, 0, 0]]);
    const cands = tensor([
      [1, 0.1, 0, 0], // cos 0.995 with ref 0: a near-duplicate
      [1, 1, 0, 0], // 0.707 with both
      [0, 0, 1, 0], // orthogonal
      [0, 1, 0, 0], // identical to ref 1
      [0.2, 1, 0.1, 0], // 0.976 with ref 1: just above 0.97
    ]);
    expect(Array.from(similarity.filter(cands, refs).data)).toEqual([0, 1, 1, 0, 0]);
    expect(Array.from(similarity.filter(cands, refs, { threshold: 0.999 }).data)).toEqual([1, 1, 1, 0, 1]);
    expect(Array.from(similarity.filter(cands, refs, { threshold: 0.5 }).data)).toEqual([0, 0, 1, 0, 0]);
  });

  it('is strict at the threshold (similarity == threshold is dropped)', () => {
    const c = tensor([[1, 0], [3, 4]]);
    const r = tensor([[0, 1], [6, 8]]);
    // similarities: exactly 0 and exactly 1
    expect(Array.from(similarity.filter(c, r, { paired: true, threshold: 0 }).data)).toEqual([0, 0]);
    expect(Array.from(similarity.filter(c, r, { paired: true, threshold: 1e-7 }).data)).toEqual([1, 0]);
    expect(Array.from(similarity.filter(c, r, { paired: true, threshold: 1 }).data)).toEqual([1, 0]);
    expect(Array.from(similarity.filter(c, r, { paired: true, threshold: 1.0001 }).data)).toEqual([1, 1]);
  });

  it('matches the float64 reference on random embeddings, all pairs and paired', () => {
    for (const dtype of ['float32', 'bfloat16'] as const) {
      const n = 50;
      const e = 96;
      const c = make(n * e, [n, e], dtype, 3);
      const r = make(7 * e, [7, e], dtype, 4);
      for (const threshold of [-0.1, 0.1, 0.25]) {
        expect(Array.from(similarity.filter(c.t, r.t, { threshold }).data, Boolean)).toEqual(filterRef(c.held, r.held, n, 7, e, threshold));
      }
      const r2 = make(n * e, [n, e], dtype, 5);
      expect(Array.from(similarity.filter(c.t, r2.t, { threshold: 0, paired: true }).data, Boolean)).toEqual(filterRef(c.held, r2.held, n, n, e, 0, true));
    }
  });

  it('no references keeps everything; a NaN similarity drops the candidate; async is identical', async () => {
    expect(Array.from(similarity.filter(zeros([3, 4]), empty([0, 4])).data)).toEqual([1, 1, 1]);
    expect(Array.from(similarity.filter(tensor([[NaN, 1], [1, 0]]), tensor([[0, 1]])).data)).toEqual([0, 1]);
    const c = make(40 * 30, [40, 30], 'float16', 6);
    const r = make(5 * 30, [5, 30], 'float16', 7);
    assertBitEqual((await similarity.filterAsync(c.t, r.t, { threshold: 0.2 })).data, similarity.filter(c.t, r.t, { threshold: 0.2 }).data);
  });

  it('rejects bad input with typed errors', async () => {
    const a = zeros([2, 3]);
    expectError(() => similarity.filter(a, zeros([2, 4])), 'ERR_SHAPE', /expected references of shape \[2, 3\] \(from candidates \[2, 3\]\)/);
    expectError(() => similarity.filter(a, zeros([3, 3]), { paired: true }), 'ERR_SHAPE', /expected references of shape \[2, 3\]/);
    expectError(() => similarity.filter(a, a, { threshold: Infinity }), 'ERR_RANGE', /threshold/);
    expectError(() => similarity.filter(a, a, { threshold: '0.9' as never }), 'ERR_ARGUMENT', /threshold/);
    expectError(() => similarity.filter(tensor([1], [1, 1], { dtype: 'uint8' }), a), 'ERR_DTYPE', /candidates/);
    expectError(() => similarity.filter(a, a, { eps: 0.9 } as never), 'ERR_ARGUMENT', /unknown option 'eps'/);
    await expectRejection(similarity.filterAsync(a, zeros([1, 2])), 'ERR_SHAPE');
    const { native } = await import('../lib/native');
    expectError(() => native.similarityFilter(a, a, false, NaN, zeros([2], 'bool'), false), 'ERR_ARGUMENT', /expected a number for threshold but received number NaN/);
    expectError(() => native.similarityFilter(a, a, false, 0.9, zeros([3], 'bool'), false), 'ERR_SHAPE', /keep/);
    expectError(() => native.similarityFilter(a, a, false, 0.9, zeros([2]), false), 'ERR_DTYPE', /keep/);
  });
});

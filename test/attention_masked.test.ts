import { describe, expect, it } from 'vitest';
import { attention, numThreads, setNumThreads, tensor, zeros, empty, type FloatDType, type Tensor } from '../lib';
import { decodeToFloat32 } from '../lib/dtype';
import { native } from '../lib/native';
import { attentionBound, attentionRef, type AttentionRefArgs } from './reference/attention_masked';
import { imageKeyMaskRef } from './reference/image_key_mask';
import { assertBitEqual, assertClose, expectError, expectRejection, randomArray, rng } from './helpers';

// float32 checks outside the dtype loop below (masking, GQA layout, async) use TOL.float32; the
// dtype loop uses the derived bound of attentionBound (test/reference/attention_masked.ts).
const TOL: Record<'float32', { rtol: number; atol: number }> = {
  float32: { rtol: 2e-5, atol: 2e-5 },
};
// Storing a float32 result in the dtype (round to nearest even, once): relative unit and half the
// subnormal spacing.
const ROUNDING: Record<FloatDType, { unit: number; tiny: number }> = {
  float32: { unit: 0, tiny: 0 },
  float16: { unit: 2 ** -11, tiny: 2 ** -25 },
  bfloat16: { unit: 2 ** -8, tiny: 2 ** -134 },
};

/** max |x - e| / bound (<= 1 passes); an element whose bound is 0 (an empty row) must equal e. */
function worstRatio(x: ArrayLike<number>, e: ArrayLike<number>, bound: Float64Array): { ratio: number; at: number } {
  let ratio = 0;
  let at = -1;
  for (let i = 0; i < e.length; i++) {
    const err = Math.abs(x[i]! - e[i]!);
    const r = err === 0 ? 0 : bound[i]! > 0 ? err / bound[i]! : Infinity;
    if (!(r <= ratio)) (ratio = Number.isNaN(r) ? Infinity : r), (at = i);
  }
  return { ratio, at };
}

function assertWithinBound(x: ArrayLike<number>, e: ArrayLike<number>, bound: Float64Array, name: string): void {
  const { ratio, at } = worstRatio(x, e, bound);
  if (ratio > 1)
    throw new Error(`${name}: |out - ref| exceeds the derived bound ${ratio.toFixed(2)}x at ${at}: out ${x[at]} ref ${e[at]} bound ${bound[at]}`);
}

/** A float64 result as a kernel of `dtype` would store it. */
const stored = (x: Float64Array, dtype: FloatDType) =>
  Float64Array.from(decodeToFloat32(dtype, tensor(Float32Array.from(x), [x.length], { dtype }).data as never));
const LSE_TOL = { rtol: 2e-5, atol: 2e-5 }; // lse is float32 for every dtype

type Case = Pick<AttentionRefArgs, 'B' | 'Hq' | 'Hkv' | 'Tq' | 'T' | 'd'>;

/** Random q, k, v of `dtype` and the float64 values they hold after rounding. */
function make(c: Case, dtype: FloatDType, seed: number, scale = 1) {
  const r = rng(seed);
  const mk = (shape: number[]) => {
    const n = shape.reduce((a, b) => a * b, 1);
    const t = tensor(Float32Array.from(randomArray(n, r, scale)), shape, { dtype });
    return { t, held: Float64Array.from(decodeToFloat32(dtype, t.data as never)) };
  };
  const q = mk([c.B, c.Hq, c.Tq, c.d]);
  const k = mk([c.B, c.Hkv, c.T, c.d]);
  const v = mk([c.B, c.Hkv, c.T, c.d]);
  return { q, k, v, ref: { q: q.held, k: k.held, v: v.held, ...c } };
}

const f32 = (t: Tensor) => t.toFloat32Array();

/** keep(b, j) from a bool [B, L] mask. */
const keepFrom = (m: Uint8Array, L: number) => (b: number, j: number) => m[b * L + j] !== 0;

describe('attention.masked vs the float64 reference', () => {
  const cases: [string, Case, { causal?: boolean; queryOffset?: number; kvLength?: number; scale?: number }][] = [
    ['odd sizes, GQA 2, not causal', { B: 2, Hq: 4, Hkv: 2, Tq: 5, T: 37, d: 19 }, {}],
    ['causal prefill, GQA 3, several query tiles', { B: 1, Hq: 6, Hkv: 2, Tq: 45, T: 45, d: 64 }, { causal: true }],
    ['MQA (Hkv = 1), odd head count', { B: 2, Hq: 5, Hkv: 1, Tq: 9, T: 23, d: 33 }, { causal: true }],
    ['MHA (Hq = Hkv)', { B: 1, Hq: 3, Hkv: 3, Tq: 7, T: 7, d: 8 }, { causal: true }],
    ['decode Tq = 1 over > 512 keys (key splits)', { B: 2, Hq: 8, Hkv: 2, Tq: 1, T: 1100, d: 128 }, { causal: true }],
    ['Tq = 3 decode, explicit queryOffset, kvLength < T', { B: 2, Hq: 4, Hkv: 2, Tq: 3, T: 700, d: 40 }, { causal: true, queryOffset: 600, kvLength: 650 }],
    ['head dim 256', { B: 1, Hq: 2, Hkv: 1, Tq: 40, T: 50, d: 256 }, { causal: true }],
    ['head dim 130 (padded to 160: not a multiple of 128)', { B: 1, Hq: 2, Hkv: 1, Tq: 6, T: 34, d: 130 }, { causal: true }],
    ['head dim 1', { B: 1, Hq: 2, Hkv: 2, Tq: 4, T: 9, d: 1 }, {}],
    ['custom scale, chunked prefill offset', { B: 1, Hq: 4, Hkv: 4, Tq: 6, T: 20, d: 16 }, { causal: true, queryOffset: 10, scale: 0.37 }],
    ['negative queryOffset: first rows see nothing', { B: 1, Hq: 2, Hkv: 1, Tq: 8, T: 5, d: 16 }, { causal: true, queryOffset: -3 }],
    ['kvLength 0: every row empty', { B: 1, Hq: 2, Hkv: 1, Tq: 3, T: 4, d: 8 }, { kvLength: 0 }],
  ];
  for (const dtype of ['float32', 'float16', 'bfloat16'] as const)
    for (const [name, c, opts] of cases)
      it(`${dtype}: ${name}`, () => {
        const { q, k, v, ref } = make(c, dtype, c.T * 31 + c.d);
        const { out, lse } = attention.masked(q.t, k.t, v.t, { ...opts, returnLse: true });
        expect(out.dtype).toBe(dtype);
        expect(out.shape).toEqual([c.B, c.Hq, c.Tq, c.d]);
        expect(lse.shape).toEqual([c.B, c.Hq, c.Tq]);
        const e = attentionRef({ ...ref, ...opts });
        const bound = attentionBound({ ...ref, ...opts }, ROUNDING[dtype].unit, ROUNDING[dtype].tiny);
        assertWithinBound(f32(out), e.out, bound, `out ${name}`);
        assertClose(lse.data, e.lse, { ...LSE_TOL, name: `lse ${name}` });
      });

  // The bound must catch wrong kernels, in every dtype: their (stored) outputs must fail it.
  describe('the derived bound fails known-wrong kernels', () => {
    const wrongCases: [string, Case, { causal?: boolean }][] = [
      ['decode over 1100 keys (3 key splits)', { B: 1, Hq: 4, Hkv: 2, Tq: 1, T: 1100, d: 128 }, { causal: true }],
      ['causal prefill, 45 keys', { B: 1, Hq: 2, Hkv: 1, Tq: 45, T: 45, d: 64 }, { causal: true }],
    ];
    /** Key splits of `len` keys each merged without rescaling to a common max (the bug). */
    function noRescaleMerge(a: AttentionRefArgs, len: number): Float64Array {
      const { B, Hq, Hkv, Tq, T, d } = a;
      const out = new Float64Array(B * Hq * Tq * d);
      const offset = T - Tq;
      for (let b = 0; b < B; b++)
        for (let h = 0; h < Hq; h++)
          for (let i = 0; i < Tq; i++) {
            const row = (b * Hq + h) * Tq + i;
            const kvh = Math.floor(h / (Hq / Hkv));
            const num = new Float64Array(d);
            let den = 0;
            for (let j0 = 0; j0 <= offset + i && j0 < T; j0 += len) {
              const end = Math.min(j0 + len, offset + i + 1, T);
              const sc: number[] = [];
              for (let j = j0; j < end; j++) {
                let dot = 0;
                for (let t = 0; t < d; t++) dot += a.q[row * d + t]! * a.k[((b * Hkv + kvh) * T + j) * d + t]!;
                sc.push(dot / Math.sqrt(d));
              }
              const m = Math.max(...sc);
              sc.forEach((x, jj) => {
                const p = Math.exp(x - m);
                den += p;
                for (let t = 0; t < d; t++) num[t] = num[t]! + p * a.v[((b * Hkv + kvh) * T + j0 + jj) * d + t]!;
              });
            }
            for (let t = 0; t < d; t++) out[row * d + t] = num[t]! / den;
          }
      return out;
    }
    for (const dtype of ['float32', 'float16', 'bfloat16'] as const)
      for (const [name, c, opts] of wrongCases)
        it(`${dtype}: ${name}`, () => {
          const { q, k, v, ref } = make(c, dtype, c.T * 31 + c.d);
          const args = { ...ref, ...opts };
          const e = attentionRef(args).out;
          const bound = attentionBound(args, ROUNDING[dtype].unit, ROUNDING[dtype].tiny);
          // the real kernel passes ...
          expect(worstRatio(f32(attention.masked(q.t, k.t, v.t, opts)), e, bound).ratio).toBeLessThanOrEqual(1);
          // ... and each wrong one fails
          const wrong: [string, Float64Array][] = [
            ['one 16-key block dropped', attentionRef({ ...args, keep: (_b, j) => j < 16 || j >= 32 }).out],
            ['scale 1/d instead of 1/sqrt(d)', attentionRef({ ...args, scale: 1 / c.d }).out],
            ['no rescale in the split merge', noRescaleMerge(args, c.T > 512 ? 512 : 16)],
          ];
          for (const [what, w] of wrong)
            expect(worstRatio(stored(w, dtype), e, bound).ratio, `${what} must fail the bound`).toBeGreaterThan(1);
        });
  });

  it('negative offsets and kvLength 0 give zeros and -Infinity, never NaN', () => {
    const c = { B: 1, Hq: 2, Hkv: 1, Tq: 8, T: 5, d: 16 };
    const { q, k, v } = make(c, 'float32', 3);
    const { out, lse } = attention.masked(q.t, k.t, v.t, { causal: true, queryOffset: -3, returnLse: true });
    const o = out.data as Float32Array;
    for (let h = 0; h < 2; h++)
      for (let i = 0; i < 3; i++) {
        expect(lse.data[h * 8 + i]).toBe(-Infinity);
        for (let t = 0; t < 16; t++) expect(o[(h * 8 + i) * 16 + t]).toBe(0);
      }
    expect(Number.isFinite(lse.data[3])).toBe(true);
    expect(o.some((x) => Number.isNaN(x))).toBe(false);
  });

  it('large score magnitudes stay finite (online max subtraction)', () => {
    const c = { B: 1, Hq: 2, Hkv: 1, Tq: 3, T: 600, d: 32 };
    const { q, k, v, ref } = make(c, 'float32', 9, 6); // scores up to ~ +-200
    const { out, lse } = attention.masked(q.t, k.t, v.t, { returnLse: true });
    const e = attentionRef(ref);
    assertClose(out.data as Float32Array, e.out, { rtol: 1e-4, atol: 1e-4 });
    assertClose(lse.data, e.lse, { rtol: 1e-5, atol: 1e-4 });
  });
});

describe('attention.masked key masking', () => {
  const c = { B: 3, Hq: 4, Hkv: 2, Tq: 12, T: 60, d: 24 };
  const spans: [number, number][][] = [[[5, 20], [30, 10]], [[0, 16]], []];
  const isImage = (b: number, j: number) => spans[b]!.some(([s, l]) => j >= s && j < s + l);

  it('keyMask: masked keys never contribute (true = may attend)', () => {
    const { q, k, v, ref } = make(c, 'float32', 11);
    const r = rng(12);
    const m = new Uint8Array(c.B * c.T).map(() => (r() < 0.6 ? 1 : 0));
    const y = attention.masked(q.t, k.t, v.t, { keyMask: tensor(m, [c.B, c.T], { dtype: 'bool' }), causal: true });
    assertClose(y.data as Float32Array, attentionRef({ ...ref, causal: true, keep: keepFrom(m, c.T) }).out, TOL.float32);
    // uint8 masks work the same, nonzero = attend
    const u = tensor(m.map((x) => x * 7), [c.B, c.T], { dtype: 'uint8' });
    assertBitEqual(attention.masked(q.t, k.t, v.t, { keyMask: u, causal: true }).data as Float32Array, y.data as Float32Array);
  });

  it('a masked key holding NaN/Infinity does not leak into the output', () => {
    const { q, k, v, ref } = make(c, 'float32', 13);
    const m = new Uint8Array(c.B * c.T).fill(1);
    const kd = k.t.data as Float32Array;
    const vd = v.t.data as Float32Array;
    // key 7 of batch row 1, kv head 0: NaN key and infinite value, masked out
    m[1 * c.T + 7] = 0;
    kd[((1 * c.Hkv + 0) * c.T + 7) * c.d + 3] = NaN;
    vd[((1 * c.Hkv + 0) * c.T + 7) * c.d + 5] = Infinity;
    const y = attention.masked(q.t, k.t, v.t, { keyMask: tensor(m, [c.B, c.T], { dtype: 'bool' }) });
    assertClose(y.data as Float32Array, attentionRef({ ...ref, keep: keepFrom(m, c.T) }).out, TOL.float32);
  });

  it('a kept key whose score is NaN makes its row NaN (out and lse), whatever the key blocking', () => {
    const { q, k, v, ref } = make(c, 'float32', 17);
    const qd = q.t.data as Float32Array;
    const kd = k.t.data as Float32Array;
    const m = new Uint8Array(c.B * c.T).fill(1);
    // batch row 0, head 1, query 2: NaN in q, so every score of the row is NaN
    qd[((0 * c.Hq + 1) * c.Tq + 2) * c.d + 4] = NaN;
    // batch row 2, kv head 1: key 3 holds NaN and is the only kept key of keys 0..15
    m.fill(0, 2 * c.T, 2 * c.T + 16);
    m[2 * c.T + 3] = 1;
    kd[((2 * c.Hkv + 1) * c.T + 3) * c.d] = NaN;
    const keep = keepFrom(m, c.T);
    const e = attentionRef({ ...ref, q: Float64Array.from(qd), k: Float64Array.from(kd), keep });
    for (const Tq of [c.Tq, 2]) {
      // Tq = 2 (the CUDA decode path) uses the first two queries only: rebuild q and the reference
      const qs = Tq === c.Tq ? q.t : tensor(Float32Array.from({ length: c.B * c.Hq * 2 * c.d }, (_, i) => {
        const row = Math.floor(i / (2 * c.d)), r = i % (2 * c.d);
        return qd[row * c.Tq * c.d + r]!;
      }), [c.B, c.Hq, 2, c.d]);
      const er = Tq === c.Tq ? e : attentionRef({ ...ref, Tq: 2, q: Float64Array.from(qs.data as Float32Array), k: Float64Array.from(kd), keep });
      const { out, lse } = attention.masked(qs, k.t, v.t, { keyMask: tensor(m, [c.B, c.T], { dtype: 'bool' }), returnLse: true });
      assertClose(out.data as Float32Array, er.out, { ...TOL.float32, name: `out Tq ${Tq}` });
      assertClose(lse.data, er.lse, { ...LSE_TOL, name: `lse Tq ${Tq}` });
      const o = out.data as Float32Array;
      if (Tq === c.Tq) {
        const row = (0 * c.Hq + 1) * c.Tq + 2;
        expect(Number.isNaN(lse.data[row])).toBe(true);
        expect(o.slice(row * c.d, (row + 1) * c.d).every((x) => Number.isNaN(x))).toBe(true);
      }
      const row2 = (2 * c.Hq + 2) * Tq; // batch row 2, head 2 (kv head 1), query 0
      expect(Number.isNaN(lse.data[row2])).toBe(true);
      expect(Number.isFinite(lse.data[(2 * c.Hq + 0) * Tq])).toBe(true); // kv head 0 is clean
    }
  });

  it('a keyMask longer than kvLength is read as its prefix', () => {
    const { q, k, v, ref } = make(c, 'float32', 14);
    const r = rng(15);
    const L = c.T + 17;
    const m = new Uint8Array(c.B * L).map(() => (r() < 0.7 ? 1 : 0));
    const y = attention.masked(q.t, k.t, v.t, { keyMask: tensor(m, [c.B, L], { dtype: 'bool' }), kvLength: 50, causal: true });
    assertClose(y.data as Float32Array, attentionRef({ ...ref, kvLength: 50, causal: true, keep: keepFrom(m, L) }).out, TOL.float32);
  });

  it('rows whose keys are all masked return zeros and lse -Infinity', () => {
    const { q, k, v } = make(c, 'bfloat16', 16);
    const m = new Uint8Array(c.B * c.T).fill(1);
    m.fill(0, c.T, 2 * c.T); // batch row 1: nothing to attend
    const { out, lse } = attention.masked(q.t, k.t, v.t, { keyMask: tensor(m, [c.B, c.T], { dtype: 'bool' }), returnLse: true });
    const o = f32(out);
    const rowLen = c.Hq * c.Tq;
    for (let i = 0; i < rowLen; i++) expect(lse.data[rowLen + i]).toBe(-Infinity);
    for (let i = 0; i < rowLen * c.d; i++) expect(o[rowLen * c.d + i]).toBe(0);
    expect(o.some((x) => Number.isNaN(x))).toBe(false);
    expect(Number.isFinite(lse.data[0])).toBe(true);
  });

  it('maskRatio 0 equals unmasked attention, bit for bit', () => {
    const { q, k, v } = make(c, 'float16', 17);
    const plain = attention.masked(q.t, k.t, v.t, { causal: true, returnLse: true });
    const zero = attention.masked(q.t, k.t, v.t, { causal: true, imageSpans: spans, maskRatio: 0, seed: 5, returnLse: true });
    assertBitEqual(zero.out.data as Uint16Array, plain.out.data as Uint16Array);
    assertBitEqual(zero.lse.data, plain.lse.data);
  });

  it('maskRatio 1 equals attention over the non-image keys only', () => {
    const { q, k, v, ref } = make(c, 'float32', 18);
    const y = attention.masked(q.t, k.t, v.t, { imageSpans: spans, maskRatio: 1, seed: 123 });
    assertClose(y.data as Float32Array, attentionRef({ ...ref, keep: (b, j) => !isImage(b, j) }).out, TOL.float32);
    // and equals attention over k/v with those keys physically removed (row 0 keeps 30 keys)
    const keepIdx = [...Array(c.T).keys()].filter((j) => !isImage(0, j));
    const pick = (t: Tensor) => {
      const src = t.data as Float32Array;
      const dst = new Float32Array(c.Hkv * keepIdx.length * c.d);
      for (let h = 0; h < c.Hkv; h++)
        keepIdx.forEach((j, n) => dst.set(src.subarray(((0 * c.Hkv + h) * c.T + j) * c.d, ((0 * c.Hkv + h) * c.T + j + 1) * c.d), (h * keepIdx.length + n) * c.d));
      return tensor(dst, [1, c.Hkv, keepIdx.length, c.d]);
    };
    const q0 = tensor((q.t.data as Float32Array).slice(0, c.Hq * c.Tq * c.d), [1, c.Hq, c.Tq, c.d]);
    const y0 = attention.masked(q0, pick(k.t), pick(v.t));
    assertClose((y.data as Float32Array).subarray(0, c.Hq * c.Tq * c.d), y0.data as Float32Array, { rtol: 1e-5, atol: 1e-6 });
  });

  it('maskRatio 0.5 blocks exactly the keys of the Philox reference draw', () => {
    const { q, k, v, ref } = make(c, 'float32', 19);
    const m = imageKeyMaskRef(spans, c.T, 0.5, 77, 3);
    const y = attention.masked(q.t, k.t, v.t, { imageSpans: spans, maskRatio: 0.5, seed: 77, offset: 3, causal: true });
    assertClose(y.data as Float32Array, attentionRef({ ...ref, causal: true, keep: keepFrom(m, c.T) }).out, TOL.float32);
    // the same as drawing the mask first and passing it as keyMask
    const keep = attention.imageKeyMask(spans, { maskRatio: 0.5, seed: 77, offset: 3, length: c.T });
    assertBitEqual(attention.masked(q.t, k.t, v.t, { keyMask: keep, causal: true }).data as Float32Array, y.data as Float32Array);
  });

  it('keyMask and imageSpans combine by AND', () => {
    const { q, k, v, ref } = make(c, 'float32', 20);
    const r = rng(21);
    const pad = new Uint8Array(c.B * c.T).map(() => (r() < 0.8 ? 1 : 0));
    const img = imageKeyMaskRef(spans, c.T, 0.6, 9, 0);
    const y = attention.masked(q.t, k.t, v.t, { keyMask: tensor(pad, [c.B, c.T], { dtype: 'bool' }), imageSpans: spans, maskRatio: 0.6, seed: 9 });
    assertClose(y.data as Float32Array, attentionRef({ ...ref, keep: (b, j) => pad[b * c.T + j] === 1 && img[b * c.T + j] === 1 }).out, TOL.float32);
  });
});

describe('attention.masked options, determinism and errors', () => {
  const c = { B: 2, Hq: 4, Hkv: 2, Tq: 17, T: 40, d: 32 };

  it('writes into out and lseOut and checks them', () => {
    const { q, k, v, ref } = make(c, 'float32', 30);
    const out = zeros([c.B, c.Hq, c.Tq, c.d]);
    const lseOut = zeros([c.B, c.Hq, c.Tq]);
    const r = attention.masked(q.t, k.t, v.t, { out, lseOut, causal: true });
    expect(r.out).toBe(out);
    expect(r.lse).toBe(lseOut);
    const e = attentionRef({ ...ref, causal: true });
    assertClose(out.data, e.out, TOL.float32);
    assertClose(lseOut.data, e.lse, LSE_TOL);
    expectError(() => attention.masked(q.t, k.t, v.t, { out: zeros([c.B, c.Hq, c.Tq, c.d + 1]) }), 'ERR_SHAPE', /expected out of shape \[2, 4, 17, 32\]/);
    expectError(() => attention.masked(q.t, k.t, v.t, { out: zeros([c.B, c.Hq, c.Tq, c.d], 'float16') }), 'ERR_DTYPE', /out of dtype float32/);
    expectError(() => attention.masked(q.t, k.t, v.t, { lseOut: zeros([c.B, c.Hq]) }), 'ERR_SHAPE', /lseOut of shape \[2, 4, 17\]/);
  });

  it('returns only the output without returnLse', () => {
    const { q, k, v } = make(c, 'float32', 31);
    const y = attention.masked(q.t, k.t, v.t);
    expect(y.shape).toEqual([c.B, c.Hq, c.Tq, c.d]);
    expect('lse' in y).toBe(false);
  });

  it('does not modify its inputs', () => {
    const { q, k, v } = make(c, 'bfloat16', 32);
    const m = tensor(new Uint8Array(c.B * c.T).fill(1), [c.B, c.T], { dtype: 'bool' });
    const before = [q.t, k.t, v.t, m].map((t) => (t.data as Uint16Array).slice());
    attention.masked(q.t, k.t, v.t, { keyMask: m, imageSpans: [[[2, 9]], [[30, 10]]], maskRatio: 0.5, causal: true });
    [q.t, k.t, v.t, m].forEach((t, i) => assertBitEqual(t.data as Uint16Array, before[i] as Uint16Array, `input ${i}`));
  });

  it('async gives bit-identical results (prefill, decode, image masking)', async () => {
    for (const [cc, dtype] of [[c, 'bfloat16'], [{ B: 2, Hq: 8, Hkv: 2, Tq: 1, T: 1300, d: 64 }, 'float32']] as const) {
      const { q, k, v } = make(cc, dtype, 33);
      const opts = { causal: true, imageSpans: [[[3, 20]], [[0, 8], [10, 5]]], maskRatio: 0.7, seed: 4, returnLse: true } as const;
      const a = attention.masked(q.t, k.t, v.t, opts);
      const b = await attention.maskedAsync(q.t, k.t, v.t, opts);
      assertBitEqual(a.out.data as Float32Array, b.out.data as Float32Array);
      assertBitEqual(a.lse.data, b.lse.data);
    }
  });

  it('is bit-identical for any thread count (prefill tiles and decode splits)', () => {
    const before = numThreads();
    try {
      const cases = [
        make({ B: 3, Hq: 6, Hkv: 2, Tq: 50, T: 80, d: 48 }, 'float32', 34),
        make({ B: 2, Hq: 8, Hkv: 4, Tq: 1, T: 2100, d: 128 }, 'bfloat16', 35),
        make({ B: 1, Hq: 4, Hkv: 1, Tq: 3, T: 1030, d: 20 }, 'float16', 36),
      ];
      for (const { q, k, v } of cases) {
        setNumThreads(1);
        const ref = attention.masked(q.t, k.t, v.t, { causal: true, returnLse: true });
        for (const n of [2, 3, 7]) {
          setNumThreads(n);
          const r = attention.masked(q.t, k.t, v.t, { causal: true, returnLse: true });
          assertBitEqual(r.out.data as Uint16Array, ref.out.data as Uint16Array, `${n} threads`);
          assertBitEqual(r.lse.data, ref.lse.data, `${n} threads lse`);
        }
      }
    } finally {
      setNumThreads(before);
    }
  });

  it('accepts onnxruntime-style tensors', () => {
    const { q, k, v, ref } = make({ B: 1, Hq: 2, Hkv: 1, Tq: 2, T: 3, d: 4 }, 'float32', 37);
    const ort = (t: Tensor) => ({ type: 'float32', data: t.data as Float32Array, dims: t.shape });
    const y = attention.masked(ort(q.t), ort(k.t), ort(v.t));
    assertClose(y.data as Float32Array, attentionRef(ref).out, TOL.float32);
  });

  it('rejects bad shapes, head counts and dtypes with typed errors', () => {
    const { q, k, v } = make(c, 'float32', 38);
    const f = (shape: number[], dtype: FloatDType = 'float32') => empty(shape, dtype);
    expectError(() => attention.masked(f([2, 4, 17]), k.t, v.t), 'ERR_SHAPE', /expected q with 4 dimensions but received \[2, 4, 17\]/);
    expectError(() => attention.masked(q.t, f([2, 3, 40, 32]), f([2, 3, 40, 32])), 'ERR_SHAPE', /Hq = 4 to be a multiple of the kv heads but received Hkv = 3/);
    expectError(() => attention.masked(q.t, f([2, 0, 40, 32]), f([2, 0, 40, 32])), 'ERR_SHAPE', /multiple of the kv heads/);
    expectError(() => attention.masked(q.t, f([3, 2, 40, 32]), f([3, 2, 40, 32])), 'ERR_SHAPE', /expected k of shape \[2, 2, 40, 32\] \(from q \[2, 4, 17, 32\]\) but received \[3, 2, 40, 32\]/);
    expectError(() => attention.masked(q.t, f([2, 2, 40, 16]), f([2, 2, 40, 16])), 'ERR_SHAPE', /expected k of shape/);
    expectError(() => attention.masked(q.t, k.t, f([2, 2, 41, 32])), 'ERR_SHAPE', /expected v of shape \[2, 2, 40, 32\]/);
    expectError(() => attention.masked(f([1, 1, 1, 257]), f([1, 1, 2, 257]), f([1, 1, 2, 257])), 'ERR_SHAPE', /head dim d in \[1, 256\]/);
    expectError(() => attention.masked(f([1, 1, 1, 0]), f([1, 1, 2, 0]), f([1, 1, 2, 0])), 'ERR_SHAPE', /head dim d in \[1, 256\]/);
    expectError(() => attention.masked(q.t, f([2, 2, 40, 32], 'bfloat16'), v.t), 'ERR_DTYPE', /q, k and v of one dtype but received float32, bfloat16 and float32/);
    expectError(() => attention.masked(empty([2, 4, 17, 32], 'int32'), k.t, v.t), 'ERR_DTYPE', /expected q of dtype float32 or float16 or bfloat16 but received int32/);
    expectError(() => attention.masked(q.t, k.t, v.t, { keyMask: empty([2, 40], 'float32') }), 'ERR_DTYPE', /keyMask of dtype bool or uint8/);
    expectError(() => attention.masked(q.t, k.t, v.t, { keyMask: empty([2, 39], 'bool') }), 'ERR_SHAPE', /keyMask of shape \[2, L\] with L >= 40/);
    expectError(() => attention.masked(q.t, k.t, v.t, { keyMask: empty([3, 40], 'bool') }), 'ERR_SHAPE', /keyMask of shape/);
    expectError(() => attention.masked(new Float32Array(4) as never, k.t, v.t), 'ERR_ARGUMENT', /expected a Tensor for q/);
  });

  it('rejects bad options with typed errors', () => {
    const { q, k, v } = make(c, 'float32', 39);
    expectError(() => attention.masked(q.t, k.t, v.t, { bogus: 1 } as never), 'ERR_ARGUMENT', /unknown option 'bogus'/);
    expectError(() => attention.masked(q.t, k.t, v.t, { kvLength: 41 }), 'ERR_RANGE', /expected kvLength an integer >= 0 <= 40 but received 41/);
    expectError(() => attention.masked(q.t, k.t, v.t, { kvLength: 2.5 }), 'ERR_RANGE', /kvLength/);
    expectError(() => attention.masked(q.t, k.t, v.t, { scale: Infinity }), 'ERR_RANGE', /scale/);
    expectError(() => attention.masked(q.t, k.t, v.t, { scale: 1e39 }), 'ERR_RANGE', /scale representable in float32/);
    expectError(() => attention.masked(q.t, k.t, v.t, { scale: 'x' as never }), 'ERR_ARGUMENT', /expected a number for scale/);
    expectError(() => attention.masked(q.t, k.t, v.t, { causal: 1 as never }), 'ERR_ARGUMENT', /expected a boolean for causal/);
    expectError(() => attention.masked(q.t, k.t, v.t, { causal: true, queryOffset: 0.5 }), 'ERR_RANGE', /queryOffset/);
    expectError(() => attention.masked(q.t, k.t, v.t, { maskRatio: 0.5 }), 'ERR_ARGUMENT', /maskRatio only together with imageSpans/);
    expectError(() => attention.masked(q.t, k.t, v.t, { seed: 1 }), 'ERR_ARGUMENT', /seed only together with imageSpans/);
    const spans = [[[0, 4]], [[1, 2]]];
    expectError(() => attention.masked(q.t, k.t, v.t, { imageSpans: spans, maskRatio: 1.5 }), 'ERR_RANGE', /expected maskRatio a finite number >= 0 <= 1 but received 1.5/);
    expectError(() => attention.masked(q.t, k.t, v.t, { imageSpans: spans, maskRatio: -0.1 }), 'ERR_RANGE', /maskRatio/);
    expectError(() => attention.masked(q.t, k.t, v.t, { imageSpans: spans, maskRatio: NaN }), 'ERR_ARGUMENT', /maskRatio/);
    expectError(() => attention.masked(q.t, k.t, v.t, { imageSpans: spans, seed: -1 }), 'ERR_RANGE', /seed/);
    expectError(() => attention.masked(q.t, k.t, v.t, { imageSpans: [[[0, 4]]] }), 'ERR_SHAPE', /imageSpans with 2 rows \(the batch size\) but received 1/);
    expectError(() => attention.masked(q.t, k.t, v.t, { imageSpans: [[[0, 4]], [[38, 3]]] }), 'ERR_RANGE', /imageSpans\[1\]\[0\] = \[38, 3\] inside \[0, 40\) \(kvLength\)/);
    expectError(() => attention.masked(q.t, k.t, v.t, { imageSpans: [[[0, 4]], [[-1, 3]]] }), 'ERR_RANGE', /non-negative start/);
    expectError(() => attention.masked(q.t, k.t, v.t, { imageSpans: [[[0, 4], [3, 2]], []] }), 'ERR_RANGE', /non-overlapping imageSpans but row 0 has \[0, 4\] and \[3, 2\]/);
    expectError(() => attention.masked(q.t, k.t, v.t, { imageSpans: [[[0, 4.5]], []] }), 'ERR_ARGUMENT', /\[start, length\] pair of integers/);
    expectError(() => attention.masked(q.t, k.t, v.t, { imageSpans: [[0, 4], []] as never }), 'ERR_ARGUMENT', /\[start, length\] pair/);
    expectError(() => attention.masked(q.t, k.t, v.t, { imageSpans: 'x' as never }), 'ERR_ARGUMENT', /imageSpans to be an array/);
    const d = q.t.clone();
    d.dispose();
    expectError(() => attention.masked(d, k.t, v.t), 'ERR_DETACHED', /q was disposed/);
  });

  it('async rejects with typed errors', async () => {
    const { q, k, v } = make(c, 'float32', 40);
    await expectRejection(attention.maskedAsync(q.t, k.t, v.t, { kvLength: 99 }), 'ERR_RANGE', /kvLength/);
    await expectRejection(attention.maskedAsync(q.t, empty([2, 3, 40, 32]), empty([2, 3, 40, 32])), 'ERR_SHAPE', /multiple of the kv heads/);
  });

  it('the raw binding re-checks everything and never crashes', () => {
    const { q, k, v } = make(c, 'float32', 41);
    const out = empty([c.B, c.Hq, c.Tq, c.d]);
    const call = (...args: unknown[]) => (native.attentionMasked as unknown as (...a: unknown[]) => unknown)(...args);
    expectError(() => call(q.t, k.t, v.t, out, null, null, 1, false, 0, 41, false), 'ERR_RANGE', /kvLength <= 40/);
    expectError(() => call(q.t, empty([2, 3, 40, 32]), empty([2, 3, 40, 32]), out, null, null, 1, false, 0, 40, false), 'ERR_SHAPE', /multiple of the kv heads/);
    expectError(() => call(q.t, k.t, empty([2, 2, 39, 32]), out, null, null, 1, false, 0, 39, false), 'ERR_SHAPE', /expected v of shape \[2, 2, 40, 32\] \(from k \[2, 2, 40, 32\]\) but received \[2, 2, 39, 32\]/);
    expectError(() => call(q.t, k.t, v.t, empty([2, 4, 17, 31]), null, null, 1, false, 0, 40, false), 'ERR_SHAPE', /out of shape/);
    expectError(() => call(q.t, k.t, v.t, out, empty([2, 4]), null, 1, false, 0, 40, false), 'ERR_SHAPE', /expected lse with 3 dimensions but received \[2, 4\]/);
    expectError(() => call(q.t, k.t, v.t, out, null, empty([2, 10], 'bool'), 1, false, 0, 40, false), 'ERR_SHAPE', /keyMask of shape/);
    expectError(() => call(q.t, k.t, v.t, out, null, empty([2, 40], 'int32'), 1, false, 0, 40, false), 'ERR_DTYPE', /keyMask/);
    expectError(() => call(q.t, k.t, v.t, empty([2, 4, 17, 32], 'float16'), null, null, 1, false, 0, 40, false), 'ERR_DTYPE', /one dtype/);
    expectError(() => call(q.t, k.t, v.t, out, null, null, NaN, false, 0, 40, false), 'ERR_RANGE', /finite scale/);
    expectError(() => call(q.t, k.t, v.t, out, null, null, 1, 'no', 0, 40, false), 'ERR_ARGUMENT', /causal/);
    expectError(() => call(q.t, k.t, v.t, out, null, null, 1, false, 0.5, 40, false), 'ERR_RANGE', /queryOffset/);
    expectError(() => call(q.t, k.t, v.t, out), 'ERR_ARGUMENT', /async flag/);
    expectError(() => call(q.t, k.t, v.t, false), 'ERR_ARGUMENT', /expected 11 arguments .* but received 4/);
    expectError(() => call(q.t, k.t, false), 'ERR_ARGUMENT', /expected 11 arguments .* but received 3/);
    expectError(() => call({ _code: 0, shape: [1], _device: -1, _store: new Float32Array(2) }, k.t, v.t, out, null, null, 1, false, 0, 40, false), 'ERR_SHAPE', /needs 4 bytes/);
  });
});

import { describe, expect, it } from 'vitest';
import { attention, empty, numThreads, setNumThreads, tensor, type FloatDType, type Tensor } from '../lib';
import { decodeToFloat32 } from '../lib/dtype';
import { native } from '../lib/native';
import { attentionBackwardBound, attentionBackwardRef, attentionBound, attentionRef, type AttentionRefArgs } from './reference/attention_masked';
import { imageKeyMaskRef } from './reference/image_key_mask';
import { assertBitEqual, assertClose, expectError, expectRejection, randomArray, rng } from './helpers';

// attention.maskedBackward against (1) the float64 chain-rule reference, itself checked against
// central finite differences of the float64 forward, within (2) the derived float32 error bound
// of attentionBackwardBound (test/reference/attention_masked.ts), whose inputs are the forward's
// own out (off the exact output by at most attentionBound) and lse.

// Rounding of a float32 result stored in the dtype (as in attention_masked.test.ts).
const ROUNDING: Record<FloatDType, { unit: number; tiny: number }> = {
  float32: { unit: 0, tiny: 0 },
  float16: { unit: 2 ** -11, tiny: 2 ** -25 },
  bfloat16: { unit: 2 ** -8, tiny: 2 ** -134 },
};

type Case = Pick<AttentionRefArgs, 'B' | 'Hq' | 'Hkv' | 'Tq' | 'T' | 'd'>;
type Opts = { causal?: boolean; queryOffset?: number; kvLength?: number; scale?: number };

/** Random q, k, v, dOut of `dtype` and the float64 values they hold. */
function make(c: Case, dtype: FloatDType, seed: number) {
  const r = rng(seed);
  const mk = (shape: number[]) => {
    const n = shape.reduce((a, b) => a * b, 1);
    const t = tensor(Float32Array.from(randomArray(n, r)), shape, { dtype });
    return { t, held: Float64Array.from(decodeToFloat32(dtype, t.data as never)) };
  };
  const q = mk([c.B, c.Hq, c.Tq, c.d]);
  const k = mk([c.B, c.Hkv, c.T, c.d]);
  const v = mk([c.B, c.Hkv, c.T, c.d]);
  const g = mk([c.B, c.Hq, c.Tq, c.d]);
  return { q, k, v, g, ref: { q: q.held, k: k.held, v: v.held, ...c } as AttentionRefArgs };
}

const f32 = (t: Tensor) => t.toFloat32Array();

/** max |x - e| / bound (<= 1 passes); an element whose bound is 0 must equal e exactly. */
function worstRatio(x: ArrayLike<number>, e: ArrayLike<number>, bound: ArrayLike<number>): { ratio: number; at: number } {
  let ratio = 0;
  let at = -1;
  for (let i = 0; i < e.length; i++) {
    const err = Math.abs(x[i]! - e[i]!);
    const r = err === 0 ? 0 : bound[i]! > 0 ? err / bound[i]! : Infinity;
    if (!(r <= ratio)) (ratio = Number.isNaN(r) ? Infinity : r), (at = i);
  }
  return { ratio, at };
}

function assertWithinBound(x: ArrayLike<number>, e: ArrayLike<number>, bound: ArrayLike<number>, name: string): void {
  const { ratio, at } = worstRatio(x, e, bound);
  if (ratio > 1) throw new Error(`${name}: |x - ref| exceeds the derived bound ${ratio.toFixed(2)}x at ${at}: got ${x[at]} ref ${e[at]} bound ${bound[at]}`);
}

/** Forward (our kernel, as a trainer would call it) then backward. */
function run(m: ReturnType<typeof make>, opts: Opts & { keyMask?: Tensor; imageSpans?: [number, number][][]; maskRatio?: number; seed?: number }) {
  const { out, lse } = attention.masked(m.q.t, m.k.t, m.v.t, { ...opts, returnLse: true });
  return { out, lse, ...attention.maskedBackward(m.g.t, m.q.t, m.k.t, m.v.t, out, lse, opts) };
}

/** Central finite differences of L = sum(dOut * attentionRef(x).out) for the inputs listed. */
function finiteDiff(a: AttentionRefArgs, dOut: Float64Array, which: 'q' | 'k' | 'v', idx: number[], h = 1e-6): number[] {
  const L = (x: Float64Array) => {
    const o = attentionRef({ ...a, [which]: x }).out;
    let s = 0;
    for (let i = 0; i < o.length; i++) s += dOut[i]! * o[i]!;
    return s;
  };
  const base = Float64Array.from(a[which]);
  return idx.map((i) => {
    const p = base.slice();
    const m = base.slice();
    p[i] = p[i]! + h;
    m[i] = m[i]! - h;
    return (L(p) - L(m)) / (2 * h);
  });
}

const keepFrom = (m: Uint8Array, L: number) => (b: number, j: number) => m[b * L + j] !== 0;

// Small odd shapes that leave tails in every blocking: CPU key blocks of 64, row groups of 4, head
// dims padded to 32 and lane chunks of 16; CUDA key tiles of 32.
const cases: [string, Case, Opts][] = [
  ['odd sizes, GQA 2, not causal', { B: 2, Hq: 4, Hkv: 2, Tq: 5, T: 37, d: 19 }, {}],
  ['causal prefill, GQA 3, two key blocks + tail', { B: 1, Hq: 6, Hkv: 2, Tq: 70, T: 70, d: 33 }, { causal: true }],
  ['MQA, odd head count', { B: 2, Hq: 5, Hkv: 1, Tq: 9, T: 23, d: 17 }, { causal: true }],
  ['MHA, custom scale, chunked-prefill offset', { B: 1, Hq: 3, Hkv: 3, Tq: 7, T: 20, d: 8 }, { causal: true, queryOffset: 10, scale: 0.37 }],
  ['negative queryOffset: first rows see nothing', { B: 1, Hq: 2, Hkv: 1, Tq: 8, T: 5, d: 16 }, { causal: true, queryOffset: -3 }],
  ['kvLength < T: the last keys get zeros', { B: 1, Hq: 4, Hkv: 2, Tq: 6, T: 40, d: 12 }, { causal: true, kvLength: 35 }],
  ['head dim 1', { B: 1, Hq: 2, Hkv: 2, Tq: 4, T: 9, d: 1 }, {}],
  ['head dim 130 (five column chunks + padding)', { B: 1, Hq: 2, Hkv: 1, Tq: 6, T: 34, d: 130 }, { causal: true }],
];

describe('attention.maskedBackward: the float64 reference vs finite differences', () => {
  for (const [name, c, opts] of cases.slice(0, 5))
    it(name, () => {
      const { ref } = make(c, 'float32', c.T * 7 + c.d);
      const r = rng(c.d);
      const dOut = Float64Array.from(randomArray(c.B * c.Hq * c.Tq * c.d, r));
      const a = { ...ref, ...opts };
      const g = attentionBackwardRef(a, dOut);
      for (const [which, grad] of [['q', g.dq], ['k', g.dk], ['v', g.dv]] as const) {
        const n = grad.length;
        const idx = [0, 1, Math.floor(n / 3), Math.floor(n / 2) + 1, n - 2, n - 1];
        const fd = finiteDiff(a, dOut, which, idx);
        // central differences with h = 1e-6: truncation ~h^2 |f'''| and cancellation ~1e-16 / h
        assertClose(idx.map((i) => grad[i]!), fd, { rtol: 1e-6, atol: 1e-7, name: `d${which} ${name}` });
      }
    });
});

describe('attention.maskedBackward vs the float64 reference, within the derived bound', () => {
  for (const dtype of ['float32', 'float16', 'bfloat16'] as const)
    for (const [name, c, opts] of cases)
      it(`${dtype}: ${name}`, () => {
        const m = make(c, dtype, c.T * 31 + c.d);
        const { dq, dk, dv } = run(m, opts);
        expect([dq.dtype, dk.dtype, dv.dtype]).toEqual([dtype, dtype, dtype]);
        expect(dq.shape).toEqual([c.B, c.Hq, c.Tq, c.d]);
        expect(dk.shape).toEqual([c.B, c.Hkv, c.T, c.d]);
        const a = { ...m.ref, ...opts };
        const e = attentionBackwardRef(a, m.g.held);
        const { unit, tiny } = ROUNDING[dtype];
        const bound = attentionBackwardBound(a, m.g.held, attentionBound(a, unit, tiny), unit, tiny);
        assertWithinBound(f32(dq), e.dq, bound.dq, `dq ${name}`);
        assertWithinBound(f32(dk), e.dk, bound.dk, `dk ${name}`);
        assertWithinBound(f32(dv), e.dv, bound.dv, `dv ${name}`);
      });

  it('the bound fails known-wrong gradients (D dropped, one key block dropped, scale missing in dq)', () => {
    const c = { B: 1, Hq: 4, Hkv: 2, Tq: 40, T: 40, d: 33 };
    for (const dtype of ['float32', 'bfloat16'] as const) {
      const m = make(c, dtype, 5);
      const a = { ...m.ref, causal: true };
      const e = attentionBackwardRef(a, m.g.held);
      const { unit, tiny } = ROUNDING[dtype];
      const bound = attentionBackwardBound(a, m.g.held, attentionBound(a, unit, tiny), unit, tiny);
      const { dq, dk } = run(m, { causal: true });
      expect(worstRatio(f32(dq), e.dq, bound.dq).ratio).toBeLessThanOrEqual(1);
      // D dropped (dS = P dP): dq changes by scale D_i sum_j P_ij k_j = scale D_i (attention with k as values)_i
      const { out } = attentionRef(a);
      const pk = attentionRef({ ...a, v: a.k }).out;
      const scale = 1 / Math.sqrt(c.d);
      const noD = { dq: e.dq.slice() };
      for (let row = 0; row < c.Hq * c.Tq; row++) {
        let D = 0;
        for (let t = 0; t < c.d; t++) D += m.g.held[row * c.d + t]! * out[row * c.d + t]!;
        for (let t = 0; t < c.d; t++) noD.dq[row * c.d + t] = noD.dq[row * c.d + t]! + scale * D * pk[row * c.d + t]!;
      }
      expect(worstRatio(noD.dq, e.dq, bound.dq).ratio, 'D dropped must fail').toBeGreaterThan(1);
      const dropped = attentionBackwardRef({ ...a, keep: (_b, j) => j < 16 || j >= 32 }, m.g.held);
      expect(worstRatio(dropped.dk, e.dk, bound.dk).ratio, 'dropped block must fail').toBeGreaterThan(1);
      const noScale = e.dq.map((x) => x * Math.sqrt(c.d));
      expect(worstRatio(noScale, e.dq, bound.dq).ratio, 'missing scale must fail').toBeGreaterThan(1);
      expect(worstRatio(f32(dk), e.dk, bound.dk).ratio).toBeLessThanOrEqual(1);
    }
  });
});

describe('attention.maskedBackward masks', () => {
  const c = { B: 3, Hq: 4, Hkv: 2, Tq: 12, T: 60, d: 24 };
  const spans: [number, number][][] = [[[5, 20], [30, 10]], [[0, 16]], []];

  it('keyMask with a fully masked batch row: zero gradients there, never NaN', () => {
    const m = make(c, 'float32', 11);
    const r = rng(12);
    const mask = new Uint8Array(c.B * c.T).map(() => (r() < 0.6 ? 1 : 0));
    mask.fill(0, c.T, 2 * c.T); // batch row 1 sees nothing
    const keyMask = tensor(mask, [c.B, c.T], { dtype: 'bool' });
    const { dq, dk, dv } = run(m, { causal: true, keyMask });
    const a = { ...m.ref, causal: true, keep: keepFrom(mask, c.T) };
    const e = attentionBackwardRef(a, m.g.held);
    const bound = attentionBackwardBound(a, m.g.held, attentionBound(a, 0, 0), 0, 0);
    assertWithinBound(f32(dq), e.dq, bound.dq, 'dq');
    assertWithinBound(f32(dk), e.dk, bound.dk, 'dk');
    assertWithinBound(f32(dv), e.dv, bound.dv, 'dv');
    const qRow = c.Hq * c.Tq * c.d;
    const kRow = c.Hkv * c.T * c.d;
    expect(Array.from((dq.data as Float32Array).subarray(qRow, 2 * qRow)).every((x) => x === 0)).toBe(true);
    expect(Array.from((dk.data as Float32Array).subarray(kRow, 2 * kRow)).every((x) => x === 0)).toBe(true);
    expect(Array.from((dv.data as Float32Array).subarray(kRow, 2 * kRow)).every((x) => x === 0)).toBe(true);
    for (const t of [dq, dk, dv]) expect((t.data as Float32Array).some((x) => Number.isNaN(x))).toBe(false);
  });

  it('a masked key holding NaN/Infinity does not leak into any gradient', () => {
    const m = make(c, 'float32', 13);
    const mask = new Uint8Array(c.B * c.T).fill(1);
    mask[1 * c.T + 7] = 0;
    const kd = m.k.t.data as Float32Array;
    const vd = m.v.t.data as Float32Array;
    kd[((1 * c.Hkv + 0) * c.T + 7) * c.d + 3] = NaN;
    vd[((1 * c.Hkv + 0) * c.T + 7) * c.d + 5] = Infinity;
    const keyMask = tensor(mask, [c.B, c.T], { dtype: 'bool' });
    const { dq, dk, dv } = run(m, { keyMask });
    for (const t of [dq, dk, dv]) expect((t.data as Float32Array).some((x) => !Number.isFinite(x))).toBe(false);
  });

  it('imageSpans + maskRatio + seed mask exactly the forward draw (= keyMask from imageKeyMask, bit for bit)', () => {
    const m = make(c, 'bfloat16', 19);
    const opts = { imageSpans: spans, maskRatio: 0.5, seed: 77, offset: 3, causal: true };
    const a = run(m, opts);
    const keep = attention.imageKeyMask(spans, { maskRatio: 0.5, seed: 77, offset: 3, length: c.T });
    const b = run(m, { causal: true, keyMask: keep });
    for (const n of ['dq', 'dk', 'dv'] as const) assertBitEqual(a[n].data as Uint16Array, b[n].data as Uint16Array, n);
    // and match the Philox reference draw within the bound
    const drawn = imageKeyMaskRef(spans, c.T, 0.5, 77, 3);
    const ra = { ...m.ref, causal: true, keep: keepFrom(drawn, c.T) };
    const e = attentionBackwardRef(ra, m.g.held);
    const { unit, tiny } = ROUNDING.bfloat16;
    const bound = attentionBackwardBound(ra, m.g.held, attentionBound(ra, unit, tiny), unit, tiny);
    assertWithinBound(f32(a.dk), e.dk, bound.dk, 'dk');
    assertWithinBound(f32(a.dq), e.dq, bound.dq, 'dq');
    // maskRatio 1 blocks every image key: their dk/dv are zero
    const all = run(m, { imageSpans: spans, maskRatio: 1, seed: 1 });
    const dk1 = f32(all.dk);
    for (let j = 5; j < 25; j++) for (let t = 0; t < c.d; t++) expect(dk1[j * c.d + t]).toBe(0);
  });
});

describe('attention.maskedBackward determinism, async, errors', () => {
  const c = { B: 2, Hq: 4, Hkv: 2, Tq: 17, T: 40, d: 32 };

  it('is bit-identical for any thread count', () => {
    const before = numThreads();
    try {
      for (const [cc, dtype] of [
        [{ B: 3, Hq: 6, Hkv: 2, Tq: 50, T: 80, d: 48 }, 'float32'],
        [{ B: 1, Hq: 8, Hkv: 4, Tq: 70, T: 70, d: 128 }, 'bfloat16'],
        [{ B: 2, Hq: 4, Hkv: 1, Tq: 33, T: 41, d: 20 }, 'float16'],
      ] as const) {
        const m = make(cc, dtype, 34);
        setNumThreads(1);
        const ref = run(m, { causal: true });
        for (const n of [2, 3, 7]) {
          setNumThreads(n);
          const r = run(m, { causal: true });
          for (const g of ['dq', 'dk', 'dv'] as const) assertBitEqual(r[g].data as Uint16Array, ref[g].data as Uint16Array, `${g} ${n} threads`);
        }
      }
    } finally {
      setNumThreads(before);
    }
  });

  it('async equals sync, bit for bit', async () => {
    const m = make(c, 'float16', 40);
    const { out, lse } = attention.masked(m.q.t, m.k.t, m.v.t, { causal: true, returnLse: true });
    const a = attention.maskedBackward(m.g.t, m.q.t, m.k.t, m.v.t, out, lse, { causal: true, imageSpans: [[[2, 9]], []], maskRatio: 0.7, seed: 4 });
    const b = await attention.maskedBackwardAsync(m.g.t, m.q.t, m.k.t, m.v.t, out, lse, { causal: true, imageSpans: [[[2, 9]], []], maskRatio: 0.7, seed: 4 });
    for (const g of ['dq', 'dk', 'dv'] as const) assertBitEqual(b[g].data as Uint16Array, a[g].data as Uint16Array, g);
  });

  it('leaves its inputs unchanged', () => {
    const m = make(c, 'float32', 41);
    const { out, lse } = attention.masked(m.q.t, m.k.t, m.v.t, { returnLse: true });
    const before = [m.g.t, m.q.t, m.k.t, m.v.t, out, lse].map((t) => Float32Array.from(t.data as Float32Array));
    attention.maskedBackward(m.g.t, m.q.t, m.k.t, m.v.t, out, lse);
    [m.g.t, m.q.t, m.k.t, m.v.t, out, lse].forEach((t, i) => assertBitEqual(t.data as Float32Array, before[i]!));
  });

  it('rejects bad input with typed errors', async () => {
    const m = make(c, 'float32', 42);
    const { out, lse } = attention.masked(m.q.t, m.k.t, m.v.t, { returnLse: true });
    const bwd = (o: Partial<Record<'g' | 'q' | 'k' | 'v' | 'out' | 'lse', Tensor>>, opts?: object) =>
      attention.maskedBackward(o.g ?? m.g.t, o.q ?? m.q.t, o.k ?? m.k.t, o.v ?? m.v.t, o.out ?? out, o.lse ?? lse, opts as never);
    expectError(() => bwd({ g: empty([2, 4, 17, 31]) }), 'ERR_SHAPE', /attention.maskedBackward: expected dOut of shape \[2, 4, 17, 32\] \(from q\) but received \[2, 4, 17, 31\]/);
    expectError(() => bwd({ out: empty([2, 4, 16, 32]) }), 'ERR_SHAPE', /expected out of shape \[2, 4, 17, 32\]/);
    expectError(() => bwd({ lse: empty([2, 4, 16]) }), 'ERR_SHAPE', /expected lse of shape \[2, 4, 17\]/);
    expectError(() => bwd({ lse: empty([2, 4, 17], 'float16') }), 'ERR_DTYPE', /expected lse of dtype float32/);
    expectError(() => bwd({ g: empty([2, 4, 17, 32], 'bfloat16') }), 'ERR_DTYPE', /expected dOut of dtype float32 \(from q\) but received bfloat16/);
    expectError(() => bwd({ k: empty([2, 3, 40, 32]), v: empty([2, 3, 40, 32]) }), 'ERR_SHAPE', /multiple of the kv heads/);
    expectError(() => bwd({}, { returnLse: true }), 'ERR_ARGUMENT', /unknown option 'returnLse'/);
    expectError(() => bwd({}, { kvLength: 41 }), 'ERR_RANGE', /kvLength/);
    expectError(() => bwd({}, { maskRatio: 0.5 }), 'ERR_ARGUMENT', /maskRatio only together with imageSpans/);
    expectError(() => bwd({}, { keyMask: empty([2, 39], 'bool') }), 'ERR_SHAPE', /keyMask of shape/);
    expectError(() => bwd({}, { scale: NaN }), 'ERR_ARGUMENT', /scale/);
    const d = m.q.t.clone();
    d.dispose();
    expectError(() => bwd({ q: d }), 'ERR_DETACHED', /q was disposed/);
    await expectRejection(attention.maskedBackwardAsync(m.g.t, m.q.t, m.k.t, m.v.t, out, empty([1])), 'ERR_SHAPE', /lse with 3 dimensions/);
  });

  it('the raw binding re-checks everything and never crashes', () => {
    const m = make(c, 'float32', 43);
    const { out, lse } = attention.masked(m.q.t, m.k.t, m.v.t, { returnLse: true });
    const [dq, dk, dv] = [empty(m.q.t.shape), empty(m.k.t.shape), empty(m.v.t.shape)];
    const call = (...args: unknown[]) => (native.attentionMaskedBackward as unknown as (...a: unknown[]) => unknown)(...args);
    const ok = [m.g.t, m.q.t, m.k.t, m.v.t, out, lse, dq, dk, dv, null, 0.2, false, 0, 40, false];
    const w = (i: number, x: unknown) => ok.map((y, j) => (j === i ? x : y));
    expect(call(...ok)).toBeUndefined();
    expectError(() => call(...w(0, empty([2, 4, 17, 30]))), 'ERR_SHAPE', /attention.maskedBackward: expected dOut/);
    expectError(() => call(...w(5, empty([2, 4]))), 'ERR_SHAPE', /expected lse with 3 dimensions but received \[2, 4\]/);
    expectError(() => call(...w(6, empty([2, 4, 17, 32], 'float16'))), 'ERR_DTYPE', /dq/);
    expectError(() => call(...w(7, empty([2, 2, 39, 32]))), 'ERR_SHAPE', /dk/);
    expectError(() => call(...w(8, dk)), 'ERR_ARGUMENT', /shares memory/);
    expectError(() => call(...w(8, m.v.t)), 'ERR_ARGUMENT', /shares memory/);
    expectError(() => call(...w(13, 41)), 'ERR_RANGE', /kvLength <= 40/);
    expectError(() => call(...w(10, Infinity)), 'ERR_RANGE', /finite scale/);
    expectError(() => call(...ok.slice(0, 5)), 'ERR_ARGUMENT', /expected 15 arguments/);
  });
});

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { attention, empty, tensor, type FloatDType, type Tensor } from '../../lib';
import { assertClose, expectError, expectRejection, randomArray, rng } from '../helpers';
import { attentionBackwardBound, attentionBackwardRef, attentionBound, type AttentionRefArgs } from '../reference/attention_masked';
import { assertAttnClose } from './attn_tol';
import { scaled, skip } from './gpu';

// CUDA vs the CPU kernel: outputs within ulp(|ref|) + a float32 accumulation term that grows
// with the number of keys (attn_tol.ts); lse in float32.
const LSE = { rtol: 2e-5, atol: 2e-5 };

const maxAbs = (t: Tensor): number => t.toFloat32Array().reduce((m, x) => Math.max(m, Math.abs(x)), 0);

function rand(shape: number[], dtype: FloatDType, seed: number): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return tensor(Float32Array.from(randomArray(n, rng(seed))), shape, { dtype });
}

type Case = Pick<AttentionRefArgs, 'B' | 'Hq' | 'Hkv' | 'Tq' | 'T' | 'd'> & {
  name: string;
  opts?: { causal?: boolean; queryOffset?: number; kvLength?: number; scale?: number };
};

const cases: Case[] = [
  { name: 'prefill causal GQA', B: 2, Hq: 4 * scaled(2), Hkv: scaled(2), Tq: 77, T: 77, d: 64, opts: { causal: true } },
  { name: 'prefill not causal, odd d (scalar loads)', B: 1, Hq: 3, Hkv: 1, Tq: 33, T: 45, d: 37 },
  { name: 'prefill d = 256 (large shared memory)', B: 1, Hq: 4, Hkv: 2, Tq: 40, T: 90, d: 256, opts: { causal: true } },
  { name: 'prefill d = 1', B: 1, Hq: 2, Hkv: 2, Tq: 20, T: 20, d: 1, opts: { causal: true } },
  { name: 'chunked prefill with offset and kvLength < T', B: 2, Hq: 4, Hkv: 4, Tq: 17, T: 300, d: 48, opts: { causal: true, queryOffset: 200, kvLength: 250 } },
  { name: 'decode Tq = 1, split-K', B: 2, Hq: 4 * scaled(8), Hkv: scaled(8), Tq: 1, T: 4096, d: 128, opts: { causal: true } },
  { name: 'decode Tq = 1, short cache', B: 3, Hq: 4, Hkv: 1, Tq: 1, T: 5, d: 128, opts: { causal: true } },
  { name: 'decode Tq = 3, odd d, MQA', B: 1, Hq: 6, Hkv: 1, Tq: 3, T: 1000, d: 19, opts: { causal: true, kvLength: 777 } },
  { name: 'decode d = 256', B: 1, Hq: 4, Hkv: 2, Tq: 1, T: 700, d: 256 },
  { name: 'negative queryOffset (empty rows)', B: 1, Hq: 2, Hkv: 1, Tq: 9, T: 5, d: 32, opts: { causal: true, queryOffset: -4 } },
  { name: 'kvLength 0', B: 1, Hq: 2, Hkv: 1, Tq: 2, T: 5, d: 32, opts: { kvLength: 0 } },
];

describe('attention.masked CUDA vs CPU', { skip }, () => {
  for (const dtype of ['float32', 'float16', 'bfloat16'] as const)
    for (const c of cases)
      it(`${dtype}: ${c.name}`, () => {
        const q = rand([c.B, c.Hq, c.Tq, c.d], dtype, c.T + c.d);
        const k = rand([c.B, c.Hkv, c.T, c.d], dtype, c.T + 1);
        const v = rand([c.B, c.Hkv, c.T, c.d], dtype, c.T + 2);
        const cpu = attention.masked(q, k, v, { ...c.opts, returnLse: true });
        const [gq, gk, gv] = [q, k, v].map((t) => t.to('cuda'));
        const gpu = attention.masked(gq!, gk!, gv!, { ...c.opts, returnLse: true });
        assert.equal(gpu.out.device, 'cuda');
        const keys = c.opts?.kvLength ?? c.T;
        const ref = cpu.out.toFloat32Array();
        const check = (got: ArrayLike<number>, what: string) => assertAttnClose(got, ref, dtype, keys, c.d, maxAbs(v), what);
        check(gpu.out.toFloat32Array(), `out ${c.name}`);
        assertClose(gpu.lse.to('cpu').data, cpu.lse.data, { ...LSE, name: `lse ${c.name}` });
        if (c.name.includes('split-K')) {
          // known wrong kernels must fail the same check: an all-zero output, and a dropped block of
          // 256 keys (the output of the first T - 256 keys)
          assert.throws(() => check(new Float32Array(ref.length), 'zeros'), /outside/);
          const dropped = attention.masked(q, k, v, { ...c.opts, kvLength: keys - 256 }).toFloat32Array();
          assert.throws(() => check(dropped, 'dropped block'), /outside/);
        }
        for (const t of [gq, gk, gv, gpu.out, gpu.lse]) t!.dispose();
      });

  it('key masks: keyMask, image spans (ratio 0.99 and 1) and fully masked rows', () => {
    const [B, Hq, Hkv, T, d] = [3, 8, 2, 600, 64];
    const spans: [number, number][][] = [[[5, 576]], [[0, 10], [20, 300]], []];
    const r = rng(5);
    const pad = new Uint8Array(B * T).map(() => (r() < 0.9 ? 1 : 0));
    pad.fill(0, 2 * T, 3 * T); // batch row 2 sees nothing
    const keyMask = tensor(pad, [B, T], { dtype: 'bool' });
    for (const Tq of [1, 40]) {
      const q = rand([B, Hq, Tq, d], 'bfloat16', 6 + Tq);
      const k = rand([B, Hkv, T, d], 'bfloat16', 7);
      const v = rand([B, Hkv, T, d], 'bfloat16', 8);
      for (const maskRatio of [0.99, 1]) {
        const opts = { causal: true, keyMask, imageSpans: spans, maskRatio, seed: 3, returnLse: true } as const;
        const cpu = attention.masked(q, k, v, opts);
        const gpu = attention.masked(q.to('cuda'), k.to('cuda'), v.to('cuda'), { ...opts, keyMask: keyMask.to('cuda') });
        const go = gpu.out.toFloat32Array();
        const gl = gpu.lse.to('cpu').data;
        assertAttnClose(go, cpu.out.toFloat32Array(), 'bfloat16', T, d, maxAbs(v), `Tq ${Tq} ratio ${maskRatio}`);
        assertClose(gl, cpu.lse.data, LSE);
        const row = Hq * Tq;
        for (let i = 0; i < row; i++) assert.equal(gl[2 * row + i], -Infinity);
        for (let i = 0; i < row * d; i++) assert.equal(go[2 * row * d + i], 0);
        assert.ok(!go.some((x) => Number.isNaN(x)));
      }
    }
  });

  it('a kept key whose score is -Infinity weighs 0, as on the CPU (split and tile paths)', () => {
    const [Hq, T, d] = [2, 9, 8];
    for (const Tq of [1, 20]) {
      const q = tensor(new Float32Array(Hq * Tq * d).fill(1), [1, Hq, Tq, d]);
      const kd = Float32Array.from(randomArray(T * d, rng(21)));
      kd[0] = -Infinity; // key 0, the first key of split warp 0: score -Infinity
      const k = tensor(kd, [1, 1, T, d]);
      const v = rand([1, 1, T, d], 'float32', 22);
      const cpu = attention.masked(q, k, v, { returnLse: true });
      const gpu = attention.masked(q.to('cuda'), k.to('cuda'), v.to('cuda'), { returnLse: true });
      assert.ok(!cpu.out.toFloat32Array().some((x) => Number.isNaN(x)));
      assertAttnClose(gpu.out.toFloat32Array(), cpu.out.toFloat32Array(), 'float32', T, d, maxAbs(v), `Tq ${Tq}`);
      assertClose(gpu.lse.to('cpu').data, cpu.lse.data, LSE);
    }
  });

  it('NaN scores poison exactly the rows that see them, as on the CPU (split and tile paths)', () => {
    const [B, Hq, Hkv, T, d] = [2, 4, 2, 300, 32];
    const m = new Uint8Array(B * T).fill(1);
    m.fill(0, T, T + 64);
    m[T + 3] = 1; // batch row 1: key 3 (NaN in kv head 1) is the only kept key of keys 0..63
    const keyMask = tensor(m, [B, T], { dtype: 'bool' });
    for (const Tq of [1, 40]) {
      const qd = Float32Array.from(randomArray(B * Hq * Tq * d, rng(23)));
      qd[(1 * Tq + 0) * d + 5] = NaN; // batch row 0, head 1, query 0
      const kd = Float32Array.from(randomArray(B * Hkv * T * d, rng(24)));
      kd[((1 * Hkv + 1) * T + 3) * d] = NaN;
      const q = tensor(qd, [B, Hq, Tq, d]);
      const k = tensor(kd, [B, Hkv, T, d]);
      const v = rand([B, Hkv, T, d], 'float32', 25);
      const cpu = attention.masked(q, k, v, { keyMask, returnLse: true });
      const gpu = attention.masked(q.to('cuda'), k.to('cuda'), v.to('cuda'), { keyMask: keyMask.to('cuda'), returnLse: true });
      assert.ok(Number.isNaN(cpu.lse.data[Hq * Tq * 0 + Tq]!));
      assertAttnClose(gpu.out.toFloat32Array(), cpu.out.toFloat32Array(), 'float32', T, d, maxAbs(v), `out Tq ${Tq}`);
      assertClose(gpu.lse.to('cpu').data, cpu.lse.data, { ...LSE, name: `lse Tq ${Tq}` });
    }
  });

  it('async equals sync on the GPU, bit for bit', async () => {
    for (const Tq of [1, 50]) {
      const q = rand([2, 8, Tq, 128], 'float16', 9).to('cuda');
      const k = rand([2, 2, 1500, 128], 'float16', 10).to('cuda');
      const v = rand([2, 2, 1500, 128], 'float16', 11).to('cuda');
      const a = attention.masked(q, k, v, { causal: true, returnLse: true });
      const b = await attention.maskedAsync(q, k, v, { causal: true, returnLse: true });
      assert.deepEqual(Array.from(b.out.to('cpu').data as Uint16Array), Array.from(a.out.to('cpu').data as Uint16Array));
      assert.deepEqual(Array.from(b.lse.to('cpu').data), Array.from(a.lse.to('cpu').data));
    }
  });

  it('device mismatch and disposed memory are typed errors', async () => {
    const q = rand([1, 2, 3, 16], 'float32', 12);
    const k = rand([1, 1, 5, 16], 'float32', 13);
    const gq = q.to('cuda');
    expectError(() => attention.masked(gq, k, k), 'ERR_DEVICE', /same device/);
    expectError(() => attention.masked(gq, k.to('cuda'), k.to('cuda'), { keyMask: empty([1, 5], 'bool') }), 'ERR_DEVICE', /same device/);
    expectError(() => attention.masked(gq, k.to('cuda'), k.to('cuda'), { out: empty([1, 2, 3, 16]) }), 'ERR_DEVICE', /same device/);
    const gk = k.to('cuda');
    gk.dispose();
    expectError(() => attention.masked(gq, gk, k.to('cuda')), 'ERR_DETACHED');
    await expectRejection(attention.maskedAsync(gq, k, k), 'ERR_DEVICE');
  });
});

// ---- backward ---------------------------------------------------------------------------------
// CUDA and CPU gradients are each checked against the float64 reference within the derived bound of
// attentionBackwardBound (test/reference/attention_masked.ts), from the same forward out/lse (the
// CPU's), so |gpu - cpu| <= twice that bound; and with identical bits on repeated and async calls.

const ROUND: Record<FloatDType, [number, number]> = { float32: [0, 0], float16: [2 ** -11, 2 ** -25], bfloat16: [2 ** -8, 2 ** -134] };

function withinBound(got: ArrayLike<number>, ref: ArrayLike<number>, bound: ArrayLike<number>, name: string): void {
  let worst = 0;
  let at = -1;
  for (let i = 0; i < ref.length; i++) {
    const err = Math.abs(got[i]! - ref[i]!);
    const r = err === 0 ? 0 : bound[i]! > 0 ? err / bound[i]! : Infinity;
    if (!(r <= worst)) (worst = Number.isNaN(r) ? Infinity : r), (at = i);
  }
  assert.ok(worst <= 1, `${name}: ${worst.toFixed(2)}x the derived bound at ${at}: got ${got[at]} ref ${ref[at]} bound ${bound[at]}`);
}

type BwdCase = Pick<AttentionRefArgs, 'B' | 'Hq' | 'Hkv' | 'Tq' | 'T' | 'd'> & {
  name: string;
  opts?: { causal?: boolean; queryOffset?: number; kvLength?: number; scale?: number };
  mask?: (b: number, j: number) => boolean;
  spans?: [number, number][][];
};

const bwdCases: BwdCase[] = [
  { name: 'causal GQA, key tile tail', B: 1, Hq: 2 * scaled(2), Hkv: scaled(2), Tq: 45, T: 45, d: 33, opts: { causal: true } },
  { name: 'not causal, MQA, odd d', B: 2, Hq: 3, Hkv: 1, Tq: 7, T: 37, d: 19 },
  { name: 'd = 256 (large shared memory)', B: 1, Hq: 2, Hkv: 1, Tq: 5, T: 40, d: 256, opts: { causal: true } },
  { name: 'offset, kvLength < T, custom scale', B: 1, Hq: 2, Hkv: 2, Tq: 6, T: 40, d: 16, opts: { causal: true, queryOffset: 28, kvLength: 35, scale: 0.3 } },
  { name: 'negative queryOffset (empty rows)', B: 1, Hq: 2, Hkv: 1, Tq: 9, T: 5, d: 32, opts: { causal: true, queryOffset: -4 } },
  { name: 'keyMask with a fully masked batch row', B: 2, Hq: 4, Hkv: 2, Tq: 10, T: 50, d: 24, opts: { causal: true }, mask: (b, j) => b === 0 && j % 3 !== 1 },
];

describe('attention.maskedBackward CUDA vs CPU', { skip }, () => {
  for (const dtype of ['float32', 'float16', 'bfloat16'] as const)
    for (const c of bwdCases)
      it(`${dtype}: ${c.name}`, () => {
        const [q, k, v, g] = [
          rand([c.B, c.Hq, c.Tq, c.d], dtype, c.T + c.d),
          rand([c.B, c.Hkv, c.T, c.d], dtype, c.T + 1),
          rand([c.B, c.Hkv, c.T, c.d], dtype, c.T + 2),
          rand([c.B, c.Hq, c.Tq, c.d], dtype, c.T + 3),
        ];
        const keyMask = c.mask
          ? tensor(Uint8Array.from({ length: c.B * c.T }, (_, x) => (c.mask!(Math.floor(x / c.T), x % c.T) ? 1 : 0)), [c.B, c.T], { dtype: 'bool' })
          : undefined;
        const opts = { ...c.opts, keyMask };
        const { out, lse } = attention.masked(q, k, v, { ...opts, returnLse: true });
        const cpu = attention.maskedBackward(g, q, k, v, out, lse, opts);
        const dev = [g, q, k, v, out, lse].map((t) => t.to('cuda'));
        const gopts = { ...opts, keyMask: keyMask?.to('cuda') };
        const gpu = attention.maskedBackward(dev[0]!, dev[1]!, dev[2]!, dev[3]!, dev[4]!, dev[5]!, gopts);
        assert.equal(gpu.dq.device, 'cuda');
        const held = (t: Tensor) => Float64Array.from(t.toFloat32Array());
        const a = { q: held(q), k: held(k), v: held(v), B: c.B, Hq: c.Hq, Hkv: c.Hkv, Tq: c.Tq, T: c.T, d: c.d, ...c.opts, keep: c.mask };
        const e = attentionBackwardRef(a, held(g));
        const [unit, tiny] = ROUND[dtype];
        const bound = attentionBackwardBound(a, held(g), attentionBound(a, unit, tiny), unit, tiny);
        for (const n of ['dq', 'dk', 'dv'] as const) {
          withinBound(cpu[n].toFloat32Array(), e[n], bound[n], `cpu ${n} ${c.name}`);
          withinBound(gpu[n].toFloat32Array(), e[n], bound[n], `gpu ${n} ${c.name}`);
        }
        // repeated launches give the same bits
        const again = attention.maskedBackward(dev[0]!, dev[1]!, dev[2]!, dev[3]!, dev[4]!, dev[5]!, gopts);
        for (const n of ['dq', 'dk', 'dv'] as const)
          assert.deepEqual(Array.from(again[n].to('cpu').data as Uint16Array), Array.from(gpu[n].to('cpu').data as Uint16Array));
        for (const t of [...dev, gpu.dq, gpu.dk, gpu.dv, again.dq, again.dk, again.dv]) t.dispose();
      });

  it('image spans draw the same keys on the GPU; async equals sync bit for bit', async () => {
    const [B, Hq, Hkv, Tq, T, d] = [2, 4, 2, 12, 40, 32];
    const spans: [number, number][][] = [[[3, 20]], [[0, 8], [30, 6]]];
    const q = rand([B, Hq, Tq, d], 'bfloat16', 51), k = rand([B, Hkv, T, d], 'bfloat16', 52);
    const v = rand([B, Hkv, T, d], 'bfloat16', 53), g = rand([B, Hq, Tq, d], 'bfloat16', 54);
    const opts = { causal: true, imageSpans: spans, maskRatio: 0.5, seed: 9 };
    const { out, lse } = attention.masked(q, k, v, { ...opts, returnLse: true });
    const cpu = attention.maskedBackward(g, q, k, v, out, lse, opts);
    const dev = [g, q, k, v, out, lse].map((t) => t.to('cuda'));
    const a = attention.maskedBackward(dev[0]!, dev[1]!, dev[2]!, dev[3]!, dev[4]!, dev[5]!, opts);
    const b = await attention.maskedBackwardAsync(dev[0]!, dev[1]!, dev[2]!, dev[3]!, dev[4]!, dev[5]!, opts);
    const drawn = attention.imageKeyMask(spans, { maskRatio: 0.5, seed: 9, length: T }).data as Uint8Array;
    const held = (t: Tensor) => Float64Array.from(t.toFloat32Array());
    const ra = { q: held(q), k: held(k), v: held(v), B, Hq, Hkv, Tq, T, d, causal: true, keep: (bb: number, j: number) => drawn[bb * T + j] !== 0 };
    const e = attentionBackwardRef(ra, held(g));
    const bound = attentionBackwardBound(ra, held(g), attentionBound(ra, 2 ** -8, 2 ** -134), 2 ** -8, 2 ** -134);
    for (const n of ['dq', 'dk', 'dv'] as const) {
      withinBound(a[n].toFloat32Array(), e[n], bound[n], `gpu ${n}`);
      withinBound(cpu[n].toFloat32Array(), e[n], bound[n], `cpu ${n}`);
      assert.deepEqual(Array.from(b[n].to('cpu').data as Uint16Array), Array.from(a[n].to('cpu').data as Uint16Array));
    }
  });

  it('device mismatch is a typed error', () => {
    const q = rand([1, 2, 3, 16], 'float32', 12);
    const k = rand([1, 1, 5, 16], 'float32', 13);
    const { out, lse } = attention.masked(q, k, k, { returnLse: true });
    expectError(() => attention.maskedBackward(q.to('cuda'), q, k, k, out, lse), 'ERR_DEVICE', /same device/);
    expectError(() => attention.maskedBackward(q.to('cuda'), q.to('cuda'), k.to('cuda'), k.to('cuda'), out.to('cuda'), lse), 'ERR_DEVICE', /same device/);
  });
});

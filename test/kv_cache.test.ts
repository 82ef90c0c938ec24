import { describe, expect, it } from 'vitest';
import { attention, empty, tensor, zeros, type FloatDType, type Tensor } from '../lib';
import { decodeToFloat32 } from '../lib/dtype';
import { native } from '../lib/native';
import { attentionRef } from './reference/attention_masked';
import { imageKeyMaskRef } from './reference/image_key_mask';
import { assertBitEqual, assertClose, expectError, expectRejection, randomArray, rng } from './helpers';

const TOL: Record<FloatDType, { rtol: number; atol: number }> = {
  float32: { rtol: 2e-5, atol: 2e-5 },
  float16: { rtol: 1.5e-3, atol: 1.5e-3 },
  bfloat16: { rtol: 1e-2, atol: 1e-2 },
};

/** [B, H, T, d] random tensor of `dtype`. */
function rand(shape: number[], dtype: FloatDType, seed: number): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return tensor(Float32Array.from(randomArray(n, rng(seed))), shape, { dtype });
}

/** Positions [t0, t1) of a [B, H, T, d] tensor, as a new [B, H, t1 - t0, d] tensor. */
function slice(x: Tensor, t0: number, t1: number): Tensor {
  const [B, H, T, d] = x.shape as [number, number, number, number];
  const src = x.data as Float32Array | Uint16Array;
  const dst = new (src.constructor as Float32ArrayConstructor)(B * H * (t1 - t0) * d);
  for (let bh = 0; bh < B * H; bh++) dst.set(src.subarray((bh * T + t0) * d, (bh * T + t1) * d), bh * (t1 - t0) * d);
  return tensor(dst as Float32Array, [B, H, t1 - t0, d], { dtype: x.dtype });
}

describe('attention.KVCache', () => {
  it('preallocates per layer and appends at the filled length', () => {
    const cache = new attention.KVCache({ layers: 2, batch: 2, kvHeads: 3, headDim: 5, maxLength: 10 });
    expect(cache.dtype).toBe('float32');
    expect(cache.device).toBe('cpu');
    expect(cache.keys(0).shape).toEqual([2, 3, 10, 5]);
    expect(cache.byteLength).toBe(2 * 2 * 2 * 3 * 10 * 5 * 4);
    const k1 = rand([2, 3, 4, 5], 'float32', 1);
    const v1 = rand([2, 3, 4, 5], 'float32', 2);
    const k2 = rand([2, 3, 1, 5], 'float32', 3);
    const v2 = rand([2, 3, 1, 5], 'float32', 4);
    expect(cache.append(0, k1, v1)).toBe(4);
    expect(cache.append(0, k2, v2)).toBe(5);
    expect(cache.lengthOf(0)).toBe(5);
    expect(cache.lengthOf(1)).toBe(0);
    expect(cache.length).toBe(0); // the minimum over layers
    const kk = cache.keys(0);
    const vv = cache.values(0);
    assertBitEqual(slice(kk, 0, 4).data as Float32Array, k1.data as Float32Array, 'keys 0..3');
    assertBitEqual(slice(kk, 4, 5).data as Float32Array, k2.data as Float32Array, 'key 4');
    assertBitEqual(slice(vv, 0, 4).data as Float32Array, v1.data as Float32Array, 'values 0..3');
    assertBitEqual(slice(vv, 4, 5).data as Float32Array, v2.data as Float32Array, 'value 4');
    expect(cache.append(1, k1, v1)).toBe(4);
    expect(cache.length).toBe(4);
    const view = cache.view(0);
    expect(view.k).toBe(cache.keys(0));
    expect(view.kvLength).toBe(5);
    expect(String(cache)).toMatch(/KVCache\(2 layers, \[2, 3, 10, 5\], float32, cpu, length 4\)/);
  });

  for (const dtype of ['float32', 'bfloat16', 'float16'] as const)
    it(`decode over the cache equals full causal prefill (${dtype}, 2 layers, GQA, image mask drawn once)`, () => {
      const [B, Hq, Hkv, d, T, P, maxT] = [2, 8, 2, 32, 40, 25, 48];
      // one BDHS mask for the whole generation: spans inside the prompt, drawn for maxT positions
      const spans: [number, number][][] = [[[2, 12]], [[0, 5], [9, 9]]];
      const keyMask = attention.imageKeyMask(spans, { maskRatio: 0.7, seed: 99, length: maxT });
      const cache = new attention.KVCache({ layers: 2, batch: B, kvHeads: Hkv, headDim: d, maxLength: maxT, dtype });
      for (let layer = 0; layer < 2; layer++) {
        const q = rand([B, Hq, T, d], dtype, 10 + layer);
        const k = rand([B, Hkv, T, d], dtype, 20 + layer);
        const v = rand([B, Hkv, T, d], dtype, 30 + layer);
        const full = attention.masked(q, k, v, { causal: true, keyMask }).toFloat32Array();
        // the full prefill itself matches the reference
        const keep = imageKeyMaskRef(spans, maxT, 0.7, 99, 0);
        const held = (x: Tensor) => Float64Array.from(x.toFloat32Array());
        const e = attentionRef({ q: held(q), k: held(k), v: held(v), B, Hq, Hkv, Tq: T, T, d, causal: true, keep: (b, j) => keep[b * maxT + j] === 1 });
        assertClose(full, e.out, { ...TOL[dtype], name: 'full prefill' });
        // prefill of the prompt through the cache
        cache.append(layer, slice(k, 0, P), slice(v, 0, P));
        const pre = cache.attend(layer, slice(q, 0, P), { causal: true, keyMask }).toFloat32Array();
        assertClose(pre, slice(tensor(full, [B, Hq, T, d]), 0, P).data as Float32Array, { ...TOL[dtype], name: 'cached prefill' });
        // then one position at a time: Tq = 1, queryOffset defaults to the cache length - 1
        for (let t = P; t < T; t++) {
          cache.append(layer, slice(k, t, t + 1), slice(v, t, t + 1));
          const y = cache.attend(layer, slice(q, t, t + 1), { causal: true, keyMask }).toFloat32Array();
          assertClose(y, slice(tensor(full, [B, Hq, T, d]), t, t + 1).data as Float32Array, { ...TOL[dtype], name: `decode step ${t}` });
        }
      }
      expect(cache.length).toBe(T);
    });

  it('decode over a long cache (key splits) equals prefill, with explicit queryOffset and lse', () => {
    const [B, Hq, Hkv, d, T, P] = [1, 4, 1, 64, 1203, 1200];
    const q = rand([B, Hq, T, d], 'float32', 5);
    const k = rand([B, Hkv, T, d], 'float32', 6);
    const v = rand([B, Hkv, T, d], 'float32', 7);
    const full = attention.masked(q, k, v, { causal: true, returnLse: true });
    const cache = new attention.KVCache({ layers: 1, batch: B, kvHeads: Hkv, headDim: d, maxLength: 1300 });
    cache.append(0, slice(k, 0, P), slice(v, 0, P));
    for (let t = P; t < T; t++) {
      cache.append(0, slice(k, t, t + 1), slice(v, t, t + 1));
      const y = cache.attend(0, slice(q, t, t + 1), { causal: true, queryOffset: t, returnLse: true });
      assertClose(y.out.data as Float32Array, slice(full.out, t, t + 1).data as Float32Array, { ...TOL.float32, name: `step ${t}` });
      const lse = new Float32Array(Hq).map((_, h) => full.lse.data[h * T + t]!);
      assertClose(y.lse.data, lse, { ...TOL.float32, name: `lse ${t}` });
    }
  });

  it('attend reads the filled prefix in place: the same as masked() with kvLength, bit for bit', () => {
    const cache = new attention.KVCache({ layers: 1, batch: 1, kvHeads: 2, headDim: 16, maxLength: 64, dtype: 'bfloat16' });
    cache.append(0, rand([1, 2, 20, 16], 'bfloat16', 8), rand([1, 2, 20, 16], 'bfloat16', 9));
    const q = rand([1, 4, 3, 16], 'bfloat16', 10);
    const a = cache.attend(0, q, { causal: true, returnLse: true });
    const b = attention.masked(q, cache.keys(0), cache.values(0), { causal: true, kvLength: 20, returnLse: true });
    assertBitEqual(a.out.data as Uint16Array, b.out.data as Uint16Array);
    assertBitEqual(a.lse.data, b.lse.data);
    // positions past the filled length are never read: poisoning them changes nothing
    for (const buf of [cache.keys(0), cache.values(0)])
      for (let h = 0; h < 2; h++) (buf.data as Uint16Array).fill(0x7fc0, (h * 64 + 20) * 16, (h * 64 + 64) * 16); // NaN
    assertBitEqual(cache.attend(0, q, { causal: true }).data as Uint16Array, a.out.data as Uint16Array);
  });

  it('reset rewinds every layer (e.g. to the shared prompt) and keeps the memory', () => {
    const cache = new attention.KVCache({ layers: 2, batch: 1, kvHeads: 1, headDim: 4, maxLength: 8 });
    const k = rand([1, 1, 6, 4], 'float32', 11);
    cache.append(0, k, k);
    cache.append(1, slice(k, 0, 3), slice(k, 0, 3));
    cache.reset(4);
    expect([cache.lengthOf(0), cache.lengthOf(1)]).toEqual([4, 3]);
    cache.reset();
    expect(cache.length).toBe(0);
    expect(cache.append(0, k, k)).toBe(6);
    expectError(() => cache.reset(-1), 'ERR_RANGE', /length/);
  });

  it('appendAsync and attendAsync match the sync forms', async () => {
    const mk = () => new attention.KVCache({ layers: 1, batch: 2, kvHeads: 2, headDim: 8, maxLength: 700, dtype: 'float16' });
    const a = mk();
    const b = mk();
    const k = rand([2, 2, 650, 8], 'float16', 12);
    const v = rand([2, 2, 650, 8], 'float16', 13);
    a.append(0, k, v);
    // two async appends queued back to back land in order
    const [n1, n2] = await Promise.all([b.appendAsync(0, slice(k, 0, 300), slice(v, 0, 300)), b.appendAsync(0, slice(k, 300, 650), slice(v, 300, 650))]);
    expect([n1, n2]).toEqual([300, 650]);
    assertBitEqual(b.keys(0).data as Uint16Array, a.keys(0).data as Uint16Array);
    const q = rand([2, 4, 1, 8], 'float16', 14);
    const ya = a.attend(0, q, { causal: true });
    const yb = await b.attendAsync(0, q, { causal: true });
    assertBitEqual(yb.data as Uint16Array, ya.data as Uint16Array);
  });

  it('does not modify the appended tensors', () => {
    const cache = new attention.KVCache({ layers: 1, batch: 1, kvHeads: 1, headDim: 4, maxLength: 8 });
    const k = rand([1, 1, 3, 4], 'float32', 15);
    const before = (k.data as Float32Array).slice();
    cache.append(0, k, k);
    assertBitEqual(k.data as Float32Array, before);
  });

  it('rejects overflow, bad shapes, dtypes, layers and options with typed errors', async () => {
    const cache = new attention.KVCache({ layers: 2, batch: 2, kvHeads: 2, headDim: 4, maxLength: 6 });
    const k = (t: number, dtype: FloatDType = 'float32') => zeros([2, 2, t, 4], dtype);
    cache.append(0, k(5), k(5));
    expectError(() => cache.append(0, k(2), k(2)), 'ERR_RANGE', /expected at most 1 new positions \(layer 0 holds 5 of 6\) but received 2/);
    expect(cache.lengthOf(0)).toBe(5); // nothing was written or reserved
    await expectRejection(cache.appendAsync(0, k(3), k(3)), 'ERR_RANGE', /at most 1 new positions/);
    expectError(() => cache.append(0, zeros([2, 3, 1, 4]), zeros([2, 3, 1, 4])), 'ERR_SHAPE', /expected k of shape \[2, 2, 1, 4\] \(from the cache \[B, Hkv, t, d\]\) but received \[2, 3, 1, 4\]/);
    expectError(() => cache.append(0, k(1), k(2)), 'ERR_SHAPE', /expected v of shape \[2, 2, 1, 4\]/);
    expectError(() => cache.append(0, k(1, 'bfloat16'), k(1, 'bfloat16')), 'ERR_DTYPE', /expected k of dtype float32 but received bfloat16/);
    expectError(() => cache.append(2, k(1), k(1)), 'ERR_RANGE', /layer an integer >= 0 <= 1 but received 2/);
    expectError(() => cache.keys(-1), 'ERR_RANGE', /layer/);
    expectError(() => cache.attend(0, zeros([2, 4, 1, 4]), { kvLength: 3 } as never), 'ERR_ARGUMENT', /unknown option 'kvLength'/);
    expectError(() => cache.attend(0, zeros([2, 3, 1, 4]), { causal: true }), 'ERR_SHAPE', /Hq = 3 to be a multiple of the kv heads/);
    expectError(() => new attention.KVCache({ layers: 0, batch: 1, kvHeads: 1, headDim: 4, maxLength: 4 }), 'ERR_RANGE', /layers an integer >= 1/);
    expectError(() => new attention.KVCache({ layers: 1, batch: 1, kvHeads: 1, headDim: 257, maxLength: 4 }), 'ERR_RANGE', /headDim an integer >= 1 <= 256 but received 257/);
    expectError(() => new attention.KVCache({ layers: 1, batch: 1, kvHeads: 1, headDim: 4, maxLength: 4, dtype: 'int32' as never }), 'ERR_ARGUMENT', /dtype to be one of/);
    expectError(() => new attention.KVCache({ layers: 1, batch: 1, kvHeads: 1, headDim: 4 } as never), 'ERR_ARGUMENT', /expected a number for maxLength but received undefined/);
    expectError(() => new attention.KVCache({ layers: 1, batch: 1, kvHeads: 1, headDim: 4, maxLength: 4, extra: 1 } as never), 'ERR_ARGUMENT', /unknown option 'extra'/);
    expectError(() => new attention.KVCache(undefined as never), 'ERR_ARGUMENT', /expected an options object/);
    expectError(() => new attention.KVCache({ layers: 1, batch: 1, kvHeads: 1, headDim: 4, maxLength: 4, device: 'cuda:x' as never }), 'ERR_DEVICE', /device/);
    cache.dispose();
    expectError(() => cache.append(1, k(1), k(1)), 'ERR_DETACHED', /the cache was disposed/);
    expectError(() => cache.keys(0), 'ERR_DETACHED', /disposed/);
  });

  it('the raw append binding re-checks shapes, dtypes and capacity', () => {
    const call = (...args: unknown[]) => (native.kvCacheAppend as unknown as (...a: unknown[]) => unknown)(...args);
    const kc = empty([1, 2, 8, 4]);
    const vc = empty([1, 2, 8, 4]);
    expectError(() => call(kc, vc, zeros([1, 2, 3, 4]), zeros([1, 2, 3, 4]), 6, false), 'ERR_RANGE', /holds 8 positions but appending 3 at 6 needs 9/);
    expectError(() => call(kc, vc, zeros([1, 2, 3, 5]), zeros([1, 2, 3, 5]), 0, false), 'ERR_SHAPE', /expected k of shape \[1, 2, 3, 4\] \(from kCache \[1, 2, 8, 4\]\) but received \[1, 2, 3, 5\]/);
    expectError(() => call(kc, empty([1, 2, 7, 4]), zeros([1, 2, 3, 4]), zeros([1, 2, 3, 4]), 0, false), 'ERR_SHAPE', /expected vCache of shape \[1, 2, 8, 4\] \(from kCache\)/);
    expectError(() => call(kc, vc, zeros([1, 2, 3, 4]), zeros([1, 2, 2, 4]), 0, false), 'ERR_SHAPE', /expected v of shape \[1, 2, 3, 4\] \(from k\)/);
    expectError(() => call(kc, vc, zeros([1, 2, 3, 4], 'float16'), zeros([1, 2, 3, 4], 'float16'), 0, false), 'ERR_DTYPE', /expected k of dtype float32 \(from kCache\)/);
    expectError(() => call(kc, vc, zeros([2, 3, 4]), zeros([2, 3, 4]), 0, false), 'ERR_SHAPE', /expected k with 4 dimensions but received \[2, 3, 4\]/);
    expectError(() => call(kc, vc, zeros([1, 2, 3, 4]), zeros([1, 2, 3, 4]), -1, false), 'ERR_RANGE', /start/);
    expectError(() => call(kc, vc, zeros([1, 2, 3, 4]), zeros([1, 2, 3, 4]), 0), 'ERR_ARGUMENT', /async flag/);
  });

  it('decodes the stored values exactly (dtype round trip)', () => {
    const cache = new attention.KVCache({ layers: 1, batch: 1, kvHeads: 1, headDim: 3, maxLength: 2, dtype: 'bfloat16' });
    const k = tensor([1.5, -2, 3.25], [1, 1, 1, 3], { dtype: 'bfloat16' });
    cache.append(0, k, k);
    expect(Array.from(decodeToFloat32('bfloat16', cache.keys(0).data as Uint16Array).subarray(0, 3))).toEqual([1.5, -2, 3.25]);
  });
});

import { describe, expect, it } from 'vitest';
import { attention, numThreads, setNumThreads, tensor, zeros, empty } from '../lib';
import { native } from '../lib/native';
import { imageKeyMaskRef } from './reference/image_key_mask';
import { philox4x32_10 } from './reference/philox';
import { assertBitEqual, expectError, expectRejection, rng } from './helpers';

type Spans = [number, number][][];
const spans: Spans = [[[3, 40], [50, 7], [100, 1]], [[0, 10]], [], [[7, 300]]];
const L = 420;

describe('attention.imageKeyMask', () => {
  it('the Philox reference matches the Random123 known-answer vectors', () => {
    const hex = (w: number[]) => w.map((x) => x.toString(16).padStart(8, '0')).join(' ');
    expect(hex(philox4x32_10([0, 0, 0, 0], [0, 0]))).toBe('6627e8d5 e169c58d bc57ac4c 9b00dbd8');
    expect(hex(philox4x32_10([0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff], [0xffffffff, 0xffffffff]))).toBe('408f276d 41c83b0e a20bc7c6 6d5451fd');
    expect(hex(philox4x32_10([0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344], [0xa4093822, 0x299f31d0]))).toBe('d16cfe09 94fdcceb 5001e420 24126ea1');
  });

  for (const [ratio, seed, offset] of [
    [0.5, 0, 0],
    [0.99, 7, 3],
    [0.1, 2 ** 40 + 5, 2 ** 33],
    [0.3, 2n ** 63n + 11n, 2n ** 64n - 1n],
  ] as [number, number | bigint, number | bigint][])
    it(`matches the reference draw bit for bit (ratio ${ratio}, seed ${seed}, offset ${offset})`, () => {
      const m = attention.imageKeyMask(spans, { maskRatio: ratio, seed, offset, length: L });
      expect(m.dtype).toBe('bool');
      expect(m.shape).toEqual([spans.length, L]);
      assertBitEqual(m.data, imageKeyMaskRef(spans, L, ratio, seed, offset));
    });

  it('keys outside the spans are never blocked; ratio 0 keeps all, ratio 1 blocks every image key', () => {
    const inSpan = (b: number, p: number) => spans[b]!.some(([s, l]) => p >= s && p < s + l);
    const all = attention.imageKeyMask(spans, { maskRatio: 1, length: L }).data;
    const none = attention.imageKeyMask(spans, { maskRatio: 0, length: L }).data;
    const half = attention.imageKeyMask(spans, { maskRatio: 0.5, seed: 3, length: L }).data;
    for (let b = 0; b < spans.length; b++)
      for (let p = 0; p < L; p++) {
        expect(none[b * L + p]).toBe(1);
        expect(all[b * L + p]).toBe(inSpan(b, p) ? 0 : 1);
        if (!inSpan(b, p)) expect(half[b * L + p]).toBe(1);
      }
    // default maskRatio is 1
    assertBitEqual(attention.imageKeyMask(spans, { length: L }).data, all);
  });

  it('does not depend on the length: a prefix of a longer mask, default length = last span end', () => {
    const long = attention.imageKeyMask(spans, { maskRatio: 0.6, seed: 11, length: 2000 }).data;
    const short = attention.imageKeyMask(spans, { maskRatio: 0.6, seed: 11 });
    expect(short.shape).toEqual([spans.length, 307]);
    for (let b = 0; b < spans.length; b++)
      for (let p = 0; p < 307; p++) expect(short.data[b * 307 + p]).toBe(long[b * 2000 + p]);
  });

  it('a row is decided by its own index: the same spans in row 0 of a one-row batch draw the same keys', () => {
    const four = attention.imageKeyMask(spans, { maskRatio: 0.5, seed: 5, length: L }).data;
    const one = attention.imageKeyMask([spans[0]!], { maskRatio: 0.5, seed: 5, length: L }).data;
    assertBitEqual(one, four.subarray(0, L));
    // and rows differ from each other (their own streams)
    const twin = attention.imageKeyMask([[[0, 400]], [[0, 400]]], { maskRatio: 0.5, seed: 5, length: 400 }).data;
    expect(twin.subarray(0, 400).join('')).not.toBe(twin.subarray(400).join(''));
  });

  it('same seed same bits; another seed or offset other bits', () => {
    const s = [[[0, 4000]]];
    const a = attention.imageKeyMask(s, { maskRatio: 0.5, seed: 1 }).data;
    assertBitEqual(attention.imageKeyMask(s, { maskRatio: 0.5, seed: 1 }).data, a);
    const diff = (x: Uint8Array, y: Uint8Array) => x.reduce((n, v, i) => n + (v !== y[i] ? 1 : 0), 0);
    // independent draws disagree on about half the keys: well inside [1600, 2400] (> 12 sigma)
    for (const other of [{ seed: 2 }, { seed: 1, offset: 1 }]) {
      const n = diff(a, attention.imageKeyMask(s, { maskRatio: 0.5, ...other }).data);
      expect(n).toBeGreaterThan(1600);
      expect(n).toBeLessThan(2400);
    }
  });

  it('blocks each image key with probability maskRatio (5 sigma)', () => {
    const n = 60000;
    for (const ratio of [0.05, 0.3, 0.99]) {
      const m = attention.imageKeyMask([[[0, n]]], { maskRatio: ratio, seed: 42 }).data;
      const blocked = n - m.reduce((s, x) => s + x, 0);
      const sd = Math.sqrt(n * ratio * (1 - ratio));
      expect(Math.abs(blocked - n * ratio)).toBeLessThan(5 * sd);
    }
  });

  it('combines with a keyMask by AND and writes into out', () => {
    const r = rng(3);
    const base = new Uint8Array(spans.length * L).map(() => (r() < 0.7 ? 1 : 0));
    const keyMask = tensor(base, [spans.length, L], { dtype: 'bool' });
    const out = zeros([spans.length, L], 'bool');
    const m = attention.imageKeyMask(spans, { maskRatio: 0.4, seed: 8, keyMask, out });
    expect(m).toBe(out);
    assertBitEqual(out.data, imageKeyMaskRef(spans, L, 0.4, 8, 0, base));
    // uint8 base: nonzero = may attend
    const u = tensor(base.map((x) => x * 200), [spans.length, L], { dtype: 'uint8' });
    assertBitEqual(attention.imageKeyMask(spans, { maskRatio: 0.4, seed: 8, keyMask: u }).data, out.data);
  });

  it('empty batch, empty spans and zero length work', () => {
    expect(attention.imageKeyMask([], { length: 5 }).shape).toEqual([0, 5]);
    expect(Array.from(attention.imageKeyMask([[], []], { length: 3 }).data)).toEqual([1, 1, 1, 1, 1, 1]);
    expect(attention.imageKeyMask([[[0, 0]]]).shape).toEqual([1, 0]);
  });

  it('async and any thread count give the same bits', async () => {
    const big: Spans = Array.from({ length: 9 }, (_, b) => [[b, 1000 + b], [1500, 300]]);
    const before = numThreads();
    try {
      setNumThreads(1);
      const ref = attention.imageKeyMask(big, { maskRatio: 0.9, seed: 5, length: 2000 }).data;
      for (const n of [2, 3, 7]) {
        setNumThreads(n);
        assertBitEqual(attention.imageKeyMask(big, { maskRatio: 0.9, seed: 5, length: 2000 }).data, ref, `${n} threads`);
      }
      assertBitEqual((await attention.imageKeyMaskAsync(big, { maskRatio: 0.9, seed: 5, length: 2000 })).data, ref, 'async');
    } finally {
      setNumThreads(before);
    }
  });

  it('rejects bad spans, ratios, seeds and masks with typed errors', async () => {
    const op = attention.imageKeyMask;
    expectError(() => op([[[0, 5], [4, 2]]], { length: 10 }), 'ERR_RANGE', /non-overlapping imageSpans but row 0 has \[0, 5\] and \[4, 2\]/);
    expectError(() => op([[[8, 5]]], { length: 10 }), 'ERR_RANGE', /imageSpans\[0\]\[0\] = \[8, 5\] inside \[0, 10\) \(length\)/);
    expectError(() => op([[[-1, 5]]], { length: 10 }), 'ERR_RANGE', /non-negative start and length/);
    expectError(() => op([[[1, -5]]], { length: 10 }), 'ERR_RANGE', /non-negative/);
    expectError(() => op([[[1.5, 5]]], { length: 10 }), 'ERR_ARGUMENT', /pair of integers but received \[1.5, 5\]/);
    expectError(() => op([[[1, 5, 3]]] as never, { length: 10 }), 'ERR_ARGUMENT', /\[start, length\] pair/);
    expectError(() => op([5] as never, { length: 10 }), 'ERR_ARGUMENT', /imageSpans\[0\] to be an array/);
    expectError(() => op({} as never), 'ERR_ARGUMENT', /imageSpans to be an array/);
    expectError(() => op([[[0, 1]]], { maskRatio: 1.01 }), 'ERR_RANGE', /maskRatio a finite number >= 0 <= 1 but received 1.01/);
    expectError(() => op([[[0, 1]]], { maskRatio: -1e-9 }), 'ERR_RANGE', /maskRatio/);
    expectError(() => op([[[0, 1]]], { maskRatio: '0.5' as never }), 'ERR_ARGUMENT', /expected a number for maskRatio/);
    expectError(() => op([[[0, 1]]], { seed: -1 }), 'ERR_RANGE', /seed/);
    expectError(() => op([[[0, 1]]], { seed: 2n ** 64n }), 'ERR_RANGE', /seed in \[0, 2\^64\)/);
    expectError(() => op([[[0, 1]]], { offset: 0.5 }), 'ERR_RANGE', /offset/);
    expectError(() => op([[[0, 1]]], { length: -1 }), 'ERR_RANGE', /length/);
    expectError(() => op([[[0, 1]]], { keyMask: empty([2, 4], 'bool') }), 'ERR_SHAPE', /expected keyMask of shape \[1, 4\]/);
    expectError(() => op([[[0, 1]]], { keyMask: empty([1, 4], 'float32') }), 'ERR_DTYPE', /keyMask of dtype bool or uint8/);
    expectError(() => op([[[0, 1]]], { length: 4, out: empty([1, 5], 'bool') }), 'ERR_SHAPE', /out of shape \[1, 4\]/);
    expectError(() => op([[[0, 1]]], { length: 4, out: empty([1, 4], 'uint8') as never }), 'ERR_DTYPE', /out of dtype bool/);
    expectError(() => op([[[0, 1]]], { device: 'tpu' as never }), 'ERR_DEVICE', /expected device/);
    expectError(() => op([[[0, 1]]], { ratio: 0.5 } as never), 'ERR_ARGUMENT', /unknown option 'ratio'/);
    await expectRejection(attention.imageKeyMaskAsync([[[0, 5], [1, 1]]], { length: 9 }), 'ERR_RANGE', /non-overlapping/);
  });

  it('the raw binding re-checks spans and arguments', () => {
    const call = (...args: unknown[]) => (native.imageKeyMask as unknown as (...a: unknown[]) => unknown)(...args);
    const out = empty([2, 10], 'bool');
    const sp = (rows: number[][]) => tensor(Int32Array.from(rows.flat()), [rows.length, 3], { dtype: 'int32' });
    expectError(() => call(sp([[2, 0, 1]]), null, out, 0.5, 0, 0, false), 'ERR_RANGE', /row in \[0, 2\)/);
    expectError(() => call(sp([[0, 8, 3]]), null, out, 0.5, 0, 0, false), 'ERR_RANGE', /inside \[0, 10\)/);
    expectError(() => call(sp([[0, -1, 3]]), null, out, 0.5, 0, 0, false), 'ERR_RANGE', /inside/);
    expectError(() => call(sp([[1, 0, 5], [1, 4, 2]]), null, out, 0.5, 0, 0, false), 'ERR_RANGE', /non-overlapping spans but row 1/);
    expectError(() => call(sp([[0, 0, 1]]), null, out, 1.5, 0, 0, false), 'ERR_RANGE', /expected maskRatio a finite number >= 0 <= 1 but received 1.5/);
    expectError(() => call(sp([[0, 0, 1]]), null, out, NaN, 0, 0, false), 'ERR_ARGUMENT', /expected a number for maskRatio but received number NaN/);
    expectError(() => call(sp([[0, 0, 1]]), null, out, 0.5, -1, 0, false), 'ERR_RANGE', /seed/);
    expectError(() => call(tensor(Int32Array.from([0, 1]), [1, 2], { dtype: 'int32' }), null, out, 0.5, 0, 0, false), 'ERR_SHAPE', /expected spans of shape \[1, 3\] but received \[1, 2\]/);
    expectError(() => call(sp([[0, 0, 1]]), empty([2, 9], 'bool'), out, 0.5, 0, 0, false), 'ERR_SHAPE', /keyMask of shape \[2, 10\]/);
    expectError(() => call(sp([[0, 0, 1]]), null, empty([20], 'bool'), 0.5, 0, 0, false), 'ERR_SHAPE', /expected out with 2 dimensions but received \[20\]/);
    expectError(() => call(sp([[0, 0, 1]]), null, empty([2, 10], 'uint8'), 0.5, 0, 0, false), 'ERR_DTYPE', /expected out of dtype bool/);
    expectError(() => call(sp([[0, 0, 1]]), null, out, 0.5, 0, 0), 'ERR_ARGUMENT', /async flag/);
  });
});

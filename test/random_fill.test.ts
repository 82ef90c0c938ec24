import { describe, expect, it } from 'vitest';
import { empty, numThreads, random, setNumThreads, tensor } from '../lib';
import { numberToBf16Bits, numberToHalfBits } from '../lib/dtype';
import { native } from '../lib/native';
import { Stream, philox4x32, pm1Of, uniformOf } from './reference/random_fill';
import { ksCritical, ksStatistic, moments, normalCdf } from './reference/stats';
import { assertBitEqual, assertClose, expectError, expectRejection } from './helpers';

// Random123 known-answer vectors for Philox4x32-10: [counter, key, expected]
const KAT: [number[], number[], number[]][] = [
  [[0, 0, 0, 0], [0, 0], [0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8]],
  [[0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff], [0xffffffff, 0xffffffff], [0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd]],
  [[0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344], [0xa4093822, 0x299f31d0], [0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1]],
];
const u64 = (lo: number, hi: number): bigint => (BigInt(hi) << 32n) | BigInt(lo);
const asU32 = (t: { data: Int32Array }): number[] => Array.from(t.data, (v) => v >>> 0);

describe('random: Philox4x32-10 stream', () => {
  it('the reference matches the Random123 known answers', () => {
    for (const [c, k, want] of KAT) expect(philox4x32(c[0]!, c[1]!, c[2]!, c[3]!, k[0]!, k[1]!)).toEqual(want);
  });

  it('random.bits reproduces the known answers (counter = {block, offset}, key = seed)', async () => {
    for (const [c, k, want] of KAT) {
      const opts = { seed: u64(k[0]!, k[1]!), offset: u64(c[2]!, c[3]!), start: 4n * u64(c[0]!, c[1]!) };
      expect(asU32(random.bits([4], opts))).toEqual(want);
      expect(asU32(await random.bitsAsync([4], opts))).toEqual(want);
    }
  });

  it('random.bits equals the reference stream at odd sizes, unaligned starts and large counters', () => {
    const cases: [number | bigint, number | bigint, number | bigint, number][] = [
      [0, 0, 0, 1],
      [42, 0, 0, 1003],
      [7, 3, 5, 77], // start inside a block
      [2n ** 64n - 1n, 2n ** 64n - 1n, 0, 9],
      [123456789, 2 ** 40, 4 * 2 ** 32 - 6, 31], // block counter crosses 2^32 (c1 != 0)
      [1, 2, 2n ** 66n - 3n, 7], // wraps past the last block
    ];
    for (const [seed, offset, start, n] of cases) {
      const got = asU32(random.bits([n], { seed, offset, start }));
      const s = new Stream(seed, offset);
      const st = BigInt(start);
      const want: number[] = [];
      for (let j = 0; j < n; j++) {
        const i = (st + BigInt(j)) % 2n ** 66n;
        want.push(s.block(i >> 2n)[Number(i & 3n)]!);
      }
      expect(got, `seed ${seed} offset ${offset} start ${start}`).toEqual(want);
    }
  });

  it('random.uniform is exactly (w >> 8) 2^-24 and scales to [low, high)', () => {
    const n = 4097;
    const u = random.uniform([n], { seed: 9, offset: 1 });
    expect(u.dtype).toBe('float32');
    const ref = new Stream(9, 1).uniforms(0, n);
    assertBitEqual(u.data, Float32Array.from(ref), 'uniform');
    const v = random.uniform([n], { seed: 9, offset: 1, low: -2, high: 3 });
    assertClose(v.data, Array.from(ref, (x) => -2 + 5 * x), { rtol: 0, atol: 5e-7 });
    for (const x of v.data) expect(x >= -2 && x <= 3).toBe(true);
    // half types: the float32 value rounded once
    const b = random.uniform([n], { seed: 9, offset: 1, dtype: 'bfloat16' });
    expect(Array.from(b.data)).toEqual(Array.from(u.data, numberToBf16Bits));
    const h = random.uniform([n], { seed: 9, offset: 1, dtype: 'float16' });
    expect(Array.from(h.data)).toEqual(Array.from(u.data, numberToHalfBits));
    expect(u.data.every((x) => x > 0 && x < 1)).toBe(true); // the op's own draws stay in (0, 1)
  });

  // These check the float64 reference's transforms, not the op: the op is pinned to them bit for bit
  // above (assertBitEqual against Stream.uniforms), so their range at the extreme words (which no
  // seed can be chosen to produce) is what the op's transform gives at those words.
  it('reference transforms: the largest word gives a uniform below 1, ±1 draws are symmetric', () => {
    expect(uniformOf(0xffffffff)).toBeLessThan(1);
    expect(pm1Of(0) + pm1Of(0xffffffff)).toBe(0);
  });

  it('random.normal matches the float64 Box-Muller reference (|z| <= 6.66)', () => {
    for (const [n, start] of [[1, 0], [5, 3], [10007, 0], [333, 1022]] as const) {
      const z = random.normal([n], { seed: 2024, offset: 7, start });
      const ref = new Stream(2024, 7).normals(start, n);
      assertClose(z.data, ref, { rtol: 2e-6, atol: 2e-6, name: `normal n=${n} start=${start}` });
    }
    const big = random.normal([200000], { seed: 1 }).data;
    let mx = 0;
    for (const v of big) mx = Math.max(mx, Math.abs(v));
    expect(mx).toBeLessThanOrEqual(6.67);
    const ms = random.normal([1000], { seed: 5, mean: 3, std: 0.5 });
    assertClose(ms.data, Array.from(new Stream(5, 0).normals(0, 1000), (v) => 3 + 0.5 * v), { rtol: 2e-6, atol: 2e-6 });
  });

  it('float16 / bfloat16 normals are the float32 normals rounded once', () => {
    const f = random.normal([3001], { seed: 11 });
    assertBitEqual(random.normal([3001], { seed: 11, dtype: 'float16' }).data, Uint16Array.from(f.data, numberToHalfBits), 'f16');
    assertBitEqual(random.normal([3001], { seed: 11, dtype: 'bfloat16' }).data, Uint16Array.from(f.data, numberToBf16Bits), 'bf16');
  });

  it('normal moments, independence and Kolmogorov-Smirnov against N(0, 1)', () => {
    const n = 1 << 20;
    const z = random.normal([n], { seed: 77, offset: 3 }).data;
    const m = moments(z);
    expect(Math.abs(m.mean)).toBeLessThan(5 / Math.sqrt(n));
    expect(Math.abs(m.variance - 1)).toBeLessThan(5 * Math.sqrt(2 / (n - 1)));
    expect(Math.abs(m.skew)).toBeLessThan(5 * Math.sqrt(6 / n));
    expect(Math.abs(m.kurtosis)).toBeLessThan(5 * Math.sqrt(24 / n));
    // the two members of a Box-Muller pair, and the two pairs of a block, are uncorrelated
    for (const [a, b] of [[0, 1], [0, 2], [1, 3]] as const) {
      let s = 0;
      for (let k = 0; k < n / 4; k++) s += z[4 * k + a]! * z[4 * k + b]!;
      expect(Math.abs(s / (n / 4)), `corr(${a}, ${b})`).toBeLessThan(5 / Math.sqrt(n / 4));
    }
    expect(ksStatistic(z, normalCdf)).toBeLessThan(ksCritical(n));
    // a wrong distribution fails the same test: the test can fail
    expect(ksStatistic(Array.from(z.subarray(0, 100000), (v) => v * 1.05), normalCdf)).toBeGreaterThan(ksCritical(100000));
  });

  it('uniform moments and Kolmogorov-Smirnov against U(0, 1)', () => {
    const n = 1 << 20;
    const u = random.uniform([n], { seed: 5 }).data;
    const m = moments(u);
    expect(Math.abs(m.mean - 0.5)).toBeLessThan(5 * Math.sqrt(1 / 12 / n));
    expect(Math.abs(m.variance - 1 / 12)).toBeLessThan(5 * Math.sqrt((1 / 80 - 1 / 144) / n));
    expect(ksStatistic(u, (x) => Math.min(1, Math.max(0, x)))).toBeLessThan(ksCritical(n));
  });

  it('same seed, same bits; another seed, offset or start, other bits; slices agree', () => {
    const a = random.normal([5000], { seed: 1, offset: 2 });
    assertBitEqual(random.normal([5000], { seed: 1, offset: 2 }).data, a.data);
    for (const other of [{ seed: 2, offset: 2 }, { seed: 1, offset: 3 }, { seed: 1n << 40n, offset: 2 }]) {
      const b = random.normal([5000], other).data;
      let same = 0;
      for (let i = 0; i < 5000; i++) same += b[i] === a.data[i] ? 1 : 0;
      expect(same).toBeLessThan(5);
    }
    const slice = random.normal([1000], { seed: 1, offset: 2, start: 1234 });
    assertBitEqual(slice.data, a.data.subarray(1234, 2234), 'start slices the stream');
    const w = random.bits([333], { seed: 4, start: 1 });
    expect(Array.from(w.data)).toEqual(Array.from(random.bits([334], { seed: 4 }).data.subarray(1)));
  });

  it('a random seed is drawn when none is given', () => {
    const a = random.normal([64]).data;
    const b = random.normal([64]).data;
    expect(Array.from(a)).not.toEqual(Array.from(b));
  });

  it('is bit-identical for any thread count and between sync and async', async () => {
    const before = numThreads();
    try {
      setNumThreads(1);
      const ref = random.normal([100003], { seed: 3, dtype: 'bfloat16', start: 5 }).data;
      const refU = random.uniform([100003], { seed: 3 }).data;
      for (const t of [2, 3, 7]) {
        setNumThreads(t);
        assertBitEqual(random.normal([100003], { seed: 3, dtype: 'bfloat16', start: 5 }).data, ref, `${t} threads`);
        assertBitEqual(random.uniform([100003], { seed: 3 }).data, refU, `${t} threads`);
      }
    } finally {
      setNumThreads(before);
    }
    const s = random.normal([77777], { seed: 8 });
    assertBitEqual((await random.normalAsync([77777], { seed: 8 })).data, s.data, 'async');
    assertBitEqual((await random.uniformAsync([999], { seed: 8, high: 4 })).data, random.uniform([999], { seed: 8, high: 4 }).data);
  });

  it('writes into out, keeps shapes, and handles empty tensors', () => {
    const out = empty([3, 5], 'float16');
    expect(random.normal([3, 5], { seed: 1, out })).toBe(out);
    expect(Array.from(out.data)).toEqual(Array.from(random.normal([15], { seed: 1, dtype: 'float16' }).data));
    expect(random.uniform([2, 0, 3]).shape).toEqual([2, 0, 3]);
    expect(random.bits([0]).numel).toBe(0);
  });

  it('rejects bad arguments with typed errors', async () => {
    expectError(() => random.normal([2], { dtype: 'int32' as never }), 'ERR_DTYPE', /expected dtype 'float32', 'float16' or 'bfloat16' but received string int32/);
    expectError(() => random.normal([2], { out: empty([2], 'int32') }), 'ERR_DTYPE', /expected out of dtype float32 or float16 or bfloat16/);
    expectError(() => random.bits([2], { out: empty([2]) as never }), 'ERR_DTYPE', /int32/);
    expectError(() => random.normal([2], { out: empty([3]) }), 'ERR_SHAPE', /expected out of shape \[2\] but received \[3\]/);
    expectError(() => random.normal([2, -1]), 'ERR_SHAPE');
    expectError(() => random.normal('x' as never), 'ERR_SHAPE', /shape array/);
    expectError(() => random.normal([2], { std: -1 }), 'ERR_RANGE', /std/);
    expectError(() => random.normal([2], { mean: Infinity }), 'ERR_RANGE', /mean/);
    expectError(() => random.uniform([2], { low: 2, high: 1 }), 'ERR_RANGE', /high >= low/);
    expectError(() => random.uniform([2], { low: -3e38, high: 3e38 }), 'ERR_RANGE', /float32 range/);
    expectError(() => random.normal([2], { seed: -1 }), 'ERR_RANGE', /seed/);
    expectError(() => random.normal([2], { seed: 1.5 }), 'ERR_RANGE', /seed/);
    expectError(() => random.normal([2], { seed: 2n ** 64n }), 'ERR_RANGE', /seed in \[0, 2\^64\)/);
    expectError(() => random.normal([2], { seed: 'x' as never }), 'ERR_ARGUMENT', /seed/);
    expectError(() => random.normal([2], { offset: -2 }), 'ERR_RANGE', /offset/);
    expectError(() => random.bits([2], { start: 2n ** 66n }), 'ERR_RANGE', /start in \[0, 2\^66\)/);
    expectError(() => random.bits([2], { start: 'a' as never }), 'ERR_ARGUMENT', /start/);
    expectError(() => random.normal([2], { sigma: 1 } as never), 'ERR_ARGUMENT', /unknown option 'sigma'/);
    expectError(() => random.normal([2], { device: 'tpu' as never }), 'ERR_DEVICE', /expected device/);
    const d = empty([2]);
    d.dispose();
    expectError(() => random.normal([2], { out: d }), 'ERR_DETACHED');
    await expectRejection(random.normalAsync([2], { std: -1 }), 'ERR_RANGE');
  });

  it('the raw binding rejects garbage without crashing', () => {
    const f = empty([4]);
    const i = empty([4], 'int32');
    expectError(() => native.randomFill(f, 0, 0, 1, 1, 0, 0, 0, false), 'ERR_DTYPE', /int32/);
    expectError(() => native.randomFill(i, 2, 0, 1, 1, 0, 0, 0, false), 'ERR_DTYPE');
    expectError(() => native.randomFill(f, 5, 0, 1, 1, 0, 0, 0, false), 'ERR_RANGE', /kind/);
    expectError(() => native.randomFill(f, 2, NaN, 1, 1, 0, 0, 0, false), 'ERR_ARGUMENT', /expected a number for a but received number NaN/);
    expectError(() => native.randomFill(f, 2, 0, 1e39, 1, 0, 0, 0, false), 'ERR_RANGE');
    expectError(() => native.randomFill(f, 2, 0, 1, -1, 0, 0, 0, false), 'ERR_RANGE', /seed/);
    expectError(() => native.randomFill(f, 2, 0, 1, 1, 0, 0, 4, false), 'ERR_RANGE', /startSkip/);
    expectError(() => (native.randomFill as (...a: unknown[]) => void)(f, 2, false), 'ERR_ARGUMENT');
    expectError(() => (native.randomFill as (...a: unknown[]) => void)({}, 2, 0, 1, 1, 0, 0, 0, false), 'ERR_ARGUMENT');
    expectError(() => (native.randomFill as (...a: unknown[]) => void)(tensor([1, 2]), 2, 0, 1, 1, 0, 0, 0), 'ERR_ARGUMENT', /async/);
  });
});

import { describe, expect, it } from 'vitest';
import { empty, noise, numThreads, setNumThreads, tensor, type FloatDType, type Tensor } from '../lib';
import { decodeToFloat32 } from '../lib/dtype';
import { native } from '../lib/native';
import { type ScaleMode, visualTokensRef } from './reference/visual_tokens';
import { ksCritical, ksStatistic, moments, normalCdf } from './reference/stats';
import { assertBitEqual, assertClose, expectError, expectRejection, randomArray, rng } from './helpers';

const TOL: Record<FloatDType, { rtol: number; atol: number }> = {
  float32: { rtol: 2e-6, atol: 4e-6 },
  float16: { rtol: 1.1e-3, atol: 1e-4 }, // one float16 ulp: the reference is not rounded
  bfloat16: { rtol: 8e-3, atol: 1e-4 }, // one bfloat16 ulp
};
const DTYPES: FloatDType[] = ['float32', 'float16', 'bfloat16'];

function make(n: number, shape: number[], dtype: FloatDType, seed: number, scale = 1) {
  const t = tensor(Float32Array.from(randomArray(n, rng(seed), scale)), shape, { dtype });
  return { t, held: Float64Array.from(decodeToFloat32(dtype, t.data)) };
}

/** Raw bits of token t ([t D, t D + D)) of a tensor's storage. */
function tokenBits(x: Tensor, t: number, D: number): Uint8Array {
  const d = x.data as Float32Array | Uint16Array;
  const s = d.BYTES_PER_ELEMENT;
  return new Uint8Array(d.buffer, d.byteOffset + t * D * s, D * s);
}

function randomSpans(B: number, N: number, r: () => number): [number, number][][] {
  const spans: [number, number][][] = [];
  for (let b = 0; b < B; b++) {
    const row: [number, number][] = [];
    let pos = Math.floor(r() * 3);
    while (pos < N) {
      const len = Math.min(N - pos, 1 + Math.floor(r() * 4));
      row.push([pos, len]);
      pos += len + 1 + Math.floor(r() * 3);
    }
    spans.push(row);
  }
  return spans;
}

function spansMask(spans: [number, number][][], B: number, N: number): Uint8Array {
  const m = new Uint8Array(B * N);
  spans.forEach((row, b) => row.forEach(([s, l]) => m.fill(1, b * N + s, b * N + s + l)));
  return m;
}

describe('noise.visualTokens', () => {
  const shapes: [number, number, number][] = [
    [2, 7, 33],
    [3, 5, 64],
    [2, 6, 1031], // D not a multiple of 4: tokens start inside Philox blocks
    [1, 3, 2053], // several 1024-element noise chunks per token
  ];
  const scales: ScaleMode[] = ['absolute', 'token-rms', 'token-std'];
  let k = 0;
  for (const dtype of DTYPES)
    for (const [B, N, D] of shapes)
      for (const scale of scales) {
        const c = k++;
        it(`matches the float64 reference: ${dtype} [${B}, ${N}, ${D}] ${scale}`, () => {
          const r = rng(c + 100);
          const { t, held } = make(B * N * D, [B, N, D], dtype, c, 2);
          const spans = randomSpans(B, N, r);
          const prob = c % 2 && B * N >= 10 ? 0.6 : 1; // small cases keep every visual token
          const rows = c % 3 === 0 && B > 1 ? Array.from({ length: B }, (_, b) => b % 2 === 0) : undefined;
          const sigma = [0.5, 0.1, 1.5][c % 3]!;
          const res = noise.visualTokens(t, { spans, sigma, scale, prob, rows, seed: 1000 + c, offset: c });
          expect(res.seed).toBe(1000 + c);
          expect(res.offset).toBe(c);
          const ref = visualTokensRef({ x: held, B, N, D, mask: spansMask(spans, B, N), rows, sigma, scale, prob, seed: 1000 + c, offset: c });
          assertClose(res.out.toFloat32Array(), ref.y, { ...TOL[dtype], name: `${dtype} [${B}, ${N}, ${D}] ${scale}` });
          // untouched tokens are bit-identical; perturbed ones changed
          let changed = 0;
          for (let tok = 0; tok < B * N; tok++) {
            if (!ref.perturbed[tok]) expect(tokenBits(res.out, tok, D)).toEqual(tokenBits(t, tok, D));
            else changed++;
          }
          expect(changed).toBeGreaterThan(0);
        });
      }

  it('never touches text tokens, bit for bit (NaN payloads, -0, out of place and in place)', () => {
    for (const dtype of DTYPES) {
      const B = 2, N = 6, D = 10;
      const { t } = make(B * N * D, [B, N, D], dtype, 5);
      const raw = t.data as Float32Array | Uint16Array;
      // token 1 of row 0 is text and holds a NaN with a payload and a negative zero
      if (dtype === 'float32') {
        new Uint32Array(raw.buffer, raw.byteOffset)[D] = 0x7fa00001;
        raw[D + 1] = -0;
      } else {
        raw[D] = 0x7d01; // a float16 / bfloat16 NaN with payload
        raw[D + 1] = 0x8000;
      }
      const spans = [[[0, 1], [2, 3]], [[1, 5]]] as const;
      const before = raw.slice();
      const out = noise.visualTokens(t, { spans, seed: 3 }).out;
      for (const tok of [1, 5, 6]) expect(tokenBits(out, tok, D), `${dtype} token ${tok}`).toEqual(tokenBits(t, tok, D));
      assertBitEqual(t.data as Uint16Array, before as Uint16Array, 'input unmodified');
      const inPlace = noise.visualTokens(t, { spans, seed: 3, inPlace: true }).out;
      expect(inPlace).toBe(t);
      assertBitEqual(t.data as Uint16Array, out.data as Uint16Array, 'in place == out of place');
    }
  });

  it('sigma = 0, rows all false or prob = 0 is the identity, bit for bit', () => {
    for (const dtype of DTYPES) {
      const { t } = make(2 * 3 * 8, [2, 3, 8], dtype, 9);
      (t.data as Uint16Array)[3] = dtype === 'float32' ? 0 : 0x8000; // -0 (float16/bfloat16) stays -0
      if (dtype === 'float32') (t.data as Float32Array)[3] = -0;
      for (const opts of [{ sigma: 0 }, { rows: [false, false] }, { prob: 0 }, { sigma: 0, scale: 'token-std' as const }]) {
        const out = noise.visualTokens(t, { ...opts, seed: 1 }).out;
        assertBitEqual(out.data as Uint16Array, t.data as Uint16Array, `${dtype} ${JSON.stringify(opts)}`);
      }
      // an all-zero token under a relative scale has scale 0: unchanged
      const z = tensor(new Float32Array(2 * 8), [1, 2, 8], { dtype });
      assertBitEqual(noise.visualTokens(z, { scale: 'token-rms', seed: 2 }).out.data as Uint16Array, z.data as Uint16Array);
    }
  });

  it("a token's noise depends only on (seed, offset, b, n, d), not on which other tokens are visual", () => {
    const B = 2, N = 8, D = 37;
    const { t } = make(B * N * D, [B, N, D], 'float32', 11);
    const all = noise.visualTokens(t, { seed: 5, offset: 9 }).out; // every token visual
    const one = noise.visualTokens(t, { spans: [[], [[3, 1]]], seed: 5, offset: 9 }).out;
    const some = noise.visualTokens(t, { mask: tensor(Array.from({ length: B * N }, (_, i) => i % 3 === 0 || i === 11), [B, N], { dtype: 'bool' }), seed: 5, offset: 9 }).out;
    const tok = N + 3;
    expect(tokenBits(one, tok, D)).toEqual(tokenBits(all, tok, D));
    expect(tokenBits(some, tok, D)).toEqual(tokenBits(all, tok, D));
    expect(tokenBits(one, tok, D)).not.toEqual(tokenBits(t, tok, D));
    // rows only gate: the chosen row gets the same noise as without rows
    const rows = noise.visualTokens(t, { rows: [false, true], seed: 5, offset: 9 }).out;
    expect(tokenBits(rows, tok, D)).toEqual(tokenBits(all, tok, D));
    expect(tokenBits(rows, 2, D)).toEqual(tokenBits(t, 2, D));
  });

  it('perturbs a fraction prob of the visual tokens (within 5 standard errors)', () => {
    const B = 8, N = 500, D = 4;
    const x = tensor(new Float32Array(B * N * D).fill(1), [B, N, D]);
    for (const prob of [0.05, 0.3, 0.9]) {
      const out = noise.visualTokens(x, { prob, seed: 17 }).out.data;
      let n = 0;
      for (let tok = 0; tok < B * N; tok++) n += out[tok * D] !== 1 ? 1 : 0;
      const nTok = B * N;
      expect(Math.abs(n - prob * nTok)).toBeLessThan(5 * Math.sqrt(nTok * prob * (1 - prob)));
    }
  });

  it('the added noise is N(0, sigma^2): moments and Kolmogorov-Smirnov', () => {
    const B = 4, N = 64, D = 4096;
    const x = tensor(new Float32Array(B * N * D), [B, N, D]);
    const z = Float64Array.from(noise.visualTokens(x, { sigma: 0.5, seed: 99 }).out.data as Float32Array, (v) => v / 0.5);
    const m = moments(z);
    const n = z.length;
    expect(Math.abs(m.mean)).toBeLessThan(5 / Math.sqrt(n));
    expect(Math.abs(m.variance - 1)).toBeLessThan(5 * Math.sqrt(2 / (n - 1)));
    expect(ksStatistic(z, normalCdf)).toBeLessThan(ksCritical(n));
    // token-std: (y - x) / (sigma std(x)) is standard normal too
    const { t, held } = make(B * 8 * 1024, [B, 8, 1024], 'float32', 3, 3);
    const y = noise.visualTokens(t, { scale: 'token-std', sigma: 0.2, seed: 4 }).out.data;
    const zz: number[] = [];
    for (let tok = 0; tok < B * 8; tok++) {
      const row = held.subarray(tok * 1024, tok * 1024 + 1024);
      const mean = row.reduce((a, b) => a + b, 0) / 1024;
      const sd = Math.sqrt(row.reduce((a, b) => a + (b - mean) ** 2, 0) / 1024);
      for (let d = 0; d < 1024; d++) zz.push((y[tok * 1024 + d]! - row[d]!) / (0.2 * sd));
    }
    expect(ksStatistic(zz, normalCdf)).toBeLessThan(ksCritical(zz.length));
  });

  it('accepts a mask tensor or flat array, writes into out, and returns a usable seed', () => {
    const { t } = make(2 * 4 * 16, [2, 4, 16], 'bfloat16', 21);
    const maskArr = [1, 0, 1, 0, 0, 0, 1, 1];
    const a = noise.visualTokens(t, { mask: maskArr, seed: 8 }).out;
    const b = noise.visualTokens(t, { mask: tensor(maskArr, [2, 4], { dtype: 'bool' }), seed: 8 }).out;
    const c = noise.visualTokens(t, { mask: tensor(maskArr, [2, 4], { dtype: 'uint8' }), seed: 8 }).out;
    const d = noise.visualTokens(t, { spans: [[[0, 1], [2, 1]], [[2, 2]]], seed: 8 }).out;
    for (const o of [b, c, d]) assertBitEqual(o.data as Uint16Array, a.data as Uint16Array);
    const out = empty([2, 4, 16], 'bfloat16');
    expect(noise.visualTokens(t, { mask: maskArr, seed: 8, out }).out).toBe(out);
    assertBitEqual(out.data, a.data as Uint16Array);
    const r = noise.visualTokens(t);
    expect(typeof r.seed).toBe('number');
    assertBitEqual(noise.visualTokens(t, { seed: r.seed, offset: r.offset }).out.data as Uint16Array, r.out.data as Uint16Array, 'seed replay');
  });

  it('handles empty batches, tokens and hidden sizes', () => {
    for (const shape of [[0, 4, 8], [2, 0, 8], [2, 3, 0]] as const) expect(noise.visualTokens(empty([...shape]), { seed: 1 }).out.shape).toEqual(shape);
  });

  it('is bit-identical for any thread count, in place or not, and between sync and async', async () => {
    const { t } = make(4 * 37 * 515, [4, 37, 515], 'float16', 31);
    const opts = { scale: 'token-rms' as const, prob: 0.7, seed: 6, offset: 2, spans: randomSpans(4, 37, rng(4)) };
    const before = numThreads();
    try {
      setNumThreads(1);
      const ref = noise.visualTokens(t, opts).out.data as Uint16Array;
      for (const n of [2, 3, 7]) {
        setNumThreads(n);
        assertBitEqual(noise.visualTokens(t, opts).out.data as Uint16Array, ref, `${n} threads`);
      }
      const asyncOut = (await noise.visualTokensAsync(t, opts)).out;
      assertBitEqual(asyncOut.data as Uint16Array, ref, 'async');
      const copy = t.clone();
      await noise.visualTokensAsync(copy, { ...opts, inPlace: true });
      assertBitEqual(copy.data as Uint16Array, ref, 'async in place');
    } finally {
      setNumThreads(before);
    }
  });

  it('rejects bad input with typed errors', async () => {
    const x = empty([2, 4, 8]);
    expectError(() => noise.visualTokens(empty([2, 4, 8], 'int32')), 'ERR_DTYPE', /expected x of dtype float32 or float16 or bfloat16 but received int32/);
    expectError(() => noise.visualTokens(empty([8, 8])), 'ERR_SHAPE', /expected x with 3 dimensions but received \[8, 8\]/);
    expectError(() => noise.visualTokens(x, { spans: [[[2, 3]], [[0, 1]]] }), 'ERR_RANGE', /expected spans\[0\] inside \[0, 4\) .* but received \[2, 3\]/);
    expectError(() => noise.visualTokens(x, { spans: [[[-1, 1]], []] }), 'ERR_RANGE', /inside/);
    expectError(() => noise.visualTokens(x, { spans: [[[0, 2], [1, 2]], []] }), 'ERR_RANGE', /non-overlapping spans in row 0 but \[1, 2\] overlaps \[0, 2\]/);
    expectError(() => noise.visualTokens(x, { spans: [[[0, 1]]] }), 'ERR_SHAPE', /expected spans for 2 batch rows .* but received 1/);
    expectError(() => noise.visualTokens(x, { spans: [[[0.5, 1]], []] as never }), 'ERR_ARGUMENT', /integer pairs/);
    expectError(() => noise.visualTokens(x, { spans: [[], []], mask: [1] }), 'ERR_ARGUMENT', /spans or mask, not both/);
    expectError(() => noise.visualTokens(x, { mask: empty([2, 4]) }), 'ERR_DTYPE', /expected mask of dtype bool or uint8 but received float32/);
    expectError(() => noise.visualTokens(x, { mask: empty([2, 5], 'bool') }), 'ERR_SHAPE', /expected mask of shape \[2, 4\] \(from x \[2, 4, 8\]\) but received \[2, 5\]/);
    expectError(() => noise.visualTokens(x, { mask: [1, 0] }), 'ERR_SHAPE', /mask/);
    expectError(() => noise.visualTokens(x, { rows: [true] }), 'ERR_SHAPE', /rows/);
    expectError(() => noise.visualTokens(x, { rows: ['yes', 'no'] as never }), 'ERR_ARGUMENT', /booleans/);
    expectError(() => noise.visualTokens(x, { sigma: -0.1 }), 'ERR_RANGE', /expected sigma a finite number >= 0 (<= [0-9.e+]+ )?but received -0.1/);
    expectError(() => noise.visualTokens(x, { sigma: NaN }), 'ERR_ARGUMENT', /sigma/);
    expectError(() => noise.visualTokens(x, { prob: 1.5 }), 'ERR_RANGE', /prob/);
    expectError(() => noise.visualTokens(x, { scale: 'relative' as never }), 'ERR_ARGUMENT', /'absolute', 'token-rms', 'token-std'/);
    expectError(() => noise.visualTokens(x, { inPlace: true, out: empty([2, 4, 8]) }), 'ERR_ARGUMENT', /inPlace or out/);
    expectError(() => noise.visualTokens(x, { out: x }), 'ERR_ARGUMENT', /inPlace/);
    expectError(() => noise.visualTokens(x, { out: empty([2, 4, 8], 'float16') }), 'ERR_DTYPE', /out/);
    expectError(() => noise.visualTokens(x, { seed: -3 }), 'ERR_RANGE', /seed/);
    expectError(() => noise.visualTokens(x, { noise: 1 } as never), 'ERR_ARGUMENT', /unknown option 'noise'/);
    const gone = empty([1, 1, 1]);
    gone.dispose();
    expectError(() => noise.visualTokens(gone), 'ERR_DETACHED');
    await expectRejection(noise.visualTokensAsync(x, { prob: -1 }), 'ERR_RANGE');
  });

  it('the raw binding rejects garbage without crashing', () => {
    const x = empty([2, 4, 8]);
    const m = empty([2, 4], 'bool');
    const call = native.visualTokens as (...a: unknown[]) => unknown;
    expectError(() => call(x, empty([2, 4, 9]), m, null, 0.5, 0, 1, 1, 0, false), 'ERR_SHAPE', /out/);
    expectError(() => call(x, empty([2, 4, 8], 'float16'), m, null, 0.5, 0, 1, 1, 0, false), 'ERR_DTYPE', /out/);
    expectError(() => call(x, x, empty([2, 5], 'bool'), null, 0.5, 0, 1, 1, 0, false), 'ERR_SHAPE', /mask/);
    expectError(() => call(x, x, m, empty([3], 'bool'), 0.5, 0, 1, 1, 0, false), 'ERR_SHAPE', /rows/);
    expectError(() => call(x, x, m, null, -1, 0, 1, 1, 0, false), 'ERR_RANGE', /sigma/);
    expectError(() => call(x, x, m, null, 0.5, 3, 1, 1, 0, false), 'ERR_RANGE', /scale/);
    expectError(() => call(x, x, m, null, 0.5, 0, 2, 1, 0, false), 'ERR_RANGE', /prob/);
    expectError(() => call(x, x, m, null, 0.5, 0, 1, 1, false), 'ERR_ARGUMENT');
    expectError(() => call(empty([8]), empty([8]), m, null, 0.5, 0, 1, 1, 0, false), 'ERR_SHAPE', /3 dimensions/);
    // out partly overlapping x (a view into the same buffer at another offset)
    const big = empty([2 * 4 * 8 + 8]);
    const a = tensor(big.data.subarray(0, 64), [2, 4, 8]);
    const b = tensor(big.data.subarray(8, 72), [2, 4, 8]);
    expectError(() => call(a, b, m, null, 0.5, 0, 1, 1, 0, false), 'ERR_ARGUMENT', /overlaps/);
  });
});

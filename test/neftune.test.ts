import { describe, expect, it } from 'vitest';
import { empty, noise, numThreads, setNumThreads, tensor, type FloatDType, type Tensor } from '../lib';
import { decodeToFloat32 } from '../lib/dtype';
import { native } from '../lib/native';
import { neftuneRef } from './reference/neftune';
import { ksCritical, ksStatistic, moments } from './reference/stats';
import { assertBitEqual, assertClose, expectError, expectRejection, randomArray, rng } from './helpers';

const TOL: Record<FloatDType, { rtol: number; atol: number }> = {
  float32: { rtol: 2e-6, atol: 1e-6 },
  float16: { rtol: 1.1e-3, atol: 1e-4 },
  bfloat16: { rtol: 8e-3, atol: 1e-4 },
};

function make(shape: [number, number, number], dtype: FloatDType, seed: number) {
  const t = tensor(Float32Array.from(randomArray(shape[0] * shape[1] * shape[2], rng(seed))), shape, { dtype });
  return { t, held: Float64Array.from(decodeToFloat32(dtype, t.data)) };
}

const positionBits = (x: Tensor, p: number, D: number): Uint8Array => {
  const d = x.data as Float32Array | Uint16Array;
  return new Uint8Array(d.buffer, d.byteOffset + p * D * d.BYTES_PER_ELEMENT, D * d.BYTES_PER_ELEMENT);
};

describe('noise.neftune', () => {
  const shapes: [number, number, number][] = [
    [3, 7, 16],
    [2, 5, 1030], // D not a multiple of 4
    [4, 3, 2049],
  ];
  let k = 0;
  for (const dtype of ['float32', 'float16', 'bfloat16'] as FloatDType[])
    for (const [B, L, D] of shapes)
      for (const mode of ['lengths', 'mask', 'none'] as const) {
        const c = k++;
        it(`matches the float64 reference: ${dtype} [${B}, ${L}, ${D}] ${mode}`, () => {
          const { t, held } = make([B, L, D], dtype, c);
          const r = rng(c);
          const lengths = Array.from({ length: B }, (_, b) => (b === 1 ? 0 : 1 + Math.floor(r() * L)));
          const mask = Array.from({ length: B * L }, () => r() < 0.6);
          const norm = c % 2 ? ('padded' as const) : ('length' as const);
          const alpha = [5, 10, 15][c % 3]!;
          const opts = { alpha, norm, seed: c, offset: 3, ...(mode === 'lengths' ? { lengths } : mode === 'mask' ? { mask } : {}) };
          const res = noise.neftune(t, opts);
          const ref = neftuneRef({ x: held, B, L, D, alpha, norm, seed: c, offset: 3, lengths: mode === 'lengths' ? lengths : undefined, mask: mode === 'mask' ? mask : undefined });
          assertClose(res.out.toFloat32Array(), ref.y, { ...TOL[dtype], name: `${dtype} ${mode} ${norm}` });
          let changed = 0;
          for (let p = 0; p < B * L; p++)
            if (!ref.real[p]) expect(positionBits(res.out, p, D), `padding position ${p}`).toEqual(positionBits(t, p, D));
            else changed++;
          expect(changed).toBeGreaterThan(0);
        });
      }

  it('scales by alpha / sqrt(L D) and the noise is U(-1, 1): moments and Kolmogorov-Smirnov', () => {
    const B = 4, L = 300, D = 512;
    const x = tensor(new Float32Array(B * L * D), [B, L, D]);
    const lengths = [300, 150, 17, 1];
    const out = noise.neftune(x, { alpha: 10, lengths, seed: 21 }).out.data;
    const v: number[] = [];
    for (let b = 0; b < B; b++) {
      const mag = 10 / Math.sqrt(lengths[b]! * D);
      for (let n = 0; n < lengths[b]!; n++)
        for (let d = 0; d < D; d++) {
          const u = out[(b * L + n) * D + d]! / mag;
          expect(Math.abs(u)).toBeLessThan(1 + 1e-6);
          v.push(u);
        }
    }
    const m = moments(v);
    expect(Math.abs(m.mean)).toBeLessThan(5 * Math.sqrt(1 / 3 / v.length));
    expect(Math.abs(m.variance - 1 / 3)).toBeLessThan(5 * Math.sqrt((1 / 5 - 1 / 9) / v.length));
    expect(ksStatistic(v, (q) => Math.min(1, Math.max(0, (q + 1) / 2)))).toBeLessThan(ksCritical(v.length));
    // 'padded' normalises every row by the padded length
    const padded = noise.neftune(x, { alpha: 10, lengths, norm: 'padded', seed: 21 }).out.data;
    const ratio = Math.sqrt(17 / 300);
    const p = (2 * L + 3) * D + 5;
    expect(padded[p]! / out[p]!).toBeCloseTo(ratio, 6);
  });

  it('alpha = 0 and empty rows are the identity, bit for bit; inPlace and out', () => {
    const { t } = make([2, 4, 8], 'bfloat16', 3);
    assertBitEqual(noise.neftune(t, { alpha: 0, seed: 1 }).out.data as Uint16Array, t.data as Uint16Array);
    assertBitEqual(noise.neftune(t, { lengths: [0, 0], seed: 1 }).out.data as Uint16Array, t.data as Uint16Array);
    assertBitEqual(noise.neftune(t, { mask: new Array(8).fill(false), seed: 1 }).out.data as Uint16Array, t.data as Uint16Array);
    const ref = noise.neftune(t, { lengths: [3, 1], seed: 6 }).out;
    const out = empty([2, 4, 8], 'bfloat16');
    expect(noise.neftune(t, { lengths: [3, 1], seed: 6, out }).out).toBe(out);
    assertBitEqual(out.data, ref.data as Uint16Array);
    const copy = t.clone();
    expect(noise.neftune(copy, { lengths: tensor([3, 1], [2], { dtype: 'int32' }), seed: 6, inPlace: true }).out).toBe(copy);
    assertBitEqual(copy.data as Uint16Array, ref.data as Uint16Array, 'in place');
    const r = noise.neftune(t);
    assertBitEqual(noise.neftune(t, { seed: r.seed, offset: r.offset }).out.data as Uint16Array, r.out.data as Uint16Array, 'seed replay');
    expect(noise.neftune(empty([0, 3, 4])).out.shape).toEqual([0, 3, 4]);
  });

  it('is bit-identical for any thread count and between sync and async; inputs unmodified', async () => {
    const { t } = make([5, 33, 257], 'float32', 12);
    const before = (t.data as Float32Array).slice();
    const opts = { mask: Array.from({ length: 5 * 33 }, (_, i) => i % 7 !== 3), seed: 4, alpha: 15 };
    const n0 = numThreads();
    try {
      setNumThreads(1);
      const ref = noise.neftune(t, opts).out.data as Float32Array;
      for (const n of [2, 3, 7]) {
        setNumThreads(n);
        assertBitEqual(noise.neftune(t, opts).out.data as Float32Array, ref, `${n} threads`);
      }
      assertBitEqual((await noise.neftuneAsync(t, opts)).out.data as Float32Array, ref, 'async');
    } finally {
      setNumThreads(n0);
    }
    assertBitEqual(t.data as Float32Array, before, 'input unmodified');
  });

  it('rejects bad input with typed errors', async () => {
    const x = empty([2, 4, 8]);
    expectError(() => noise.neftune(empty([2, 4, 8], 'int32')), 'ERR_DTYPE', /expected embeds of dtype float32 or float16 or bfloat16 but received int32/);
    expectError(() => noise.neftune(empty([2, 8])), 'ERR_SHAPE', /3 dimensions/);
    expectError(() => noise.neftune(x, { lengths: [5, 1] }), 'ERR_RANGE', /expected lengths in \[0, 4\] but received 5 for row 0/);
    expectError(() => noise.neftune(x, { lengths: [1, -1] }), 'ERR_RANGE', /received -1 for row 1/);
    expectError(() => noise.neftune(x, { lengths: [1] }), 'ERR_SHAPE', /expected lengths of shape \[2\]/);
    expectError(() => noise.neftune(x, { lengths: [1.5, 2] }), 'ERR_ARGUMENT', /integers/);
    expectError(() => noise.neftune(x, { lengths: tensor([1, 2], [2]) }), 'ERR_DTYPE', /int32/);
    expectError(() => noise.neftune(x, { mask: [true] }), 'ERR_SHAPE', /mask/);
    expectError(() => noise.neftune(x, { lengths: [1, 1], mask: new Array(8).fill(true) }), 'ERR_ARGUMENT', /lengths or mask, not both/);
    expectError(() => noise.neftune(x, { alpha: -1 }), 'ERR_RANGE', /alpha/);
    expectError(() => noise.neftune(x, { norm: 'sqrt' as never }), 'ERR_ARGUMENT', /'length', 'padded'/);
    expectError(() => noise.neftune(x, { inPlace: true, out: empty([2, 4, 8]) }), 'ERR_ARGUMENT', /inPlace or out/);
    expectError(() => noise.neftune(x, { out: empty([2, 4, 7]) }), 'ERR_SHAPE', /out/);
    expectError(() => noise.neftune(x, { sigma: 1 } as never), 'ERR_ARGUMENT', /unknown option 'sigma'/);
    await expectRejection(noise.neftuneAsync(x, { lengths: [9, 9] }), 'ERR_RANGE', /row 0/);
  });

  it('the raw binding rejects garbage without crashing', () => {
    const call = native.neftune as (...a: unknown[]) => unknown;
    const x = empty([2, 4, 8]);
    expectError(() => call(x, x, tensor([1, 1], [2], { dtype: 'int32' }), empty([2, 4], 'bool'), 5, false, 1, 0, false), 'ERR_ARGUMENT', /not both/);
    expectError(() => call(x, empty([2, 4, 8], 'bfloat16'), null, null, 5, false, 1, 0, false), 'ERR_DTYPE', /out/);
    expectError(() => call(x, x, null, null, Infinity, false, 1, 0, false), 'ERR_RANGE', /alpha/);
    expectError(() => call(x, x, null, null, 5, 'no', 1, 0, false), 'ERR_ARGUMENT', /paddedNorm/);
    expectError(() => call(x, x, null, empty([2, 3], 'bool'), 5, false, 1, 0, false), 'ERR_SHAPE', /mask/);
    expectError(() => call(x, x, null, null, 5, false, 1, false), 'ERR_ARGUMENT');
  });
});

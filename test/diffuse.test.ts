import { describe, expect, it } from 'vitest';
import { empty, noise, numThreads, random, setNumThreads, tensor, type FloatDType, type Tensor } from '../lib';
import { decodeToFloat32 } from '../lib/dtype';
import { native } from '../lib/native';
import { alphasCumprodRef, betasRef, diffuseRef } from './reference/diffuse';
import { ksCritical, ksStatistic, normalCdf } from './reference/stats';
import { assertBitEqual, assertClose, expectError, expectRejection, randomArray, rng } from './helpers';

const TOL: Record<FloatDType, { rtol: number; atol: number }> = {
  float32: { rtol: 2e-6, atol: 4e-6 },
  float16: { rtol: 1.1e-3, atol: 1e-4 },
  bfloat16: { rtol: 8e-3, atol: 1e-4 },
};
const DTYPES: FloatDType[] = ['float32', 'float16', 'bfloat16'];

function make(shape: number[], dtype: FloatDType, seed: number, scale = 1) {
  const n = shape.reduce((a, b) => a * b, 1);
  const t = tensor(Float32Array.from(randomArray(n, rng(seed), scale)), shape, { dtype });
  return { t, held: Float64Array.from(decodeToFloat32(dtype, t.data)) };
}

function pixels(shape: number[], seed: number): Tensor<'uint8'> {
  const r = rng(seed);
  const n = shape.reduce((a, b) => a * b, 1);
  const d = new Uint8Array(n);
  for (let i = 0; i < n; i++) d[i] = Math.floor(r() * 256);
  d[0] = 0;
  d[1] = 255;
  return tensor(d, shape, { dtype: 'uint8' });
}

// METHODS.md §1 reference values for 'vcd-sigmoid', T = 1000: t, beta_t, abar_t, sqrt(abar_t), sqrt(1 - abar_t)
const VCD_TABLE: number[][] = [
  [0, 2.2338e-5, 0.999978, 0.999989, 0.004726],
  [100, 5.078e-5, 0.996589, 0.998293, 0.058406],
  [300, 4.2641e-4, 0.962329, 0.980984, 0.194089],
  [500, 2.5125e-3, 0.744799, 0.863017, 0.505175],
  [700, 4.5882e-3, 0.351266, 0.592677, 0.80544],
  [900, 4.9597e-3, 0.133143, 0.364888, 0.931051],
  [999, 4.9877e-3, 0.081249, 0.285042, 0.958515],
];

describe('noise.schedule', () => {
  it("'vcd-sigmoid' reproduces the METHODS.md fp64 table", () => {
    const s = noise.schedule('vcd-sigmoid');
    expect(s.steps).toBe(1000);
    for (const [t, beta, abar, sa, sb] of VCD_TABLE) {
      expect(Math.abs(s.betas[t!]! - beta!) / beta!).toBeLessThan(5e-5);
      expect(Math.abs(s.alphasCumprod[t!]! - abar!)).toBeLessThanOrEqual(5.1e-7);
      expect(Math.abs(s.sqrtAlphasCumprod[t!]! - sa!)).toBeLessThanOrEqual(5.1e-7);
      expect(Math.abs(s.sqrtOneMinusAlphasCumprod[t!]! - sb!)).toBeLessThanOrEqual(5.1e-7);
    }
  });

  it('every named schedule matches its closed form', () => {
    for (const name of ['vcd-sigmoid', 'linear', 'scaled-linear', 'cosine'] as const)
      for (const T of [1000, 50, 2]) {
        const s = noise.schedule(name, T);
        const betas = betasRef(name, T);
        const abar = alphasCumprodRef(betas);
        assertClose(s.betas, betas, { rtol: 1e-12, atol: 1e-15, name: `${name} betas` });
        assertClose(s.alphasCumprod, abar, { rtol: 1e-12, atol: 1e-15, name: `${name} abar` });
        assertClose(s.alphas, betas.map((b) => 1 - b), { rtol: 1e-15, atol: 0 });
        assertClose(s.sqrtAlphasCumprod, abar.map(Math.sqrt), { rtol: 1e-12, atol: 0 });
        assertClose(s.sqrtOneMinusAlphasCumprod, abar.map((a) => Math.sqrt(1 - a)), { rtol: 1e-12, atol: 1e-15 });
        assertClose(s.snr, abar.map((a) => a / (1 - a)), { rtol: 1e-10, atol: 0 });
      }
    // linear: exact endpoints; cosine: abar_t telescopes to f((t + 1) / T) / f(0) below the clip
    const lin = noise.schedule('linear', 1000);
    expect(lin.betas[0]).toBe(1e-4);
    expect(lin.betas[999]).toBe(0.02);
    const sl = noise.schedule('scaled-linear', 1000);
    expect(sl.betas[0]).toBeCloseTo(0.00085, 15);
    expect(sl.betas[999]).toBeCloseTo(0.012, 15);
    const f = (u: number) => Math.cos(((u + 0.008) / 1.008) * (Math.PI / 2)) ** 2;
    const cos = noise.schedule('cosine', 1000);
    for (const t of [0, 1, 250, 500, 900, 998]) expect(cos.alphasCumprod[t]).toBeCloseTo(f((t + 1) / 1000) / f(0), 10);
    expect(cos.betas[999]).toBe(0.999);
  });

  it('takes caller betas, options and tables; min-SNR weights', () => {
    const s = noise.schedule([0.1, 0.2, 0.5]);
    expect(s.name).toBe('custom');
    assertClose(s.alphasCumprod, [0.9, 0.72, 0.36], { rtol: 1e-15, atol: 0 });
    const lin = noise.schedule('linear', 10, { betaStart: 0.001, betaEnd: 0.01 });
    expect(lin.betas[0]).toBe(0.001);
    expect(lin.betas[9]).toBe(0.01);
    const w = noise.minSnrWeights(noise.schedule([0, 0.5, 1]), 5);
    expect(Array.from(w)).toEqual([0, 1, 1]); // snr = inf -> 0; snr = 1 -> min(1, 5) / 1; snr = 0 -> limit 1
    const g = noise.schedule('vcd-sigmoid');
    const wv = noise.minSnrWeights(g, 5, 'v-prediction');
    for (const t of [0, 500, 999]) {
      const snr = g.snr[t]!;
      expect(wv[t]).toBeCloseTo(Math.min(snr, 5) / (snr + 1), 12);
    }
    // gamma and prediction are checked (fuzz seed 20261207 found a Symbol gamma giving a TypeError)
    expectError(() => noise.minSnrWeights(g, Symbol('s') as never), 'ERR_ARGUMENT', /expected a number for gamma but received/);
    expectError(() => noise.minSnrWeights(g, 0), 'ERR_RANGE', /expected gamma a number > 0 but received 0/);
    expectError(() => noise.minSnrWeights(g, 5, 'x0' as never), 'ERR_ARGUMENT', /expected prediction to be one of 'epsilon', 'v-prediction'/);
    expect(Array.from(noise.minSnrWeights(noise.schedule([0, 0.5, 1]), Infinity))).toEqual([0, 1, 1]);
    expectError(() => noise.schedule('sigmoid' as never), 'ERR_ARGUMENT', /expected schedule to be one of 'vcd-sigmoid', 'linear', 'scaled-linear', 'cosine'/);
    expectError(() => noise.schedule('linear', 0), 'ERR_RANGE', /steps/);
    expectError(() => noise.schedule('linear', 2.5), 'ERR_RANGE', /steps/);
    expectError(() => noise.schedule([0.1, 1.5]), 'ERR_RANGE', /expected every beta in \[0, 1\] but received 1.5 at t = 1/);
    expectError(() => noise.schedule([]), 'ERR_SHAPE', /at least 1 beta/);
    expectError(() => noise.schedule([0.1, 0.2], 3), 'ERR_SHAPE', /steps 2/);
    expectError(() => noise.schedule('cosine', 10, { betaStart: 0.1 }), 'ERR_ARGUMENT', /cosine/);
    expectError(() => noise.schedule('linear', 10, { betaEnd: 2 }), 'ERR_RANGE', /betaEnd/);
    expectError(() => noise.schedule('linear', 10, { beta: 2 } as never), 'ERR_ARGUMENT', /unknown option 'beta'/);
  });
});

describe('noise.diffuse', () => {
  const shapes = [[3, 5, 7], [2, 1031], [4, 3, 16, 16], [1, 4099]];
  let k = 0;
  for (const dtype of DTYPES)
    for (const shape of shapes) {
      const c = k++;
      it(`matches the float64 reference: ${dtype} [${shape.join(', ')}]`, () => {
        const { t, held } = make(shape, dtype, c, 2);
        const B = shape[0]!;
        const sched = (['vcd-sigmoid', 'linear', 'scaled-linear', 'cosine'] as const)[c % 4]!;
        const ts = Array.from({ length: B }, (_, b) => (b === 1 ? -1 : (c * 131 + b * 377) % 1000));
        const abar = alphasCumprodRef(betasRef(sched, 1000));
        const perSample = c % 2 ? tensor(ts, [B], { dtype: 'int32' }) : ts;
        const r = noise.diffuse(t, { t: perSample, schedule: sched, seed: 50 + c, offset: c, returnNoise: true });
        expect(r.xt.dtype).toBe(dtype);
        const ref = diffuseRef({ x: held, B, t: ts, abar, seed: 50 + c, offset: c });
        assertClose(r.xt.toFloat32Array(), ref.y, { ...TOL[dtype], name: `${dtype} ${sched}` });
        assertClose(r.eps!.data, ref.eps, { rtol: 2e-6, atol: 2e-6, name: 'eps' });
        // a scalar t applies to every sample
        const t0 = ts[0]!;
        const all = noise.diffuse(t, { t: t0, schedule: sched, seed: 50 + c, offset: c });
        const refAll = diffuseRef({ x: held, B, t: ts.map(() => t0), abar, seed: 50 + c, offset: c });
        assertClose(all.xt.toFloat32Array(), refAll.y, TOL[dtype]);
      });
    }

  it('t = -1 leaves a sample unchanged, bit for bit, with zero noise', () => {
    for (const dtype of DTYPES) {
      const { t } = make([3, 40], dtype, 7);
      (t.data as Uint16Array)[45] = dtype === 'float32' ? 0 : 0x7d01; // a NaN payload survives in half types
      const r = noise.diffuse(t, { t: [500, -1, 20], seed: 1, returnNoise: true });
      const S = 40;
      const bits = (x: Tensor, b: number) => new Uint8Array((x.data as Uint16Array).buffer, b * S * (dtype === 'float32' ? 4 : 2), S * (dtype === 'float32' ? 4 : 2));
      expect(bits(r.xt, 1)).toEqual(bits(t, 1));
      expect(bits(r.xt, 0)).not.toEqual(bits(t, 0));
      expect(Array.from(r.eps!.data.subarray(S, 2 * S)).every((v) => v === 0)).toBe(true);
      assertBitEqual(noise.diffuse(t, { t: -1, seed: 1 }).xt.data as Uint16Array, t.data as Uint16Array, `${dtype} all -1`);
    }
  });

  it('t = 0 is close to the identity; large t is mostly noise', () => {
    const { t, held } = make([2, 5000], 'float32', 3);
    const r0 = noise.diffuse(t, { t: 0, seed: 2 }).xt.data as Float32Array;
    let d = 0;
    for (let i = 0; i < held.length; i++) d = Math.max(d, Math.abs(r0[i]! - held[i]!));
    expect(d).toBeGreaterThan(0); // t = 0 already adds a little noise
    expect(d).toBeLessThan(0.004726 * 6.7 + 2.3e-5 * 4); // sqrt(1 - abar_0) |eps|max + (1 - sqrt(abar_0)) |x|max
  });

  it('returnNoise gives the stream normals of every noised element (random.normal, same seed/offset)', () => {
    const { t } = make([4, 3, 9, 7], 'bfloat16', 12);
    const r = noise.diffuse(t, { t: [900, 10, -1, 999], seed: 9n, offset: 4, returnNoise: true });
    const z = random.normal([t.numel], { seed: 9n, offset: 4 }).data;
    const S = t.numel / 4;
    for (const b of [0, 1, 3]) assertBitEqual(r.eps!.data.subarray(b * S, b * S + S), z.subarray(b * S, b * S + S), `sample ${b}`);
    expect(r.eps!.dtype).toBe('float32');
    expect(r.seed).toBe(9n);
    // noise statistics: KS on the eps of the noised samples
    const noised = [...r.eps!.data.subarray(0, 2 * S), ...r.eps!.data.subarray(3 * S)];
    expect(ksStatistic(noised, normalCdf)).toBeLessThan(ksCritical(noised.length));
  });

  it('normalises uint8 images [B, C, H, W] and [B, H, W, C] in the same pass', () => {
    const B = 3, C = 3, H = 5, W = 7;
    const img = pixels([B, C, H, W], 4);
    const mean = [0.48145466, 0.4578275, 0.40821073];
    const std = [0.26862954, 0.26130258, 0.27577711];
    const cases: [Parameters<typeof noise.diffuse>[1]['normalize'], number[], number[]][] = [
      ['minus-one-one', [0.5, 0.5, 0.5], [0.5, 0.5, 0.5]],
      ['zero-one', [0, 0, 0], [1, 1, 1]],
      ['clip', mean, std],
      [{ mean: [0.1, 0.2, 0.3], std: [0.5] }, [0.1, 0.2, 0.3], [0.5, 0.5, 0.5]],
    ];
    for (const [normalize, m, s] of cases) {
      const r = noise.diffuse(img, { t: [300, -1, 999], normalize, seed: 3, returnNoise: true });
      expect(r.xt.dtype).toBe('float32');
      const ref = diffuseRef({ x: img.data, B, t: [300, -1, 999], abar: alphasCumprodRef(betasRef('vcd-sigmoid', 1000)), seed: 3, offset: 0, norm: { mean: m, std: s, channel: (j) => Math.floor(j / (H * W)) % C } });
      assertClose(r.xt.data as Float32Array, ref.y, { rtol: 2e-6, atol: 4e-6, name: JSON.stringify(normalize) });
    }
    // exact where torch is exact: (u - 127.5) / 127.5 and u / 255 in float32, at t = -1
    const pm = noise.diffuse(img, { t: -1, normalize: 'minus-one-one' }).xt.data;
    const zo = noise.diffuse(img, { t: -1, normalize: 'zero-one' }).xt.data;
    for (let i = 0; i < img.numel; i++) {
      expect(pm[i]).toBe(Math.fround((img.data[i]! - 127.5) / 127.5));
      expect(zo[i]).toBe(Math.fround(img.data[i]! / 255));
    }
    expect(pm[0]).toBe(-1);
    expect(pm[1]).toBe(1);
    // channels-last gives the same values, transposed; half outputs are the float32 values rounded
    const nhwc = new Uint8Array(img.numel);
    for (let b = 0; b < B; b++)
      for (let c = 0; c < C; c++)
        for (let p = 0; p < H * W; p++) nhwc[((b * H * W) + p) * C + c] = img.data[(b * C + c) * H * W + p]!;
    const last = noise.diffuse(tensor(nhwc, [B, H, W, C], { dtype: 'uint8' }), { t: -1, normalize: 'clip', layout: 'nhwc' }).xt.data;
    const first = noise.diffuse(img, { t: -1, normalize: 'clip' }).xt.data;
    for (let b = 0; b < B; b++)
      for (let c = 0; c < C; c++)
        for (let p = 0; p < H * W; p++) expect(last[((b * H * W) + p) * C + c]).toBe(first[(b * C + c) * H * W + p]);
    const nhwcRef = diffuseRef({ x: nhwc, B, t: [5, 600, 999], abar: alphasCumprodRef(betasRef('vcd-sigmoid', 1000)), seed: 8, offset: 1, norm: { mean, std, channel: (j) => j % C } });
    assertClose(noise.diffuse(tensor(nhwc, [B, H, W, C], { dtype: 'uint8' }), { t: [5, 600, 999], normalize: 'clip', layout: 'nhwc', seed: 8, offset: 1 }).xt.data as Float32Array, nhwcRef.y, { rtol: 2e-6, atol: 4e-6 });
    const bf = noise.diffuse(img, { t: 400, normalize: 'clip', dtype: 'bfloat16', seed: 2 }).xt;
    expect(bf.dtype).toBe('bfloat16');
    assertClose(bf.toFloat32Array(), noise.diffuse(img, { t: 400, normalize: 'clip', seed: 2 }).xt.data as Float32Array, { rtol: 4e-3, atol: 1e-6 });
    // a large channels-last image crosses several 4095-element pattern chunks
    const wide = pixels([2, 40, 41, 3], 6);
    const wRef = diffuseRef({ x: wide.data, B: 2, t: [100, 700], abar: alphasCumprodRef(betasRef('vcd-sigmoid', 1000)), seed: 1, offset: 0, norm: { mean, std, channel: (j) => j % 3 } });
    assertClose(noise.diffuse(wide, { t: [100, 700], normalize: 'clip', layout: 'nhwc', seed: 1 }).xt.data as Float32Array, wRef.y, { rtol: 2e-6, atol: 4e-6 });
  });

  it('accepts a schedule table, caller betas and steps; writes into out (also in place)', () => {
    const { t, held } = make([2, 33], 'float32', 5);
    const betas = Array.from({ length: 20 }, (_, i) => 0.01 + i * 0.002);
    const a = noise.diffuse(t, { t: [3, 19], schedule: betas, seed: 4 });
    const b = noise.diffuse(t, { t: [3, 19], schedule: noise.schedule(betas), seed: 4 });
    assertBitEqual(a.xt.data as Float32Array, b.xt.data as Float32Array);
    assertClose(a.xt.data as Float32Array, diffuseRef({ x: held, B: 2, t: [3, 19], abar: alphasCumprodRef(betas), seed: 4, offset: 0 }).y, TOL.float32);
    const c = noise.diffuse(t, { t: 40, schedule: 'linear', steps: 50, seed: 4 });
    assertClose(c.xt.data as Float32Array, diffuseRef({ x: held, B: 2, t: [40, 40], abar: alphasCumprodRef(betasRef('linear', 50)), seed: 4, offset: 0 }).y, TOL.float32);
    const out = empty([2, 33]);
    expect(noise.diffuse(t, { t: [3, 19], schedule: betas, seed: 4, out }).xt).toBe(out);
    assertBitEqual(out.data, a.xt.data as Float32Array);
    const copy = t.clone();
    noise.diffuse(copy, { t: [3, 19], schedule: betas, seed: 4, out: copy });
    assertBitEqual(copy.data as Float32Array, a.xt.data as Float32Array, 'in place');
    expect(noise.diffuse(empty([0, 3]), { t: 5 }).xt.shape).toEqual([0, 3]);
  });

  it('is bit-identical for any thread count and between sync and async; inputs unmodified', async () => {
    const { t } = make([5, 3, 37, 29], 'float16', 8);
    const img = pixels([2, 3, 50, 60], 9);
    const before = numThreads();
    const x0 = (t.data as Uint16Array).slice();
    try {
      setNumThreads(1);
      const ref = noise.diffuse(t, { t: [1, 200, -1, 999, 50], seed: 3, returnNoise: true });
      const refImg = noise.diffuse(img, { t: [10, 990], normalize: 'clip', seed: 3 }).xt.data;
      for (const n of [2, 3, 7]) {
        setNumThreads(n);
        const r = noise.diffuse(t, { t: [1, 200, -1, 999, 50], seed: 3, returnNoise: true });
        assertBitEqual(r.xt.data as Uint16Array, ref.xt.data as Uint16Array, `${n} threads`);
        assertBitEqual(r.eps!.data, ref.eps!.data, `${n} threads eps`);
        assertBitEqual(noise.diffuse(img, { t: [10, 990], normalize: 'clip', seed: 3 }).xt.data as Float32Array, refImg as Float32Array);
      }
      const r = await noise.diffuseAsync(t, { t: [1, 200, -1, 999, 50], seed: 3, returnNoise: true });
      assertBitEqual(r.xt.data as Uint16Array, ref.xt.data as Uint16Array, 'async');
      assertBitEqual(r.eps!.data, ref.eps!.data, 'async eps');
    } finally {
      setNumThreads(before);
    }
    assertBitEqual(t.data as Uint16Array, x0, 'input unmodified');
  });

  it('rejects bad input with typed errors', async () => {
    const x = empty([2, 8]);
    const img = pixels([2, 3, 4, 4], 1);
    expectError(() => noise.diffuse(x, {} as never), 'ERR_ARGUMENT', /expected t \(an integer or an int32 \[2\] tensor\)/);
    expectError(() => noise.diffuse(x, { t: 1000 }), 'ERR_RANGE', /expected t in \[-1, 999\] but received 1000/);
    expectError(() => noise.diffuse(x, { t: -2 }), 'ERR_RANGE', /expected t in \[-1, 999\]/);
    expectError(() => noise.diffuse(x, { t: 1.5 }), 'ERR_RANGE', /integer/);
    expectError(() => noise.diffuse(x, { t: [3, 1000] }), 'ERR_RANGE', /expected t in \[-1, 999\] but received 1000 for sample 1/);
    expectError(() => noise.diffuse(x, { t: tensor([3, -7], [2], { dtype: 'int32' }) }), 'ERR_RANGE', /received -7 for sample 1/);
    // every t is checked before anything is written: a given `out` keeps its contents
    const out = tensor(new Float32Array(16).fill(7), [2, 8]);
    expectError(() => noise.diffuse(x, { t: [3, 1000], out }), 'ERR_RANGE', /sample 1/);
    expect(Array.from(out.data).every((v) => v === 7)).toBe(true);
    expectError(() => noise.diffuse(x, { t: 10, schedule: 'linear', steps: 10 }), 'ERR_RANGE', /\[-1, 9\]/);
    expectError(() => noise.diffuse(x, { t: [1, 2, 3] }), 'ERR_SHAPE', /expected t of shape \[2\]/);
    expectError(() => noise.diffuse(x, { t: tensor([1, 2], [2]) }), 'ERR_DTYPE', /expected t of dtype int32 but received float32/);
    expectError(() => noise.diffuse(empty([2, 8], 'int32'), { t: 1 }), 'ERR_DTYPE', /x0 of dtype float32 or float16 or bfloat16 or uint8/);
    expectError(() => noise.diffuse(tensor([1], []), { t: 1 }), 'ERR_SHAPE', /batch dimension/);
    expectError(() => noise.diffuse(img, { t: 1 }), 'ERR_ARGUMENT', /uint8 images need normalize/);
    expectError(() => noise.diffuse(x, { t: 1, normalize: 'clip' }), 'ERR_ARGUMENT', /normalize applies to uint8 images only/);
    expectError(() => noise.diffuse(pixels([2, 48], 1), { t: 1, normalize: 'clip' }), 'ERR_SHAPE', /4 dimensions/);
    expectError(() => noise.diffuse(pixels([2, 4, 4, 4], 1), { t: 1, normalize: 'clip' }), 'ERR_SHAPE', /'clip' expects 3 channels/);
    expectError(() => noise.diffuse(img, { t: 1, normalize: { mean: [0.5], std: [0] } }), 'ERR_RANGE', /std values > 0/);
    expectError(() => noise.diffuse(img, { t: 1, normalize: { mean: [0.5, 0.5], std: [1] } }), 'ERR_SHAPE', /length 3/);
    expectError(() => noise.diffuse(img, { t: 1, normalize: 'imagenet' as never }), 'ERR_ARGUMENT', /normalize/);
    expectError(() => noise.diffuse(img, { t: 1, normalize: 'clip', layout: 'chw' as never }), 'ERR_ARGUMENT', /layout/);
    expectError(() => noise.diffuse(img, { t: 1, normalize: 'clip', dtype: 'int32' as never }), 'ERR_ARGUMENT', /dtype/);
    expectError(() => noise.diffuse(x, { t: 1, schedule: 'ddpm' as never }), 'ERR_ARGUMENT', /schedule/);
    expectError(() => noise.diffuse(x, { t: 1, schedule: [0.1, 0.2], steps: 3 }), 'ERR_SHAPE', /steps 2/);
    expectError(() => noise.diffuse(x, { t: 1, out: empty([2, 8], 'float16') }), 'ERR_DTYPE', /out/);
    expectError(() => noise.diffuse(x, { t: 1, returnNoise: 1 as never }), 'ERR_ARGUMENT', /returnNoise/);
    expectError(() => noise.diffuse(x, { t: 1, noise: true } as never), 'ERR_ARGUMENT', /unknown option 'noise'/);
    await expectRejection(noise.diffuseAsync(x, { t: [0, 1000] }), 'ERR_RANGE', /sample 1/);
  });

  it('the raw binding rejects garbage without crashing', () => {
    const call = native.diffuse as (...a: unknown[]) => unknown;
    const x = empty([2, 8]);
    const ca = tensor(new Float32Array(10).fill(0.5), [10]);
    const img = pixels([2, 3, 2, 2], 1);
    const c3 = tensor([0, 0, 0], [3]);
    expectError(() => call(x, empty([2, 8]), null, null, 1, ca, tensor(new Float32Array(9), [9]), null, null, 1, 1, 0, false), 'ERR_SHAPE', /sqrtOneMinusAlphasCumprod/);
    expectError(() => call(x, empty([2, 8]), null, null, 10, ca, ca, null, null, 1, 1, 0, false), 'ERR_RANGE', /received 10 for sample 0/);
    expectError(() => call(x, empty([2, 8]), null, null, 1, tensor(new Float32Array(0), [0]), tensor(new Float32Array(0), [0]), null, null, 1, 1, 0, false), 'ERR_SHAPE', /at least 1 step/);
    expectError(() => call(img, empty([2, 3, 2, 2]), null, null, 1, ca, ca, null, null, 4, 1, 0, false), 'ERR_ARGUMENT', /normSub/);
    expectError(() => call(x, empty([2, 8]), null, null, 1, ca, ca, c3, c3, 1, 1, 0, false), 'ERR_ARGUMENT', /uint8 x0 only/);
    expectError(() => call(img, empty([2, 3, 2, 2]), null, null, 1, ca, ca, c3, c3, 5, 1, 0, false), 'ERR_SHAPE', /do not tile/);
    expectError(() => call(x, empty([2, 8]), x, null, 1, ca, ca, null, null, 1, 1, 0, false), 'ERR_ARGUMENT', /expected eps disjoint from x0 but received one that shares memory/);
    expectError(() => call(x, empty([2, 8]), null, tensor([1], [1], { dtype: 'int32' }), 1, ca, ca, null, null, 1, 1, 0, false), 'ERR_SHAPE', /t of shape \[2\]/);
    expectError(() => call(x, empty([2, 8]), null, null, 1, ca, ca, null, null, 0, 1, 0, false), 'ERR_RANGE', /inner/);
    expectError(() => call(x, empty([2, 8]), null, null, 1, ca, ca, null, null, 1, 1, false), 'ERR_ARGUMENT');
  });
});

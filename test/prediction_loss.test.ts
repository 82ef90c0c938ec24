import { describe, expect, it } from 'vitest';
import { empty, noise, numThreads, setNumThreads, tensor, type FloatDType } from '../lib';
import { decodeToFloat32 } from '../lib/dtype';
import { native } from '../lib/native';
import { predictionLossRef } from './reference/prediction_loss';
import { alphasCumprodRef, betasRef } from './reference/diffuse';
import { assertBitEqual, assertClose, expectError, expectRejection, randomArray, rng } from './helpers';

function make(shape: number[], dtype: FloatDType, seed: number) {
  const n = shape.reduce((a, b) => a * b, 1);
  const t = tensor(Float32Array.from(randomArray(n, rng(seed))), shape, { dtype });
  return { t, held: Float64Array.from(decodeToFloat32(dtype, t.data)) };
}

const GRAD_TOL: Record<FloatDType, { rtol: number; atol: number }> = {
  float32: { rtol: 2e-6, atol: 1e-12 },
  float16: { rtol: 1.1e-3, atol: 6e-8 }, // tiny gradients are float16 subnormals (spacing 2^-24)
  bfloat16: { rtol: 8e-3, atol: 1e-12 },
};

describe('noise.predictionLoss', () => {
  const combos: [FloatDType, FloatDType][] = [
    ['float32', 'float32'],
    ['bfloat16', 'float32'],
    ['float16', 'float16'],
    ['bfloat16', 'bfloat16'],
  ];
  const shapes = [[3, 5, 7], [2, 40001], [4, 3, 11, 31], [5, 1]];
  let k = 0;
  for (const [pd, td] of combos)
    for (const shape of shapes) {
      const c = k++;
      it(`matches the float64 reference: ${pd} vs ${td} [${shape.join(', ')}]`, () => {
        const { t: p, held: ph } = make(shape, pd, c);
        const { t: e, held: eh } = make(shape, td, c + 1000);
        const B = shape[0]!;
        const weights = c % 3 === 0 ? null : Array.from({ length: B }, (_, b) => 0.5 + b);
        const gradScale = c % 2 ? 1 : 0.25;
        const r = noise.predictionLoss(p, e, { ...(weights ? { weights } : {}), gradScale });
        const ref = predictionLossRef(ph, eh, B, weights, gradScale);
        expect(r.loss.shape).toEqual([]);
        assertClose(r.loss.data, [ref.loss], { rtol: 1e-5, atol: 0, name: 'loss' });
        assertClose(r.perSample.data, ref.perSample, { rtol: 1e-5, atol: 0, name: 'perSample' });
        assertClose(r.weights.data, weights ?? new Array(B).fill(1), { rtol: 0, atol: 0 });
        expect(r.grad!.dtype).toBe(pd);
        expect(r.grad!.shape).toEqual(shape);
        assertClose(r.grad!.toFloat32Array(), ref.grad, { ...GRAD_TOL[pd], name: 'grad' });
      });
    }

  it('the gradient matches float64 central finite differences of the loss', () => {
    const { t: p, held: ph } = make([3, 50], 'float32', 1);
    const { t: e, held: eh } = make([3, 50], 'float32', 2);
    const w = [1, 0.3, 2];
    const g = noise.predictionLoss(p, e, { weights: w }).grad!.data as Float32Array;
    const h = 1e-4;
    for (const i of [0, 17, 60, 149]) {
      const up = Float64Array.from(ph);
      const dn = Float64Array.from(ph);
      up[i]! += h;
      dn[i]! -= h;
      const fd = (predictionLossRef(up, eh, 3, w).loss - predictionLossRef(dn, eh, 3, w).loss) / (2 * h);
      expect(Math.abs(g[i]! - fd) / Math.abs(fd)).toBeLessThan(1e-5);
    }
  });

  it('min-SNR-gamma weights from the schedule and t (epsilon and v targets; t = -1 weighs 0)', () => {
    const { t: p, held: ph } = make([4, 64], 'float32', 3);
    const { t: e, held: eh } = make([4, 64], 'float32', 4);
    const ts = [0, 500, -1, 999];
    const abar = alphasCumprodRef(betasRef('scaled-linear', 1000));
    for (const prediction of ['epsilon', 'v-prediction'] as const) {
      const w = ts.map((t) => {
        if (t === -1) return 0;
        const snr = abar[t]! / (1 - abar[t]!);
        return Math.min(snr, 5) / (prediction === 'epsilon' ? snr : snr + 1);
      });
      for (const tArg of [ts, tensor(ts, [4], { dtype: 'int32' })]) {
        const r = noise.predictionLoss(p, e, { minSnrGamma: 5, t: tArg, schedule: 'scaled-linear', prediction });
        assertClose(r.weights.data, w, { rtol: 1e-7, atol: 0, name: `${prediction} weights` });
        const ref = predictionLossRef(ph, eh, 4, r.weights.data);
        assertClose(r.loss.data, [ref.loss], { rtol: 1e-5, atol: 0 });
        assertClose(r.grad!.data as Float32Array, ref.grad, GRAD_TOL.float32);
        expect(Array.from((r.grad!.data as Float32Array).subarray(128, 192)).every((v) => v === 0)).toBe(true);
      }
    }
    const one = noise.predictionLoss(p, e, { minSnrGamma: 5, t: 700 });
    const s = noise.schedule('vcd-sigmoid').snr[700]!;
    assertClose(one.weights.data, new Array(4).fill(Math.min(s, 5) / s), { rtol: 1e-7, atol: 0 });
  });

  it('grad: false skips the gradient; empty samples and batches give 0', () => {
    const { t: p } = make([2, 9], 'float32', 5);
    const r = noise.predictionLoss(p, p, { grad: false });
    expect(r.grad).toBeUndefined();
    expect(r.loss.data[0]).toBe(0);
    const z = noise.predictionLoss(empty([3, 0]), empty([3, 0]));
    expect(z.loss.data[0]).toBe(0);
    expect(Array.from(z.perSample.data)).toEqual([0, 0, 0]);
    expect(noise.predictionLoss(empty([0, 4]), empty([0, 4])).loss.data[0]).toBe(0);
  });

  it('is bit-identical for any thread count and between sync and async; inputs unmodified', async () => {
    const { t: p } = make([3, 70001], 'bfloat16', 6);
    const { t: e } = make([3, 70001], 'float32', 7);
    const pb = (p.data as Uint16Array).slice();
    const n0 = numThreads();
    try {
      setNumThreads(1);
      const ref = noise.predictionLoss(p, e, { weights: [1, 2, 3] });
      for (const n of [2, 3, 7]) {
        setNumThreads(n);
        const r = noise.predictionLoss(p, e, { weights: [1, 2, 3] });
        assertBitEqual(r.loss.data, ref.loss.data, `${n} threads loss`);
        assertBitEqual(r.perSample.data, ref.perSample.data, `${n} threads perSample`);
        assertBitEqual(r.grad!.data as Uint16Array, ref.grad!.data as Uint16Array, `${n} threads grad`);
      }
      const a = await noise.predictionLossAsync(p, e, { weights: [1, 2, 3] });
      assertBitEqual(a.loss.data, ref.loss.data, 'async');
      assertBitEqual(a.grad!.data as Uint16Array, ref.grad!.data as Uint16Array, 'async grad');
    } finally {
      setNumThreads(n0);
    }
    assertBitEqual(p.data as Uint16Array, pb, 'input unmodified');
  });

  it('rejects bad input with typed errors', async () => {
    const p = empty([2, 8]);
    expectError(() => noise.predictionLoss(p, empty([2, 9])), 'ERR_SHAPE', /expected eps of shape \[2, 8\] \(from epsPred\) but received \[2, 9\]/);
    expectError(() => noise.predictionLoss(empty([2, 8], 'int32'), p), 'ERR_DTYPE', /epsPred/);
    expectError(() => noise.predictionLoss(p, empty([2, 8], 'uint8')), 'ERR_DTYPE', /eps/);
    expectError(() => noise.predictionLoss(tensor([1], []), tensor([1], [])), 'ERR_SHAPE', /batch dimension/);
    expectError(() => noise.predictionLoss(p, p, { weights: [1] }), 'ERR_SHAPE', /weights/);
    expectError(() => noise.predictionLoss(p, p, { weights: [1, NaN] }), 'ERR_ARGUMENT', /finite numbers/);
    expectError(() => noise.predictionLoss(p, p, { weights: [1, 1], minSnrGamma: 5, t: 1 }), 'ERR_ARGUMENT', /weights or minSnrGamma/);
    expectError(() => noise.predictionLoss(p, p, { t: 3 }), 'ERR_ARGUMENT', /t is only used with minSnrGamma/);
    expectError(() => noise.predictionLoss(p, p, { minSnrGamma: 5 }), 'ERR_ARGUMENT', /expected t/);
    expectError(() => noise.predictionLoss(p, p, { minSnrGamma: 0, t: 1 }), 'ERR_RANGE', /minSnrGamma/);
    expectError(() => noise.predictionLoss(p, p, { minSnrGamma: 5, t: 1000 }), 'ERR_RANGE', /expected t in \[-1, 999\]/);
    expectError(() => noise.predictionLoss(p, p, { minSnrGamma: 5, t: [2, 1000] }), 'ERR_RANGE', /received 1000 for sample 1/);
    expectError(() => noise.predictionLoss(p, p, { minSnrGamma: 5, t: 1, prediction: 'x0' as never }), 'ERR_ARGUMENT', /prediction/);
    expectError(() => noise.predictionLoss(p, p, { gradScale: Infinity }), 'ERR_RANGE', /gradScale/);
    expectError(() => noise.predictionLoss(p, p, { reduction: 'sum' } as never), 'ERR_ARGUMENT', /unknown option 'reduction'/);
    await expectRejection(noise.predictionLossAsync(p, p, { minSnrGamma: 5, t: [2, -5] }), 'ERR_RANGE', /sample 1/);
  });

  it('the raw binding rejects garbage without crashing', () => {
    const call = native.predictionLoss as (...a: unknown[]) => unknown;
    const p = empty([2, 8]);
    const e = empty([2, 8]);
    const out = () => [empty([2]), empty([2]), empty([])];
    expectError(() => call(p, e, null, ...out(), empty([2]), tensor([1], [1]), null, -1, 1, false), 'ERR_ARGUMENT', /not both/);
    expectError(() => call(p, e, null, empty([3]), empty([2]), empty([]), null, null, null, -1, 1, false), 'ERR_SHAPE', /perSample/);
    expectError(() => call(p, e, null, empty([2]), empty([2]), empty([2]), null, null, null, -1, 1, false), 'ERR_SHAPE', /loss/);
    expectError(() => call(p, e, empty([2, 8], 'bfloat16'), ...out(), null, null, null, -1, 1, false), 'ERR_DTYPE', /grad/);
    expectError(() => call(p, e, p, ...out(), null, null, null, -1, 1, false), 'ERR_ARGUMENT', /shares memory/);
    expectError(() => call(p, e, null, ...out(), null, tensor([1, 1], [2]), null, 5, 1, false), 'ERR_RANGE', /received 5 for sample 0/);
    expectError(() => call(p, e, null, ...out(), null, null, null, -1, NaN, false), 'ERR_ARGUMENT', /expected a number for gradScale but received number NaN/);
    expectError(() => call(p, e, null, ...out(), null, null, null, -1, false), 'ERR_ARGUMENT');
  });
});

/**
 * TRL compatibility (issue 12 item 6): a TRL-style shared config (every option at its default) is
 * accepted by every loss type; losses and reward metrics are TRL 1.x's (summed log-ratios, ipo and
 * sigmoid_norm averaged with the token counts); sampling without a seed draws fresh randomness.
 */
import { describe, expect, it } from 'vitest';
import { dpo, sampling, tensor, type Tensor } from '../lib';
import { sequenceLogpsRef, padded } from './reference/sequence_logps';
import { trlLoss, trlLosses, trlRewards, type TrlBatch } from './reference/trl_dpo';
import { assertBitEqual, assertClose, expectError, randomArray, rng } from './helpers';

const f32 = (a: number[]): Tensor<'float32'> => tensor(Float32Array.from(a), [a.length]);
const i32 = (a: number[]): Tensor<'int32'> => tensor(Int32Array.from(a), [a.length]);
const held = (a: number[]) => Array.from(Float32Array.from(a));

/** B pairs of SUMMED log-probs over n_c / n_r tokens (n = 0 included: TRL clamps it to 1). */
function batch(B: number, seed: number): TrlBatch {
  const r = rng(seed);
  const n = () => Array.from({ length: B }, (_, i) => (i === 0 ? 0 : 1 + Math.floor(r() * 40)));
  const nc = n();
  const nr = n();
  const lp = (counts: number[]) => held(counts.map((k) => -Math.max(k, 1) * (0.5 + r())));
  return { pc: lp(nc), pr: lp(nr), rc: lp(nc), rr: lp(nr), nc, nr };
}
const inputs = (b: TrlBatch) => ({
  policyChosen: f32(b.pc),
  policyRejected: f32(b.pr),
  refChosen: f32(b.rc),
  refRejected: f32(b.rr),
  chosenCounts: i32(b.nc),
  rejectedCounts: i32(b.nr),
});

/** TRL DPOConfig defaults, as one shared options object. */
const SHARED = { beta: 0.1, labelSmoothing: 0, referenceFree: false, gamma: 0.5, tau: 0.05, average: false } as const;
const TRL_TYPES = dpo.DPO_LOSS_TYPES.filter((t) => t !== 'simpo'); // simpo is TRL's CPOTrainer, not DPOTrainer

describe('TRL: a shared config with every option at its default', () => {
  for (const type of dpo.DPO_LOSS_TYPES)
    it(`is accepted by '${type}' (dpo.loss and dpo.step) and equals passing no options`, () => {
      const b = batch(6, type.length);
      const a = dpo.loss(inputs(b), { ...SHARED, type });
      const ref = dpo.loss(inputs(b), { type });
      expect(a.loss).toBe(ref.loss);
      assertBitEqual(a.losses.data, ref.losses.data, `${type} losses`);
      assertBitEqual(a.grad.policyChosen.data, ref.grad.policyChosen.data, `${type} grad`);
      // dpo.step: every loss option plus the row options at their defaults
      const r = rng(9);
      const [B, T, V] = [2, 6, 11];
      const logits = tensor(Float32Array.from(randomArray(2 * B * T * V, r, 2)), [2 * B, T, V]);
      const labels = tensor(Int32Array.from({ length: 2 * B * T }, (_, i) => (i % T < 2 ? -100 : Math.floor(r() * V))), [2 * B, T]);
      const refs = { refChosen: f32([-30, -31]), refRejected: f32([-29, -33]) };
      const stepShared = { ...SHARED, ignoreIndex: -100, shift: true, inPlace: false, average: type === 'simpo' };
      const s = dpo.step({ logits, labels, ...refs }, { ...stepShared, type });
      const s0 = dpo.step({ logits, labels, ...refs }, { type, inPlace: false });
      expect(s.loss).toBe(s0.loss);
      assertBitEqual(s.gradLogits.data as Float32Array, s0.gradLogits.data as Float32Array, `${type} step gradient`);
    });

  it("exo_pair reads labelSmoothing 0 as EXO's recommended 1e-3 (TRL 0.x; TRL 1.x raises instead)", () => {
    const b = batch(5, 3);
    assertBitEqual(dpo.loss(inputs(b), { type: 'exo_pair', labelSmoothing: 0 }).losses.data, dpo.loss(inputs(b), { type: 'exo_pair', labelSmoothing: 1e-3 }).losses.data);
  });

  it('still rejects a non-default value that the type would ignore', () => {
    const x = inputs(batch(3, 1));
    expectError(() => dpo.loss(x, { type: 'ipo', labelSmoothing: 0.1 }), 'ERR_ARGUMENT', /labelSmoothing is only used by .*: expected 0 or none for 'ipo' but received 0.1/);
    expectError(() => dpo.loss(x, { gamma: 1 }), 'ERR_ARGUMENT', /gamma is only used by simpo: expected 0.5 or none for 'sigmoid' but received 1/);
    expectError(() => dpo.loss(x, { type: 'hinge', tau: 0.2 }), 'ERR_ARGUMENT', /tau is only used by discopop: expected 0.05 or none for 'hinge'/);
  });
});

describe('TRL 1.x losses and metrics', () => {
  for (const type of TRL_TYPES)
    for (const beta of [0.1, 0.7])
      it(`'${type}' beta ${beta}: per-pair losses and rewards/chosen, rejected, margins, accuracies as DPOTrainer`, () => {
        const b = batch(9, type.length * 7 + beta * 10);
        const cfg = { beta, labelSmoothing: type === 'robust' || type.startsWith('aot') ? 0.1 : 0, discopopTau: 0.05 };
        const res = dpo.loss(inputs(b), { type, beta, ...(cfg.labelSmoothing ? { labelSmoothing: cfg.labelSmoothing } : {}) });
        assertClose(res.losses.data, trlLosses(type, b, cfg), { rtol: 2e-6, atol: 1e-7, name: `${type} losses` });
        expect(res.loss).toBeCloseTo(trlLoss(type, b, cfg), 6);
        const m = trlRewards(b, beta);
        assertClose(res.chosenRewards.data, m.chosen, { rtol: 1e-6, atol: 1e-6, name: 'rewards/chosen' });
        assertClose(res.rejectedRewards.data, m.rejected, { rtol: 1e-6, atol: 1e-6, name: 'rewards/rejected' });
        assertClose(res.margins.data, m.margins, { rtol: 1e-6, atol: 1e-6, name: 'rewards/margins' });
        expect(res.accuracy).toBe(m.accuracy);
      });

  for (const type of ['ipo', 'sigmoid_norm'] as const)
    it(`'${type}' on summed log-probs: the gradient matches finite differences of TRL's loss`, () => {
      const b = batch(6, 21);
      const cfg = { beta: 0.4, labelSmoothing: 0, discopopTau: 0.05 };
      const res = dpo.loss(inputs(b), { type, beta: cfg.beta });
      for (const [key, grad] of [['pc', res.grad.policyChosen], ['pr', res.grad.policyRejected]] as const) {
        const fd = b[key].map((v, i) => {
          const h = 1e-4 * Math.max(1, Math.abs(v));
          const at = (x: number) => trlLoss(type, { ...b, [key]: b[key].map((y, j) => (j === i ? x : y)) }, cfg);
          return (at(v + h) - at(v - h)) / (2 * h);
        });
        assertClose(grad.data, fd, { rtol: 1e-4, atol: 1e-9, name: `${type} d/d${key}` });
      }
    });

  it('average: true keeps the length-averaged convention (TRL 0.x): loss as given, rewards from the averaged log-ratios', () => {
    const b = batch(5, 8);
    const avg = (v: number[], n: number[]) => held(v.map((x, i) => x / Math.max(n[i]!, 1)));
    const a = { pc: avg(b.pc, b.nc), pr: avg(b.pr, b.nr), rc: avg(b.rc, b.nc), rr: avg(b.rr, b.nr) };
    const x = { policyChosen: f32(a.pc), policyRejected: f32(a.pr), refChosen: f32(a.rc), refRejected: f32(a.rr) };
    const summed = dpo.loss(inputs(b), { type: 'ipo' });
    const averaged = dpo.loss(x, { type: 'ipo', average: true });
    assertClose(averaged.losses.data, summed.losses.data, { rtol: 1e-5, atol: 1e-6 });
    assertClose(averaged.chosenRewards.data, a.pc.map((v, i) => 0.1 * (v - a.rc[i]!)), { rtol: 1e-6, atol: 1e-7 });
    // the TRL 1.x rewards are ~n times larger
    assertClose(summed.chosenRewards.data, b.pc.map((v, i) => 0.1 * (v - b.rc[i]!)), { rtol: 1e-6, atol: 1e-6 });
  });

  it('ipo / sigmoid_norm explain what they need', () => {
    const b = batch(3, 2);
    const { chosenCounts: _c, rejectedCounts: _r, ...noCounts } = inputs(b);
    expectError(() => dpo.loss(noCounts, { type: 'ipo' }), 'ERR_ARGUMENT', /expected chosenCounts and rejectedCounts for 'ipo' on summed log-probs \(TRL 1.x\), or average: true/);
    expectError(() => dpo.loss(inputs(b), { type: 'sigmoid_norm', average: true }), 'ERR_ARGUMENT', /expected no chosenCounts \/ rejectedCounts with average: true/);
    expectError(() => dpo.loss({ ...inputs(b), chosenCounts: i32([1, -2, 3]) }, { type: 'ipo' }), 'ERR_RANGE', /expected chosenCounts >= 0 but received -2 at chosenCounts\[1\]/);
    expectError(() => dpo.loss({ ...inputs(b), rejectedCounts: f32([1, 2, 3]) }, { type: 'ipo' }), 'ERR_DTYPE', /rejectedCounts of dtype int32/);
    expectError(() => dpo.loss({ ...inputs(b), rejectedCounts: i32([1, 2]) }, { type: 'ipo' }), 'ERR_SHAPE', /expected rejectedCounts of shape \[3\]/);
    expectError(() => dpo.loss({ ...noCounts, chosenCounts: i32([1, 2, 3]) }), 'ERR_ARGUMENT', /expected chosenCounts and rejectedCounts together/);
    // other types ignore the counts
    const x = inputs(b);
    assertBitEqual(dpo.loss(x).losses.data, dpo.loss(noCounts).losses.data);
  });

  it('dpo.step: ipo and sigmoid_norm use summed log-probs and the counts by default; average: true the averaged ones', () => {
    const r = rng(4);
    const [B, T, V] = [3, 8, 13];
    const logits = tensor(Float32Array.from(randomArray(2 * B * T * V, r, 2)), [2 * B, T, V]);
    const labels = tensor(Int32Array.from({ length: 2 * B * T }, (_, i) => (i % T < 3 || r() < 0.2 ? -100 : Math.floor(r() * V))), [2 * B, T]);
    const fwd = dpo.sequenceLogps(logits, labels);
    const lp = Array.from(fwd.logps.data);
    const n = Array.from(fwd.counts.data);
    const refs = { refChosen: f32([-20, -25, -22]), refRejected: f32([-21, -24, -26]) };
    for (const type of ['ipo', 'sigmoid_norm'] as const) {
      const s = dpo.step({ logits, labels, ...refs }, { type, inPlace: false });
      const b: TrlBatch = { pc: lp.slice(0, B), pr: lp.slice(B), rc: held([-20, -25, -22]), rr: held([-21, -24, -26]), nc: n.slice(0, B), nr: n.slice(B) };
      const cfg = { beta: 0.1, labelSmoothing: 0, discopopTau: 0.05 };
      assertClose(s.losses.data, trlLosses(type, b, cfg), { rtol: 2e-6, atol: 1e-7, name: `${type} step losses` });
      assertClose(s.chosenRewards.data, trlRewards(b, 0.1).chosen, { rtol: 1e-6, atol: 1e-6, name: `${type} step rewards` });
      // equal, bit for bit, to dpo.loss with the counts
      const l = dpo.loss({ policyChosen: f32(b.pc), policyRejected: f32(b.pr), ...refs, chosenCounts: i32(b.nc), rejectedCounts: i32(b.nr) }, { type });
      expect(s.loss).toBe(l.loss);
      assertBitEqual(s.grad.policyChosen.data, l.grad.policyChosen.data);
      const avg = dpo.step({ logits, labels, ...refs }, { type, average: true, inPlace: false });
      assertBitEqual(avg.policyChosen.data, dpo.sequenceLogps(logits, labels, { average: true }).logps.data.slice(0, B));
    }
  });
});

describe('TRL 1.x dpo.step gradient', () => {
  for (const type of ['ipo', 'sigmoid_norm'] as const)
    it(`'${type}' by default: dloss/dlogits matches finite differences of logits -> summed log-probs -> TRL's loss`, () => {
      const r = rng(type.length);
      const [B, T, V] = [2, 5, 6];
      const logits = tensor(Float32Array.from(randomArray(2 * B * T * V, r, 2)), [2 * B, T, V]);
      const lab = Array.from({ length: 2 * B * T }, (_, i) => (i % T < 2 || (i % 7 === 3) ? -100 : Math.floor(r() * V)));
      const labels = tensor(Int32Array.from(lab), [2 * B, T]);
      const rc = held([-6, -7]);
      const rr = held([-5, -8]);
      const cfg = { beta: 0.3, labelSmoothing: 0, discopopTau: 0.05 };
      const res = dpo.step({ logits, labels, refChosen: f32(rc), refRejected: f32(rr) }, { type, beta: cfg.beta, inPlace: false });
      const z = Float64Array.from(logits.data);
      const layout = padded(2 * B, T, V);
      const pipeline = () => {
        const f = sequenceLogpsRef(z, lab, layout);
        const lp = Array.from(f.logps);
        const n = Array.from(f.counts);
        return trlLoss(type, { pc: lp.slice(0, B), pr: lp.slice(B), rc, rr, nc: n.slice(0, B), nr: n.slice(B) }, cfg);
      };
      expect(res.loss).toBeCloseTo(pipeline(), 5);
      const fd = new Float64Array(z.length);
      for (let i = 0; i < z.length; i++) {
        const zi = z[i]!;
        z[i] = zi + 1e-5;
        const up = pipeline();
        z[i] = zi - 1e-5;
        const down = pipeline();
        z[i] = zi;
        fd[i] = (up - down) / 2e-5;
      }
      assertClose(res.gradLogits.toFloat32Array(), fd, { rtol: 1e-4, atol: 2e-7, name: `${type} dloss/dlogits` });
    });
});

describe('sampling.sample randomness', () => {
  const B = 64;
  const logits = tensor(new Float32Array(B * 1000), [B, 1000]); // uniform over 1000 tokens
  it('draws fresh randomness without a seed and returns the seed it drew', () => {
    const a = sampling.sample(logits);
    const b = sampling.sample(logits);
    expect(typeof a.seed).toBe('number');
    expect(a.seed).not.toBe(b.seed);
    // 64 uniform draws over 1000 tokens: all equal by chance has probability 1e-192
    expect(Array.from(a.tokens.data)).not.toEqual(Array.from(b.tokens.data));
    // the returned seed repeats the draw
    assertBitEqual(sampling.sample(logits, { seed: a.seed as number }).tokens.data, a.tokens.data);
  });

  it('gives identical draws for a given seed (sync and async), different ones for another seed', async () => {
    const a = sampling.sample(logits, { seed: 17, step: 2 });
    const b = await sampling.sampleAsync(logits, { seed: 17, step: 2 });
    assertBitEqual(a.tokens.data, b.tokens.data);
    expect(a.seed).toBe(17);
    expect(Array.from(sampling.sample(logits, { seed: 18, step: 2 }).tokens.data)).not.toEqual(Array.from(a.tokens.data));
    const seeds = BigUint64Array.from({ length: B }, (_, i) => BigInt(i));
    expect(sampling.sample(logits, { seed: seeds }).seed).toEqual(seeds);
  });
});

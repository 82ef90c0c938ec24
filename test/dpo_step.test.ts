import { describe, expect, it } from 'vitest';
import { dpo, empty, tensor, type FloatDType } from '../lib';
import { decodeToFloat32 } from '../lib/dtype';
import type { DpoLossType } from '../lib/api/dpo';
import { refLossMean, type RefLossOptions } from './reference/dpo_loss';
import { sequenceLogpsRef, type RowLayout } from './reference/sequence_logps';
import { assertBitEqual, assertClose, expectError, expectRejection, randomArray, rng } from './helpers';

/** The float64 pipeline: logits -> reference log-probs (chosen rows first) -> reference loss. */
function pipelineLoss(z: Float64Array, labels: number[], layout: RowLayout, type: string, ro: RefLossOptions, rc: number[], rr: number[]): number {
  const lp = sequenceLogpsRef(z, labels, layout).logps;
  const B = lp.length / 2;
  return refLossMean(type, Array.from(lp.subarray(0, B)), Array.from(lp.subarray(B)), rc, rr, ro);
}

/** Central finite differences of pipelineLoss over every logit. */
function fdLogits(z: Float64Array, ...rest: Parameters<typeof pipelineLoss> extends [unknown, ...infer R] ? R : never): Float64Array {
  const g = new Float64Array(z.length);
  const h = 1e-5;
  for (let i = 0; i < z.length; i++) {
    const zi = z[i]!;
    z[i] = zi + h;
    const up = pipelineLoss(z, ...rest);
    z[i] = zi - h;
    const down = pipelineLoss(z, ...rest);
    z[i] = zi;
    g[i] = (up - down) / (2 * h);
  }
  return g;
}

function setup(B: number, T: number, V: number, seed: number, dtype: FloatDType = 'float32') {
  const r = rng(seed);
  const logits = tensor(Float32Array.from(randomArray(2 * B * T * V, r, 2)), [2 * B, T, V], { dtype });
  const z = Float64Array.from(decodeToFloat32(dtype, logits.data));
  const lab = Array.from({ length: 2 * B * T }, (_, i) => (i % T < 2 || r() < 0.15 ? -100 : Math.floor(r() * V))); // a 2-token "prompt"
  const labels = tensor(Int32Array.from(lab), [2 * B, T]);
  const rc = Array.from(Float32Array.from({ length: B }, () => -10 * r()));
  const rr = Array.from(Float32Array.from({ length: B }, () => -10 * r()));
  return { logits, z, lab, labels, rc, rr, refChosen: tensor(Float32Array.from(rc)), refRejected: tensor(Float32Array.from(rr)) };
}

const padded = (rows: number, T: number, V: number, average = false): RowLayout => ({
  rows: rows * T,
  vocab: V,
  offsets: Array.from({ length: rows + 1 }, (_, b) => b * T),
  average,
});

describe('dpo.step', () => {
  const cases: [DpoLossType, Record<string, number | boolean>, RefLossOptions, boolean][] = [
    ['sigmoid', {}, { beta: 0.1 }, false],
    ['sigmoid', { beta: 0.5, labelSmoothing: 0.1 }, { beta: 0.5, eps: 0.1 }, false],
    ['robust', { beta: 0.3, labelSmoothing: 0.2 }, { beta: 0.3, eps: 0.2 }, false],
    ['ipo', { beta: 0.5, average: true }, { beta: 0.5 }, true],
    ['simpo', { beta: 2, gamma: 0.5 }, { beta: 2, gamma: 0.5 }, true],
    ['apo_down', { beta: 0.2 }, { beta: 0.2 }, false],
  ];
  for (const [type, opts, ro, average] of cases)
    it(`${type}: the full gradient (logpsBackward after the loss gradient) matches central finite differences of the float64 pipeline`, () => {
      const [B, T, V] = [2, 5, 7];
      const s = setup(B, T, V, type.length + Number(opts.beta ?? 0) * 10);
      const res = dpo.step({ logits: s.logits, labels: s.labels, refChosen: s.refChosen, refRejected: s.refRejected }, { type, ...opts });
      expect(res.gradLogits).toBe(s.logits); // in place by default
      const layout = padded(2 * B, T, V, average);
      const fd = fdLogits(s.z, s.lab, layout, type, ro, s.rc, s.rr);
      assertClose(res.gradLogits.toFloat32Array(), fd, { rtol: 1e-4, atol: 2e-7, name: `${type} dloss/dlogits` });
      assertClose([res.loss], [pipelineLoss(s.z, s.lab, layout, type, ro, s.rc, s.rr)], { rtol: 1e-6, atol: 1e-7, name: 'loss' });
      const lp = sequenceLogpsRef(s.z, s.lab, layout).logps;
      assertClose(res.policyChosen.data, lp.subarray(0, B), { rtol: 2e-6, atol: 1e-5 });
      assertClose(res.policyRejected.data, lp.subarray(B), { rtol: 2e-6, atol: 1e-5 });
      expect(res.counts.shape).toEqual([2 * B]);
    });

  it('packed input: the full gradient matches finite differences', () => {
    const V = 6;
    const offsets = [0, 4, 9, 12, 18]; // 2 pairs: chosen = sequences 0, 1; rejected = 2, 3
    const N = 18;
    const r = rng(77);
    const logits = tensor(Float32Array.from(randomArray(N * V, r, 2)), [N, V]);
    const z = Float64Array.from(logits.data);
    const lab = Array.from({ length: N }, () => (r() < 0.2 ? -100 : Math.floor(r() * V)));
    const rc = Array.from(Float32Array.from([-3, -4]));
    const rr = Array.from(Float32Array.from([-5, -2]));
    const layout: RowLayout = { rows: N, vocab: V, offsets };
    const res = dpo.step(
      { logits, labels: tensor(Int32Array.from(lab)), refChosen: tensor(Float32Array.from(rc)), refRejected: tensor(Float32Array.from(rr)) },
      { cuSeqlens: tensor(Int32Array.from(offsets)), beta: 0.7 },
    );
    const fd = fdLogits(z, lab, layout, 'sigmoid', { beta: 0.7 }, rc, rr);
    assertClose(res.gradLogits.toFloat32Array(), fd, { rtol: 1e-4, atol: 2e-7, name: 'packed dloss/dlogits' });
  });

  it('equals sequenceLogps -> loss -> logpsBackward, bit for bit; stepAsync too', async () => {
    for (const dtype of ['float32', 'bfloat16'] as const) {
      const s = setup(3, 9, 301, 5, dtype);
      const original = s.logits.clone();
      const fwd = dpo.sequenceLogps(original, s.labels, { returnLse: true });
      const B = 3;
      const pc = tensor(fwd.logps.data.slice(0, B));
      const pr = tensor(fwd.logps.data.slice(B));
      const l = dpo.loss({ policyChosen: pc, policyRejected: pr, refChosen: s.refChosen, refRejected: s.refRejected }, { type: 'bco_pair', beta: 0.3 });
      const g = tensor(Float32Array.from([...l.grad.policyChosen.data, ...l.grad.policyRejected.data]));
      const manual = dpo.logpsBackward(original, s.labels, g, { lse: fwd.lse });
      const inputs = { logits: s.logits, labels: s.labels, refChosen: s.refChosen, refRejected: s.refRejected };
      const kept = dpo.step({ ...inputs, logits: original }, { type: 'bco_pair', beta: 0.3, inPlace: false });
      expect(kept.gradLogits).not.toBe(original);
      assertBitEqual(kept.gradLogits.data as Uint16Array, manual.data as Uint16Array, `${dtype} out of place`);
      expect(kept.loss).toBe(l.loss);
      assertBitEqual(kept.losses.data, l.losses.data);
      assertBitEqual(kept.grad.policyChosen.data, l.grad.policyChosen.data);
      assertBitEqual(kept.policyRejected.data, pr.data);
      const copy = s.logits.clone();
      const viaAsync = await dpo.stepAsync({ ...inputs, logits: copy }, { type: 'bco_pair', beta: 0.3 });
      expect(viaAsync.gradLogits).toBe(copy);
      assertBitEqual(copy.data as Uint16Array, manual.data as Uint16Array, `${dtype} async in place`);
      const out = empty(s.logits.shape, dtype);
      dpo.step(inputs, { type: 'bco_pair', beta: 0.3, inPlace: false, out });
      assertBitEqual(out.data as Uint16Array, manual.data as Uint16Array, `${dtype} out`);
    }
  });

  it('averages the log-probs by default for simpo only (TRL 1.x: ipo and sigmoid_norm average inside the loss)', () => {
    const s = setup(2, 6, 11, 9);
    const avg = dpo.sequenceLogps(s.logits, s.labels, { average: true }).logps.data;
    const sum = dpo.sequenceLogps(s.logits, s.labels).logps.data;
    const base = { logits: s.logits, labels: s.labels, refChosen: s.refChosen, refRejected: s.refRejected };
    for (const [type, expected] of [['ipo', sum], ['sigmoid_norm', sum], ['simpo', avg], ['sigmoid', sum], ['hinge', sum]] as const) {
      const res = dpo.step(base, { type, inPlace: false });
      assertBitEqual(res.policyChosen.data, expected.slice(0, 2), type);
    }
    assertBitEqual(dpo.step(base, { type: 'ipo', average: true, inPlace: false }).policyChosen.data, avg.slice(0, 2), 'ipo average: true');
  });

  it('takes weights and referenceFree like dpo.loss', () => {
    const s = setup(2, 4, 9, 11);
    const w = tensor(Float32Array.from([0.25, 0.75]));
    const a = dpo.step({ logits: s.logits, labels: s.labels }, { referenceFree: true, weights: w, inPlace: false });
    const l = dpo.loss({ policyChosen: a.policyChosen, policyRejected: a.policyRejected }, { referenceFree: true, weights: w });
    expect(a.loss).toBe(l.loss);
  });

  it('rejects bad input with typed errors', async () => {
    const s = setup(2, 3, 5, 13);
    const base = { logits: s.logits, labels: s.labels, refChosen: s.refChosen, refRejected: s.refRejected };
    expectError(() => dpo.step({ ...base, logits: tensor(new Float32Array(45), [3, 3, 5]), labels: tensor(new Int32Array(9), [3, 3]) }), 'ERR_SHAPE', /even number \(>= 2\) of sequences, chosen then rejected, but received 3/);
    expectError(() => dpo.step({ ...base, refChosen: tensor(new Float32Array(3)) }), 'ERR_SHAPE', /expected refChosen of shape \[2\]/);
    expectError(() => dpo.step({ logits: s.logits, labels: s.labels }), 'ERR_ARGUMENT', /expected refChosen and refRejected/);
    expectError(() => dpo.step(base, { out: empty([4, 3, 5]) }), 'ERR_ARGUMENT', /out only with inPlace: false/);
    expectError(() => dpo.step(base, { beta: 0 }), 'ERR_RANGE', /beta/);
    expectError(() => dpo.step(base, { perToken: true } as never), 'ERR_ARGUMENT', /unknown option 'perToken'/);
    expectError(() => dpo.step({ ...base, labels: tensor(Int32Array.from([0, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]), [4, 3]) }), 'ERR_RANGE', /received 9 at labels\[0, 1\]/);
    await expectRejection(dpo.stepAsync(base, { type: 'nope' as never }), 'ERR_ARGUMENT', /type/);
  });
});

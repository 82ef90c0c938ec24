import { describe, expect, it } from 'vitest';
import { dpo, tensor, type Tensor } from '../lib';
import type { DpoLossOptions, DpoLossType } from '../lib/api/dpo';
import { refLossMean, refLosses, type RefLossOptions } from './reference/dpo_loss';
import { assertBitEqual, assertClose, expectError, expectRejection, rng } from './helpers';

const f32 = (a: number[]): Tensor<'float32'> => tensor(Float32Array.from(a), [a.length]);
const held = (a: number[]) => Array.from(Float32Array.from(a)); // the float32 values the op sees

/** A batch of B pairs with moderate log-probs (summed over tens of tokens). */
function batch(B: number, seed: number, scale = 20) {
  const r = rng(seed);
  const v = () => Array.from({ length: B }, () => -scale * (0.5 + r()));
  return { pc: held(v()), pr: held(v()), rc: held(v()), rr: held(v()) };
}

const inputs = (b: ReturnType<typeof batch>) => ({ policyChosen: f32(b.pc), policyRejected: f32(b.pr), refChosen: f32(b.rc), refRejected: f32(b.rr) });

/** Central finite differences of the reference mean loss with respect to pc and pr. */
function fdGrad(type: string, b: ReturnType<typeof batch>, o: RefLossOptions, w?: number[]) {
  const gc: number[] = [];
  const gr: number[] = [];
  for (const [arr, out] of [[b.pc, gc], [b.pr, gr]] as const)
    for (let i = 0; i < arr.length; i++) {
      const h = 1e-5 * Math.max(1, Math.abs(arr[i]!));
      const plus = [...arr];
      const minus = [...arr];
      plus[i] = arr[i]! + h;
      minus[i] = arr[i]! - h;
      const f = (x: number[]) => (arr === b.pc ? refLossMean(type, x, b.pr, b.rc, b.rr, o, w) : refLossMean(type, b.pc, x, b.rc, b.rr, o, w));
      out.push((f(plus) - f(minus)) / (2 * h));
    }
  return { gc, gr };
}

// every type with its options, as (dpo.loss options, reference options)
const CASES: [DpoLossType, DpoLossOptions, RefLossOptions][] = [
  ['sigmoid', {}, { beta: 0.1 }],
  ['sigmoid', { beta: 0.5, labelSmoothing: 0.2 }, { beta: 0.5, eps: 0.2 }],
  ['robust', { labelSmoothing: 0.1 }, { beta: 0.1, eps: 0.1 }],
  ['robust', { beta: 0.3 }, { beta: 0.3 }],
  ['ipo', { beta: 0.9, average: true }, { beta: 0.9 }],
  ['hinge', { beta: 0.05 }, { beta: 0.05 }],
  ['exo_pair', {}, { beta: 0.1, eps: 1e-3 }],
  ['exo_pair', { beta: 0.2, labelSmoothing: 0.3 }, { beta: 0.2, eps: 0.3 }],
  ['nca_pair', {}, { beta: 0.1 }],
  ['bco_pair', { beta: 0.2 }, { beta: 0.2 }],
  ['sppo_hard', { beta: 0.5 }, { beta: 0.5 }],
  ['apo_zero', {}, { beta: 0.1 }],
  ['apo_down', { beta: 0.3 }, { beta: 0.3 }],
  ['discopop', {}, { beta: 0.1, tau: 0.05 }],
  ['discopop', { beta: 0.05, tau: 0.5 }, { beta: 0.05, tau: 0.5 }],
  ['sigmoid_norm', { beta: 2, average: true }, { beta: 2 }],
  ['simpo', { beta: 2, gamma: 1.2 }, { beta: 2, gamma: 1.2 }],
  ['simpo', { labelSmoothing: 0.1 }, { beta: 0.1, gamma: 0.5, eps: 0.1 }],
  ['aot', { beta: 0.1 }, { beta: 0.1 }],
  ['aot_unpaired', { beta: 0.2, labelSmoothing: 0.05 }, { beta: 0.2, eps: 0.05 }],
];

describe('dpo.loss', () => {
  it('reproduces the METHODS.md §6.4 test vectors (beta 0.1, r_c = 1, r_r = -1)', () => {
    const x = { policyChosen: f32([1]), policyRejected: f32([-1]), refChosen: f32([0]), refRejected: f32([0]) };
    expect(dpo.loss(x).loss).toBeCloseTo(0.598139, 6);
    expect(dpo.loss(x, { type: 'hinge' }).loss).toBeCloseTo(0.8, 6);
    expect(dpo.loss(x, { labelSmoothing: 0.1 }).loss).toBeCloseTo(0.618139, 6); // cDPO
    expect(dpo.loss(x, { type: 'robust', labelSmoothing: 0.1 }).loss).toBeCloseTo(0.573139, 6);
    // IPO on length-averaged log-probs: |y_c| = 4, |y_r| = 2 tokens
    const avg = { policyChosen: f32([1 / 4]), policyRejected: f32([-1 / 2]), refChosen: f32([0]), refRejected: f32([0]) };
    expect(dpo.loss(avg, { type: 'ipo', average: true }).loss).toBeCloseTo(18.0625, 4);
  });

  for (const [type, opts, ro] of CASES)
    it(`${type} ${JSON.stringify(opts)}: losses match the closed form, gradients match finite differences`, () => {
      const b = batch(7, type.length * 31 + Object.keys(opts).length);
      const res = dpo.loss(inputs(b), { type, ...opts });
      const ref = refLosses(type, b.pc, b.pr, b.rc, b.rr, ro);
      assertClose(res.losses.data, ref, { rtol: 2e-6, atol: 1e-7, name: `${type} losses` });
      expect(res.loss).toBeCloseTo(refLossMean(type, b.pc, b.pr, b.rc, b.rr, ro), 6);
      const fd = fdGrad(type, b, ro);
      assertClose(res.grad.policyChosen.data, fd.gc, { rtol: 1e-4, atol: 1e-8, name: `${type} dloss/dpi_c` });
      assertClose(res.grad.policyRejected.data, fd.gr, { rtol: 1e-4, atol: 1e-8, name: `${type} dloss/dpi_r` });
    });

  it('reports TRL metrics: rewards = beta * log-ratio, margins, strict accuracy', () => {
    const x = { policyChosen: f32([-10, -12, -5]), policyRejected: f32([-11, -12, -4]), refChosen: f32([-10, -13, -5]), refRejected: f32([-10, -13, -5]) };
    const res = dpo.loss(x, { beta: 0.5 });
    assertClose(res.chosenRewards.data, [0, 0.5, 0]);
    assertClose(res.rejectedRewards.data, [-0.5, 0.5, 0.5]);
    assertClose(res.margins.data, [0.5, 0, -0.5]);
    expect(res.accuracy).toBeCloseTo(1 / 3, 12); // the tie counts 0
    // SimPO's rewards are beta * pi (reference-free)
    const s = dpo.loss({ policyChosen: f32([-1]), policyRejected: f32([-2]) }, { type: 'simpo', beta: 2 });
    expect(Array.from(s.chosenRewards.data)).toEqual([-2]);
    expect(Array.from(s.rejectedRewards.data)).toEqual([-4]);
    expect(s.accuracy).toBe(1);
  });

  it('referenceFree ignores the reference (and lets it be omitted)', () => {
    const b = batch(5, 3);
    const zeros = dpo.loss({ ...inputs(b), refChosen: f32([0, 0, 0, 0, 0]), refRejected: f32([0, 0, 0, 0, 0]) });
    const free = dpo.loss({ policyChosen: f32(b.pc), policyRejected: f32(b.pr) }, { referenceFree: true });
    const freeWithRefs = dpo.loss(inputs(b), { referenceFree: true });
    assertBitEqual(free.losses.data, zeros.losses.data);
    assertBitEqual(freeWithRefs.grad.policyChosen.data, zeros.grad.policyChosen.data);
    expect(free.loss).toBe(zeros.loss);
  });

  it('SimPO: reference-free margin gamma; labelSmoothing gives the cDPO form', () => {
    const pc = held([-0.8, -1.5]);
    const pr = held([-1.2, -1.1]);
    const res = dpo.loss({ policyChosen: f32(pc), policyRejected: f32(pr), refChosen: f32([5, 5]), refRejected: f32([-5, -5]) }, { type: 'simpo', beta: 2.5, gamma: 1.4 });
    const expected = pc.map((c, i) => Math.log1p(Math.exp(-(2.5 * (c - pr[i]!) - 1.4))));
    assertClose(res.losses.data, expected, { rtol: 1e-6 });
    const gamma0 = dpo.loss({ policyChosen: f32(pc), policyRejected: f32(pr) }, { type: 'simpo', beta: 2.5, gamma: 0 });
    const sigmoid = dpo.loss({ policyChosen: f32(pc), policyRejected: f32(pr) }, { beta: 2.5, referenceFree: true });
    assertBitEqual(gamma0.losses.data, sigmoid.losses.data);
  });

  it('labelSmoothing: cDPO for sigmoid, rDPO for robust, EXO epsilon (default 1e-3)', () => {
    const b = batch(4, 5);
    const z = b.pc.map((c, i) => 0.1 * (c - b.rc[i]! - (b.pr[i]! - b.rr[i]!)));
    const sp = (x: number) => Math.log1p(Math.exp(x));
    assertClose(dpo.loss(inputs(b), { labelSmoothing: 0.25 }).losses.data, z.map((v) => 0.75 * sp(-v) + 0.25 * sp(v)), { rtol: 1e-6 });
    assertClose(dpo.loss(inputs(b), { type: 'robust', labelSmoothing: 0.25 }).losses.data, z.map((v) => (0.75 * sp(-v) - 0.25 * sp(v)) / 0.5), { rtol: 1e-6 });
    assertBitEqual(dpo.loss(inputs(b), { type: 'exo_pair' }).losses.data, dpo.loss(inputs(b), { type: 'exo_pair', labelSmoothing: 1e-3 }).losses.data);
  });

  it('weights: loss = sum(w * l) / sum(w), gradients scaled, BDHS averaging of two DPO terms', () => {
    const b = batch(6, 7);
    const w = [0.5, 0.5, 1, 2, 0, 1.5];
    const res = dpo.loss(inputs(b), { weights: f32(w), beta: 0.2 });
    const ro = { beta: 0.2 };
    expect(res.loss).toBeCloseTo(refLossMean('sigmoid', b.pc, b.pr, b.rc, b.rr, ro, w), 6);
    const fd = fdGrad('sigmoid', b, ro, w);
    assertClose(res.grad.policyChosen.data, fd.gc, { rtol: 1e-4, atol: 1e-9 });
    assertClose(res.grad.policyRejected.data, fd.gr, { rtol: 1e-4, atol: 1e-9 });
    expect(res.grad.policyChosen.data[4] === 0).toBe(true); // weight 0
    // BDHS eq. 5 with gamma = 0.3: per sample gamma L(y+, y-) + (1 - gamma) L(y+, y~-), averaged
    const g = 0.3;
    const one = dpo.loss({ policyChosen: f32([b.pc[0]!]), policyRejected: f32([b.pr[0]!]), refChosen: f32([b.rc[0]!]), refRejected: f32([b.rr[0]!]) }).loss;
    const two = dpo.loss({ policyChosen: f32([b.pc[0]!]), policyRejected: f32([b.pr[1]!]), refChosen: f32([b.rc[0]!]), refRejected: f32([b.rr[1]!]) }).loss;
    const both = dpo.loss(
      { policyChosen: f32([b.pc[0]!, b.pc[0]!]), policyRejected: f32([b.pr[0]!, b.pr[1]!]), refChosen: f32([b.rc[0]!, b.rc[0]!]), refRejected: f32([b.rr[0]!, b.rr[1]!]) },
      { weights: f32([g, 1 - g]) },
    ).loss;
    expect(both).toBeCloseTo(g * one + (1 - g) * two, 7);
  });

  it('lossAsync gives the same result', async () => {
    const b = batch(5, 9);
    const a = dpo.loss(inputs(b), { type: 'nca_pair' });
    const c = await dpo.lossAsync(inputs(b), { type: 'nca_pair' });
    expect(c.loss).toBe(a.loss);
    assertBitEqual(c.grad.policyRejected.data, a.grad.policyRejected.data);
  });

  it('gives the right values for large log-ratios (stable softplus / sigmoid), not just finite ones', () => {
    const b = { pc: [-1, -5000, -3], pr: [-5000, -1, -2], rc: [0, 0, -700], rr: [0, 0, 0] };
    const x = { policyChosen: f32(b.pc), policyRejected: f32(b.pr), refChosen: f32(b.rc), refRejected: f32(b.rr) };
    const cases: [DpoLossType, RefLossOptions][] = [
      ['sigmoid', { beta: 1 }],
      ['robust', { beta: 1 }],
      ['exo_pair', { beta: 1, eps: 1e-3 }],
      ['nca_pair', { beta: 1 }],
      ['bco_pair', { beta: 1 }],
      ['apo_zero', { beta: 1 }],
      ['apo_down', { beta: 1 }],
      ['simpo', { beta: 1, gamma: 0.5 }],
    ];
    for (const [type, ro] of cases) {
      const res = dpo.loss(x, { type, beta: 1 });
      const ref = refLosses(type, b.pc, b.pr, b.rc, b.rr, ro);
      // e.g. sigmoid: -logsig(-4999) = 4999 for the second pair, not Infinity or a clamp
      assertClose(res.losses.data, ref, { rtol: 2e-6, atol: 1e-7, name: `${type} large-ratio losses` });
      const fd = fdGrad(type, b, ro);
      assertClose(res.grad.policyChosen.data, fd.gc, { rtol: 1e-4, atol: 1e-8, name: `${type} large-ratio dloss/dpi_c` });
      assertClose(res.grad.policyRejected.data, fd.gr, { rtol: 1e-4, atol: 1e-8, name: `${type} large-ratio dloss/dpi_r` });
    }
    expect(dpo.loss(x, { beta: 1 }).losses.data[1]).toBe(4999);
  });

  it('rejects bad input with typed errors', async () => {
    const x = inputs(batch(3, 1));
    expectError(() => dpo.loss(x, { beta: 0 }), 'ERR_RANGE', /expected beta a finite number > 0 but received 0/);
    expectError(() => dpo.loss(x, { beta: -1 }), 'ERR_RANGE', /beta/);
    expectError(() => dpo.loss(x, { beta: Infinity }), 'ERR_RANGE', /beta/);
    expectError(() => dpo.loss(x, { type: 'dpo' as never }), 'ERR_ARGUMENT', /expected type to be one of 'sigmoid', 'robust'/);
    expectError(() => dpo.loss(x, { type: 'robust', labelSmoothing: 0.5 }), 'ERR_RANGE', /labelSmoothing a finite number >= 0 < 0.5 but received 0.5/);
    expectError(() => dpo.loss(x, { labelSmoothing: 0.6 }), 'ERR_RANGE', /labelSmoothing/);
    expectError(() => dpo.loss(x, { labelSmoothing: -0.1 }), 'ERR_RANGE', /labelSmoothing/);
    expectError(() => dpo.loss(x, { type: 'exo_pair', labelSmoothing: -1e-3 }), 'ERR_RANGE', /labelSmoothing a finite number >= 0 < 1 but received -0.001/);
    expectError(() => dpo.loss(x, { type: 'exo_pair', labelSmoothing: 1 }), 'ERR_RANGE', /labelSmoothing/);
    expectError(() => dpo.loss(x, { type: 'hinge', labelSmoothing: 0.1 }), 'ERR_ARGUMENT', /labelSmoothing is only used by sigmoid, simpo, aot, aot_unpaired, robust, exo_pair: expected 0 or none for 'hinge' but received 0.1/);
    expectError(() => dpo.loss(x, { gamma: 1 }), 'ERR_ARGUMENT', /gamma is only used by simpo/);
    expectError(() => dpo.loss(x, { type: 'discopop', tau: 0 }), 'ERR_RANGE', /tau/);
    expectError(() => dpo.loss(x, { tau: 0.1 }), 'ERR_ARGUMENT', /tau is only used by discopop/);
    expectError(() => dpo.loss({ policyChosen: x.policyChosen, policyRejected: x.policyRejected }), 'ERR_ARGUMENT', /expected refChosen and refRejected for 'sigmoid' \(or referenceFree: true\)/);
    expectError(() => dpo.loss(x, { weights: f32([1, -1, 1]) }), 'ERR_RANGE', /weights finite and >= 0 but received -1 at weights\[1\]/);
    expectError(() => dpo.loss(x, { weights: f32([0, 0, 0]) }), 'ERR_RANGE', /positive sum/);
    expectError(() => dpo.loss(x, { weights: f32([1, 1]) }), 'ERR_SHAPE', /expected weights of shape \[3\]/);
    expectError(() => dpo.loss(x, { type: 'aot', weights: f32([1, 1, 1]) }), 'ERR_ARGUMENT', /weights are not defined for 'aot'/);
    expectError(() => dpo.loss({ ...x, refRejected: f32([1, 2]) }), 'ERR_SHAPE', /expected refRejected of shape \[3\] \(from policyChosen \[3\]\) but received \[2\]/);
    expectError(() => dpo.loss({ ...x, policyRejected: tensor(Int32Array.from([1, 2, 3])) }), 'ERR_DTYPE', /policyRejected of dtype float32/);
    expectError(() => dpo.loss({ ...x, policyChosen: tensor(new Float32Array(4), [2, 2]) }), 'ERR_SHAPE', /policyChosen with 1 dimensions/);
    expectError(() => dpo.loss({ ...x, policyChosen: f32([]), policyRejected: f32([]) }), 'ERR_SHAPE', /at least one pair/);
    expectError(() => dpo.loss({ ...x, extra: 1 } as never), 'ERR_ARGUMENT', /unknown option 'extra'/);
    expectError(() => dpo.loss(x, { bogus: 1 } as never), 'ERR_ARGUMENT', /unknown option 'bogus'/);
    expectError(() => dpo.loss(null as never), 'ERR_ARGUMENT');
    const gone = f32([1, 2, 3]);
    gone.dispose();
    expectError(() => dpo.loss({ ...x, refChosen: gone }), 'ERR_DETACHED', /refChosen was disposed/);
    await expectRejection(dpo.lossAsync(x, { beta: 0 }), 'ERR_RANGE', /beta/);
  });
});

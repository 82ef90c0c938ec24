/**
 * train.dpoStep / train.sftStep / train.AdamW on a tiny model: the reference is the base model
 * (adapters off), a fresh adapter gives loss log 2 at the first step, DPO with LoRA reaches reward
 * accuracy 1 on a small synthetic preference set, SFT's loss falls, accumulation adds up.
 */
import { describe, expect, it } from 'vitest';
import { models, tensor, train } from '../lib';
import { expectError } from './helpers';

const CFG = { vocabSize: 17, hiddenSize: 16, intermediateSize: 24, numLayers: 2, numHeads: 4, numKvHeads: 2, ropeTheta: 100 };
const T = 6;
// 4 pairs: prompt (3 tokens) + answer (3 tokens); chosen answers follow a rule (prompt token + 1),
// rejected ones break it
const prompts = [[1, 2, 3], [4, 5, 6], [7, 8, 9], [10, 11, 12]];
const chosen = prompts.map((p) => [...p, p[2]! + 1, p[2]! + 2, p[2]! + 3].map((t) => t % 17));
const rejected = prompts.map((p, i) => [...p, (i * 5 + 2) % 17, (i * 3 + 1) % 17, (i * 7 + 4) % 17]);
const rows = [...chosen, ...rejected];
const tokens = tensor(Int32Array.from(rows.flat()), [8, T]);
// labels = tokens with the prompt ignored (the shift happens inside: position t scores t + 1)
const labels = tensor(Int32Array.from(rows.flatMap((r) => r.map((t, i) => (i < 3 ? -100 : t)))), [8, T]);

describe('train steps', () => {
  it('dpoStep with LoRA: reference = adapters off (first loss is log 2), reaches reward accuracy 1', () => {
    const m = models.LlamaModel.random(CFG, { seed: 1, initStd: 0.3 });
    m.addLora({ rank: 4, alpha: 8, targets: ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'], seed: 2 });
    const opt = new train.AdamW(m.loraParameters(), { lr: 0.02, weightDecay: 0, maxGradNorm: 10 });
    const first = train.dpoStep(m, { tokens, labels }, { beta: 0.5, optimizer: opt });
    expect(Math.abs(first.loss - Math.log(2))).toBeLessThan(1e-6); // fresh adapter == base: margins 0
    expect(first.rewardAccuracy).toBe(0); // ties count 0
    expect(Number.isFinite(first.gradNorm)).toBe(true);
    const refC = first.refChosen, refR = first.refRejected;
    let last = first;
    for (let s = 0; s < 40 && last.rewardAccuracy < 1; s++) last = train.dpoStep(m, { tokens, labels, refChosen: refC, refRejected: refR }, { beta: 0.5, optimizer: opt });
    expect(last.rewardAccuracy).toBe(1);
    expect(last.loss).toBeLessThan(first.loss);
    expect(last.margin).toBeGreaterThan(0);
    expect(opt.step).toBeGreaterThan(1);
    // the base weights did not move: adapters off gives the first reference again
    const again = train.dpoStep(m, { tokens, labels }, { beta: 0.5, params: [] as string[] });
    expect(Array.from(again.refChosen.toFloat32Array())).toEqual(Array.from(refC.toFloat32Array()));
    // a frozen reference model (full fine-tuning): the base model as a separate model gives the same references
    const frozen = models.LlamaModel.random(CFG, { seed: 1, initStd: 0.3 });
    const viaModel = train.dpoStep(m, { tokens, labels }, { beta: 0.5, params: [] as string[], reference: frozen });
    expect(Array.from(viaModel.refChosen.toFloat32Array())).toEqual(Array.from(refC.toFloat32Array()));
    expect(Array.from(viaModel.refRejected.toFloat32Array())).toEqual(Array.from(refR.toFloat32Array()));
    expect(m.adaptersEnabled).toBe(true);
  });

  it('sftStep: full fine-tuning with AdamW lowers the token-mean cross-entropy', () => {
    const m = models.LlamaModel.random(CFG, { seed: 3, initStd: 0.3 });
    const opt = new train.AdamW(m.parameters(), { lr: 0.01 });
    const sftTokens = tensor(Int32Array.from(chosen.flat()), [4, T]);
    const sftLabels = tensor(Int32Array.from(chosen.flatMap((r) => r.map((t, i) => (i < 3 ? -100 : t)))), [4, T]);
    const first = train.sftStep(m, { tokens: sftTokens, labels: sftLabels }, { optimizer: opt });
    expect(first.tokens).toBe(4 * 3); // 3 answer tokens per row (position t scores label t + 1: positions 2..4)
    let last = first;
    for (let s = 0; s < 15; s++) last = train.sftStep(m, { tokens: sftTokens, labels: sftLabels }, { optimizer: opt });
    expect(last.loss).toBeLessThan(first.loss * 0.5);
  });

  it('accumulates gradients over micro-batches when given a Map and no optimizer', () => {
    const m = models.LlamaModel.random(CFG, { seed: 4, initStd: 0.3 });
    m.addLora({ rank: 2, seed: 1 });
    const grads = new Map();
    const half = (a: number, b: number) => ({ tokens: tensor(Int32Array.from([...chosen.slice(a, b), ...rejected.slice(a, b)].flat()), [2 * (b - a), T]), labels: tensor(Int32Array.from([...chosen.slice(a, b), ...rejected.slice(a, b)].flatMap((r) => r.map((t, i) => (i < 3 ? -100 : t)))), [2 * (b - a), T]) });
    const r1 = train.dpoStep(m, half(0, 2), { grads });
    const once = new Map([...r1.grads!].map(([n, g]) => [n, Float32Array.from(g.toFloat32Array())]));
    train.dpoStep(m, half(2, 4), { grads });
    expect(grads.size).toBe(m.loraParameters().length);
    const opt = new train.AdamW(m.loraParameters(), { lr: 0.01 });
    opt.update(grads);
    expect(opt.step).toBe(1);
    // a LoRA B gradient at init is non-zero, and the second micro-batch added to it
    const name = m.loraParameters().find(([n]) => n.endsWith('lora_B.weight'))![0];
    expect(Array.from(grads.get(name)!.toFloat32Array())).not.toEqual(Array.from(once.get(name)!));
  });

  for (const tie of [false, true])
    it(`the fused head (default) and the materialised logits give the same loss and gradients${tie ? ' (tied embeddings)' : ''}`, () => {
      const m = models.LlamaModel.random({ ...CFG, tieWordEmbeddings: tie }, { seed: 6, initStd: 0.3 });
      const refs = { refChosen: tensor(Float32Array.from([-9, -8.5, -10, -9.5]), [4]), refRejected: tensor(Float32Array.from([-9.2, -8, -11, -9]), [4]) };
      const a = train.dpoStep(m, { tokens, labels, ...refs }, { beta: 0.3, grads: new Map() });
      const b = train.dpoStep(m, { tokens, labels, ...refs }, { beta: 0.3, grads: new Map(), fusedHead: false });
      const s1 = train.sftStep(m, { tokens, labels }, { grads: new Map() });
      const s2 = train.sftStep(m, { tokens, labels }, { grads: new Map(), fusedHead: false });
      // same float32 arithmetic in another order (chunked GEMMs, per-row sums): a few ulps of the terms
      expect(Math.abs(a.loss - b.loss)).toBeLessThan(1e-5 * (1 + Math.abs(b.loss)));
      expect(Math.abs(s1.loss - s2.loss)).toBeLessThan(1e-5 * (1 + Math.abs(s2.loss)));
      for (const [x, y] of [[a.grads!, b.grads!], [s1.grads!, s2.grads!]] as const) {
        expect([...x.keys()].sort()).toEqual([...y.keys()].sort());
        for (const [n, g] of x) {
          const p = g.toFloat32Array(), q = y.get(n)!.toFloat32Array();
          const scale = q.reduce((mx, v) => Math.max(mx, Math.abs(v)), 0);
          for (let i = 0; i < p.length; i++) if (Math.abs(p[i]! - q[i]!) > 1e-4 * scale + 1e-7) throw new Error(`${n}[${i}]: fused ${p[i]} vs unfused ${q[i]} (max |g| ${scale})`);
        }
      }
    });

  it('bad use is typed', () => {
    const m = models.LlamaModel.random(CFG, { seed: 5 });
    expectError(() => train.dpoStep(m, { tokens, labels }), 'ERR_ARGUMENT'); // no adapters, no refs
    expectError(() => train.dpoStep(m, { tokens, labels }, { reference: {} as never }), 'ERR_ARGUMENT', /expected reference as a models\.LlamaModel but received object/);
    expectError(() => train.dpoStep(m, { tokens: tensor(Int32Array.from(rows.flat().slice(0, 3 * T)), [3, T]), labels }), 'ERR_SHAPE');
    expectError(() => new train.AdamW([]), 'ERR_ARGUMENT');
    const opt = new train.AdamW(m.parameters());
    expectError(() => opt.update(new Map()), 'ERR_ARGUMENT');
  });
});

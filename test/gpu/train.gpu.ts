// CUDA side of the training path (train.dpoStep / sftStep, model.backward, train.AdamW): a LoRA
// model on the device against the same model on the CPU. The kernels are compared one by one in
// the other files; this checks that the steps compose them on the device (reference log-probs,
// fused and logits heads, gradients, AdamW) and give the CPU's numbers.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { models, recipes, tensor, train, type PreferenceRecord, type Tensor } from '../../lib';
import { skip } from './gpu';

const CFG = { vocabSize: 61, hiddenSize: 32, intermediateSize: 48, numLayers: 2, numHeads: 4, numKvHeads: 2 };
const [B, T] = [2, 9];

function setup(device: 'cpu' | 'cuda') {
  const model = models.LlamaModel.random(CFG, { seed: 4, initStd: 0.2, device });
  model.addLora({ rank: 4, alpha: 8, targets: ['q_proj', 'v_proj', 'o_proj', 'down_proj'], seed: 5 });
  const tokens = tensor(Int32Array.from({ length: 2 * B * T }, (_, i) => (i * 7 + 3) % CFG.vocabSize), [2 * B, T]).to(device);
  const labels = tensor(Int32Array.from({ length: 2 * B * T }, (_, i) => (i % T < 3 ? -100 : (i * 5 + 1) % CFG.vocabSize)), [2 * B, T]).to(device);
  return { model, tokens, labels };
}

/** Largest |a - b| over the named tensors, and the largest |a|. */
function maxDiff(a: Iterable<readonly [string, Tensor]>, b: Map<string, Tensor>): { diff: number; max: number } {
  let diff = 0;
  let max = 0;
  for (const [name, t] of a) {
    const x = t.toFloat32Array();
    const y = b.get(name)!.toFloat32Array();
    assert.equal(y.length, x.length, name);
    for (let i = 0; i < x.length; i++) {
      diff = Math.max(diff, Math.abs(x[i]! - y[i]!));
      max = Math.max(max, Math.abs(x[i]!));
    }
  }
  return { diff, max };
}

describe('training steps CUDA vs CPU', { skip }, () => {
  it('dpoStep gradients (reference from the model with its adapters off), fused and logits heads', () => {
    for (const fusedHead of [true, false]) {
      const c = setup('cpu');
      const g = setup('cuda');
      const a = train.dpoStep(c.model, { tokens: c.tokens, labels: c.labels }, { fusedHead, grads: new Map() });
      const b = train.dpoStep(g.model, { tokens: g.tokens, labels: g.labels }, { fusedHead, grads: new Map() });
      // a fresh adapter (B = 0) gives the reference's log-probs: loss log 2, on both devices
      assert.ok(Math.abs(a.loss - Math.LN2) < 1e-6 && Math.abs(b.loss - Math.LN2) < 1e-6, `${a.loss} ${b.loss}`);
      assert.equal(b.refChosen.device, 'cuda');
      assert.ok(Math.abs(b.refChosen.toFloat32Array()[0]! - a.refChosen.toFloat32Array()[0]!) <= 1e-4 * Math.abs(a.refChosen.toFloat32Array()[0]!));
      // float32 gradients summed in another order: relative to the largest gradient, far below 1e-3
      const { diff, max } = maxDiff(a.grads!, b.grads!);
      assert.ok(max > 0 && diff <= 1e-4 * max, `fusedHead ${fusedHead}: gradient difference ${diff} (largest gradient ${max})`);
      for (const m of [c.model, g.model]) m.dispose();
    }
  });

  it('three dpoSteps and an sftStep with AdamW: the same losses and LoRA weights', () => {
    const run = (device: 'cpu' | 'cuda') => {
      const { model, tokens, labels } = setup(device);
      const optimizer = new train.AdamW(model.loraParameters(), { lr: 1e-2 });
      const losses: number[] = [];
      for (let s = 0; s < 3; s++) losses.push(train.dpoStep(model, { tokens, labels }, { optimizer }).loss);
      losses.push(train.sftStep(model, { tokens, labels }, { optimizer }).loss);
      return { model, losses };
    };
    const a = run('cpu');
    const b = run('cuda');
    for (let i = 0; i < a.losses.length; i++) assert.ok(Math.abs(a.losses[i]! - b.losses[i]!) <= 1e-5 * Math.max(1, Math.abs(a.losses[i]!)), `step ${i}: ${a.losses[i]} vs ${b.losses[i]}`);
    assert.ok(a.losses[2]! < a.losses[0]!, 'the DPO loss falls');
    // each AdamW step moves a weight by about lr (1e-2) at most; gradients that differ in their last
    // float32 bits move it by a tiny fraction of that: 1e-4 is 1% of one step
    const { diff } = maxDiff(a.model.loraParameters(), new Map(b.model.loraParameters()));
    assert.ok(diff <= 1e-4, `LoRA weights differ by ${diff}`);
    b.model.dispose();
  });

  it('reference log-probs given on the CPU to a CUDA model: the same loss, the given tensors left as they were', () => {
    const c = setup('cpu');
    const g = setup('cuda');
    const refChosen = tensor([-30, -31]);
    const refRejected = tensor([-29, -33]);
    const a = train.dpoStep(c.model, { tokens: c.tokens, labels: c.labels, refChosen, refRejected });
    const b = train.dpoStep(g.model, { tokens: g.tokens, labels: g.labels, refChosen, refRejected });
    assert.ok(Math.abs(a.loss - b.loss) <= 1e-5 * Math.max(1, Math.abs(a.loss)), `${a.loss} vs ${b.loss}`);
    assert.deepEqual(Array.from(refChosen.data), [-30, -31]);
    assert.deepEqual(Array.from(refRejected.data), [-29, -33]);
    g.model.dispose();
  });

  it('recipes.train on a CUDA model (LoRA and full fine-tuning): the CPU losses; aborted and resumed, the same weights as an uninterrupted run', async () => {
    const V = 17;
    const records: PreferenceRecord[] = [[1, 2, 3], [4, 5, 6], [7, 8, 9], [10, 11, 12]].map((p, i) => ({
      prompt: p, chosen: [(p[2]! + 1) % V, (p[2]! + 2) % V], rejected: [(i * 5 + 2) % V, (i * 3 + 1) % V], line: i + 1,
    }));
    const cfg = { vocabSize: V, hiddenSize: 16, intermediateSize: 24, numLayers: 2, numHeads: 4, numKvHeads: 2, ropeTheta: 100 };
    for (const full of [false, true]) {
      const make = (device: 'cpu' | 'cuda') => models.LlamaModel.random(cfg, { seed: 1, initStd: 0.3, device });
      const opts = (out: string) => ({ kind: 'dpo' as const, steps: 6, batchSize: 4, lr: 0.02, dpo: { beta: 0.5 }, out, saveEvery: 3, ...(full ? { full: true } : { lora: { rank: 4, alpha: 8, seed: 2 } }) });
      const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'mmpref-gpu-train-'));
      const losses = async (model: models.LlamaModel, o: ReturnType<typeof opts> & { signal?: AbortSignal; resume?: boolean }, stopAt = 0, ac?: AbortController) => {
        const run = recipes.train(model, records, o);
        const l: number[] = [];
        run.on('step', (e) => { l.push(e.loss); if (e.step === stopAt) ac!.abort(); });
        await run.result;
        return l;
      };
      const cpu = await losses(make('cpu'), opts(tmp()));
      const whole = make('cuda');
      const gpu = await losses(whole, opts(tmp()));
      for (let i = 0; i < cpu.length; i++) assert.ok(Math.abs(cpu[i]! - gpu[i]!) <= 1e-5, `full ${full}, step ${i + 1}: ${gpu[i]} vs ${cpu[i]}`);
      const out = tmp();
      const ac = new AbortController();
      await losses(make('cuda'), { ...opts(out), signal: ac.signal }, 3, ac);
      const resumed = make('cuda');
      await losses(resumed, { ...opts(out), resume: true });
      const params = (m: models.LlamaModel) => (full ? m.parameters() : m.loraParameters());
      const want = new Map(params(whole));
      for (const [name, t] of params(resumed)) assert.deepEqual(Array.from(t.toFloat32Array()), Array.from(want.get(name)!.toFloat32Array()), `full ${full}: ${name}`);
      whole.dispose();
      resumed.dispose();
    }
  });

  it('visual features spliced on the device (LLaVA projector): sftStep gradients of every parameter, and a NoiseBoost dpoStep', () => {
    const Nv = 3;
    const Dv = 8;
    const make = (device: 'cpu' | 'cuda') => models.LlamaModel.random(CFG, { seed: 6, initStd: 0.2, visionHiddenSize: Dv, device });
    const feats = tensor(Float32Array.from({ length: 2 * B * Nv * Dv }, (_, i) => Math.sin(i * 0.7)), [2 * B, Nv, Dv]);
    const imageStarts = [0, 1, 2, 0];
    const batch = (device: 'cpu' | 'cuda') => {
      const { tokens, labels } = setup(device);
      return { tokens, labels, visualFeatures: feats.to(device), imageStarts };
    };
    const a = train.sftStep(make('cpu'), batch('cpu'), { grads: new Map() });
    const b = train.sftStep(make('cuda'), batch('cuda'), { grads: new Map() });
    assert.ok(Math.abs(a.loss - b.loss) <= 1e-5 * Math.max(1, a.loss), `${a.loss} vs ${b.loss}`);
    assert.ok([...a.grads!.keys()].some((n) => n.includes('multi_modal_projector.')), 'the projector gets gradients');
    const { diff, max } = maxDiff(a.grads!, b.grads!);
    assert.ok(max > 0 && diff <= 1e-4 * max, `gradient difference ${diff} (largest gradient ${max})`);
    // NoiseBoost on the chosen rows' visual tokens (Philox: the same noise on both devices)
    const lora = (device: 'cpu' | 'cuda') => {
      const m = make(device);
      m.addLora({ rank: 4, alpha: 8, seed: 5 });
      return m;
    };
    const opts = { noise: { sigma: 0.5, seed: 9 } };
    const c = train.dpoStep(lora('cpu'), batch('cpu'), opts);
    const d = train.dpoStep(lora('cuda'), batch('cuda'), opts);
    assert.ok(Math.abs(c.loss - Math.LN2) > 1e-4, 'the noise changes the chosen rows');
    assert.ok(Math.abs(c.loss - d.loss) <= 1e-5, `${c.loss} vs ${d.loss}`);
  });

  it('recipes with image features on a CUDA model: BDHS and BPO rejected answers and the NoiseBoost SFT losses are the CPU ones', async () => {
    const V = 17;
    const [NV, DV] = [2, 8];
    const records: PreferenceRecord[] = [[1, 2, 3], [4, 5, 6], [7, 8, 9], [10, 11, 12]].map((p, i) => ({
      prompt: p, chosen: [(p[2]! + 1) % V, (p[2]! + 2) % V, (p[2]! + 3) % V],
      image: { features: Float32Array.from({ length: NV * DV }, (_, j) => 3 * Math.sin(i * 5 + j)), shape: [NV, DV] }, line: i + 1,
    }));
    const cfg = { vocabSize: V, hiddenSize: 16, intermediateSize: 24, numLayers: 2, numHeads: 4, numKvHeads: 2, ropeTheta: 100 };
    const run = async (device: 'cpu' | 'cuda') => {
      const make = () => models.LlamaModel.random(cfg, { seed: 1, initStd: 0.5, visionHiddenSize: DV, device });
      const bdhs = (await recipes.bdhsRejected(make(), records, { seed: 3 })).records.map((r) => r.rejected);
      const bpo = (await recipes.bpoRejected(make(), records, { seed: 4, temperature: 1 })).map((r) => r.rejected);
      const sft = (await recipes.noiseBoost(make(), records, { stage: 'sft', steps: 3, batchSize: 4, lr: 0.02, lora: { rank: 4, alpha: 8, seed: 2 } }).result).history.map((e) => e.loss);
      return { bdhs, bpo, sft };
    };
    const a = await run('cpu');
    const b = await run('cuda');
    // sampling from the same Philox draws: the same tokens unless a draw falls within float32 rounding
    // of a cumulative-probability boundary (none does in this setup)
    assert.deepEqual(b.bdhs, a.bdhs);
    assert.deepEqual(b.bpo, a.bpo);
    for (let i = 0; i < a.sft.length; i++) assert.ok(Math.abs(a.sft[i]! - b.sft[i]!) <= 1e-5 * Math.max(1, a.sft[i]!), `step ${i + 1}: ${b.sft[i]} vs ${a.sft[i]}`);
  });
});

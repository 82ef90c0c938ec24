/**
 * recipes.noiseBoost / recipes.train on a tiny model with image features: DPO and SFT stages learn
 * (loss falls, reward accuracy rises), checkpoints hold adapters + optimizer + trainer state, an
 * aborted run resumed gives the same adapter bits as an uninterrupted one, metrics and the SVG plot.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { models, recipes, tensor, train, type PreferenceRecord, type StepEvent, type Tensor } from '../lib';
import { expectError } from './helpers';

const CFG = { vocabSize: 17, hiddenSize: 16, intermediateSize: 24, numLayers: 2, numHeads: 4, numKvHeads: 2, ropeTheta: 100 };
const NV = 2, DV = 8;
// chosen answers follow a rule (last prompt token + 1, + 2), rejected ones break it
const records: PreferenceRecord[] = [[1, 2, 3], [4, 5, 6], [7, 8, 9], [10, 11, 12]].map((p, i) => ({
  prompt: p,
  chosen: [(p[2]! + 1) % 17, (p[2]! + 2) % 17],
  rejected: [(i * 5 + 2) % 17, (i * 3 + 1) % 17],
  image: { features: Float32Array.from({ length: NV * DV }, (_, j) => Math.sin(i * 7 + j)), shape: [NV, DV] },
  line: i + 1,
}));
const model = () => models.LlamaModel.random(CFG, { seed: 1, initStd: 0.3, visionHiddenSize: DV });
const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'mmpref-recipes-'));
const LORA = { rank: 4, alpha: 8, seed: 2 };

describe('recipes runner', () => {
  it('noiseBoost DPO stage: loss falls, reward accuracy rises, events and files', async () => {
    const out = tmp();
    const run = recipes.noiseBoost(model(), records, { steps: 12, batchSize: 4, lr: 0.02, dpo: { beta: 0.5 }, lora: LORA, out, saveEvery: 6 });
    const steps: StepEvent[] = [];
    const ckpts: number[] = [];
    run.on('step', (e) => steps.push(e));
    run.on('checkpoint', (e) => ckpts.push(e.step));
    const r = await run.result;
    expect(r.stopped).toBe('done');
    expect(steps.map((s) => s.step)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    expect(ckpts).toEqual([6, 12]);
    // fresh adapter == reference, but the chosen rows see noisy visual tokens: not exactly log 2
    expect(Math.abs(steps[0]!.loss - Math.log(2))).toBeGreaterThan(1e-4);
    expect(steps[11]!.loss).toBeLessThan(steps[0]!.loss * 0.8);
    expect(steps[11]!.rewardAccuracy).toBeGreaterThan(steps[0]!.rewardAccuracy);
    expect(steps[11]!.rewardAccuracy).toBe(1);
    expect(steps[11]!.etaSeconds).toBe(0);
    expect(steps[0]!.tokensPerSecond).toBeGreaterThan(0);
    const dir = r.checkpoint!;
    expect(fs.readdirSync(dir).sort()).toEqual(['adapter_config.json', 'adapter_model.safetensors', 'optimizer.safetensors', 'trainer_state.json']);
    expect(JSON.parse(fs.readFileSync(path.join(dir, 'trainer_state.json'), 'utf8'))).toMatchObject({ step: 12, position: 48, kind: 'dpo' });
    expect(fs.readFileSync(path.join(out, 'metrics.jsonl'), 'utf8').trim().split('\n')).toHaveLength(12);
    const svg = fs.readFileSync(path.join(out, 'metrics.svg'), 'utf8');
    expect(svg).toMatch(/^<svg/);
    expect(svg).toContain('reward accuracy');
    expect(svg.match(/<path /g)).toHaveLength(3);
  });

  it('noiseBoost SFT stage lowers the loss; the noise changes the step (sigma 0 does not)', async () => {
    const a = await recipes.noiseBoost(model(), records, { stage: 'sft', steps: 8, lr: 0.02, lora: LORA }).result;
    expect(a.history[7]!.loss).toBeLessThan(a.history[0]!.loss * 0.8);
    expect(Number.isNaN(a.history[0]!.rewardAccuracy)).toBe(true);
    const clean = await recipes.noiseBoost(model(), records, { stage: 'sft', steps: 1, lora: LORA, noise: { sigma: 0 } }).result;
    const plain = await recipes.train(model(), records, { kind: 'sft', steps: 1, lora: LORA }).result;
    expect(clean.history[0]!.loss).toBe(plain.history[0]!.loss);
    expect(a.history[0]!.loss).not.toBe(plain.history[0]!.loss);
  });

  it('noise 0 is the clean DPO step (first loss log 2, as a fresh adapter equals the reference)', async () => {
    const r = await recipes.noiseBoost(model(), records, { steps: 1, lora: LORA, noise: { sigma: 0 } }).result;
    expect(Math.abs(r.history[0]!.loss - Math.log(2))).toBeLessThan(1e-6);
  });

  it('an aborted run resumed gives the same adapter and optimizer bits as an uninterrupted one', async () => {
    const opts = { steps: 6, batchSize: 3, lr: 0.02, lora: LORA, seed: 5 }; // batch 3 of 4 records: epochs wrap mid-batch
    const full = tmp();
    await recipes.noiseBoost(model(), records, { ...opts, out: full }).result;
    const cut = tmp();
    const ac = new AbortController();
    const first = recipes.noiseBoost(model(), records, { ...opts, out: cut, signal: ac.signal });
    first.on('step', (e) => e.step === 4 && ac.abort());
    const r1 = await first.result;
    expect(r1).toMatchObject({ stopped: 'aborted', step: 4 });
    expect(path.basename(r1.checkpoint!)).toBe('checkpoint-000004');
    const r2 = await recipes.noiseBoost(model(), records, { ...opts, out: cut, resume: true }).result;
    expect(r2.history.map((e) => e.step)).toEqual([1, 2, 3, 4, 5, 6]);
    for (const f of ['adapter_model.safetensors', 'optimizer.safetensors', 'trainer_state.json'])
      expect(fs.readFileSync(path.join(r2.checkpoint!, f)).equals(fs.readFileSync(path.join(full, 'checkpoint-000006', f)))).toBe(true);
    const lines = (d: string) => fs.readFileSync(path.join(d, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l).loss);
    expect(lines(cut)).toEqual(lines(full));
  });

  it('bad options are typed', () => {
    expectError(() => recipes.train(model(), records, { kind: 'dpo', steps: 0 }), 'ERR_RANGE');
    expectError(() => recipes.train(model(), records, { kind: 'ppo' as never, steps: 1 }), 'ERR_ARGUMENT');
    expectError(() => recipes.train(model(), records, { kind: 'dpo', steps: 1, saveEvery: 2 }), 'ERR_ARGUMENT');
    expectError(() => recipes.noiseBoost(model(), records, { steps: 1, stage: 'rl' as never }), 'ERR_ARGUMENT');
  });

  it('DPO without rejected answers fails with the record line', async () => {
    const { rejected: _r, ...noRej } = records[0]!;
    await expect(recipes.train(model(), [noRej], { kind: 'dpo', steps: 1, batchSize: 1 }).result).rejects.toThrow(/line 1 has none/);
  });
});

// lr of updates 1..10 from transformers 5.18 get_scheduler (torch LambdaLR stepped after each
// optimizer step), base lr 0.5, 10 training steps, 3 warmup steps (constant: none)
const HF_LR = {
  constant: [0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5],
  constant_with_warmup: [0.0, 0.16666666666666666, 0.3333333333333333, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5],
  linear: [0.0, 0.16666666666666666, 0.3333333333333333, 0.5, 0.42857142857142855, 0.35714285714285715, 0.2857142857142857, 0.21428571428571427, 0.14285714285714285, 0.07142857142857142],
  cosine: [0.0, 0.16666666666666666, 0.3333333333333333, 0.5, 0.47524221697560476, 0.4058724504646834, 0.3056302334890786, 0.19436976651092142, 0.09412754953531663, 0.02475778302439524],
} as const;

/** float64 reference: the lr of update k (1-based), written from the schedule's definition. */
function refLr(type: keyof typeof HF_LR, base: number, total: number, warm: number, k: number): number {
  const s = k - 1; // LambdaLR: update k uses the factor of step k - 1
  if (type === 'constant') return base;
  if (s < warm) return (base * s) / warm;
  if (type === 'constant_with_warmup') return base;
  const p = (s - warm) / (total - warm);
  return type === 'linear' ? base * (1 - p) : base * Math.cos((Math.PI * p) / 2) ** 2; // cos^2(pi p / 2) = (1 + cos(pi p)) / 2
}

describe('recipes runner: lr schedules and full fine-tuning', () => {
  it("lr schedules: each step's lr equals transformers' get_scheduler and a float64 reference; warmupRatio rounds up", async () => {
    for (const type of ['constant', 'constant_with_warmup', 'linear', 'cosine'] as const) {
      const lrSchedule = type === 'constant' ? { type } : { type, warmupRatio: 0.25 }; // ceil(0.25 x 10) = 3 steps
      const r = await recipes.train(model(), records, { kind: 'sft', steps: 10, batchSize: 1, lr: 0.5, lrSchedule, lora: LORA }).result;
      const lrs = r.history.map((e) => e.lr);
      for (let k = 1; k <= 10; k++) {
        expect(Math.abs(lrs[k - 1]! - HF_LR[type][k - 1]!)).toBeLessThanOrEqual(1e-15);
        expect(Math.abs(lrs[k - 1]! - refLr(type, 0.5, 10, type === 'constant' ? 0 : 3, k))).toBeLessThanOrEqual(1e-15);
      }
    }
    expect(recipes.lrFactor({ type: 'linear', warmupSteps: 0, totalSteps: 4 }, 4)).toBe(0); // clamped at 0 past the end
  });

  it('a scheduled run aborted and resumed gives the same adapter, optimizer and lr as an uninterrupted one', async () => {
    const opts = { steps: 6, batchSize: 3, lr: 0.02, lora: LORA, seed: 5, lrSchedule: { type: 'cosine' as const, warmupSteps: 2 } };
    const whole = tmp();
    await recipes.noiseBoost(model(), records, { ...opts, out: whole }).result;
    const cut = tmp();
    const ac = new AbortController();
    const first = recipes.noiseBoost(model(), records, { ...opts, out: cut, signal: ac.signal });
    first.on('step', (e) => e.step === 3 && ac.abort());
    expect(await first.result).toMatchObject({ stopped: 'aborted', step: 3 });
    const r2 = await recipes.noiseBoost(model(), records, { ...opts, out: cut, resume: true }).result;
    for (const f of ['adapter_model.safetensors', 'optimizer.safetensors', 'trainer_state.json'])
      expect(fs.readFileSync(path.join(r2.checkpoint!, f)).equals(fs.readFileSync(path.join(whole, 'checkpoint-000006', f)))).toBe(true);
    const lines = (d: string) => fs.readFileSync(path.join(d, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l)).map((e) => [e.loss, e.lr]);
    expect(lines(cut)).toEqual(lines(whole));
    lines(whole).forEach((x, i) => expect(Math.abs(x[1] - refLr('cosine', 0.02, 6, 2, i + 1))).toBeLessThanOrEqual(1e-17));
    expect(JSON.parse(fs.readFileSync(path.join(r2.checkpoint!, 'trainer_state.json'), 'utf8')).lrSchedule).toEqual({ type: 'cosine', warmupSteps: 2 });
  });

  it('full DPO: every weight trains against a frozen copy (first loss log 2), checkpoints hold the whole model', async () => {
    const m = model();
    const before = new Map(m.parameters().map(([n, t]) => [n, Float32Array.from(t.data as Float32Array)]));
    const out = tmp();
    const r = await recipes.train(m, records, { kind: 'dpo', full: true, steps: 8, lr: 0.01, dpo: { beta: 0.5 }, out }).result;
    expect(m.loraParameters()).toHaveLength(0);
    expect(Math.abs(r.history[0]!.loss - Math.log(2))).toBeLessThan(1e-6); // policy == reference at step 1
    expect(r.history[7]!.loss).toBeLessThan(r.history[0]!.loss * 0.8);
    expect(r.history[7]!.rewardAccuracy).toBe(1);
    for (const [n, t] of m.parameters()) expect((t.data as Float32Array).some((v, i) => v !== before.get(n)![i]), n).toBe(true);
    expect(fs.readdirSync(r.checkpoint!).sort()).toEqual(['config.json', 'model.safetensors', 'optimizer.safetensors', 'trainer_state.json']);
    const saved = models.LlamaModel.load(r.checkpoint!);
    for (const [n, t] of saved.parameters()) expect(t.data).toEqual(new Map(m.parameters()).get(n)!.data);
    saved.dispose();
  });

  it('full fine-tuning of a bfloat16 model (float32 master weights) resumes bit-exactly', async () => {
    // text only: image features are float32, visual tokens need a float32 model
    const bf = () => models.LlamaModel.random(CFG, { seed: 1, initStd: 0.3, dtype: 'bfloat16' });
    const text = records.map(({ image: _i, ...r }) => r);
    const opts = { kind: 'dpo' as const, full: true, steps: 4, batchSize: 3, lr: 0.01, seed: 3, lrSchedule: { type: 'linear' as const, warmupSteps: 1 } };
    const whole = tmp();
    await recipes.train(bf(), text, { ...opts, out: whole }).result;
    const cut = tmp();
    const ac = new AbortController();
    const first = recipes.train(bf(), text, { ...opts, out: cut, signal: ac.signal });
    first.on('step', (e) => e.step === 2 && ac.abort());
    expect(await first.result).toMatchObject({ stopped: 'aborted', step: 2 });
    const r2 = await recipes.train(bf(), text, { ...opts, out: cut, resume: true }).result;
    expect(r2.step).toBe(4);
    for (const f of ['model.safetensors', 'optimizer.safetensors', 'trainer_state.json'])
      expect(fs.readFileSync(path.join(r2.checkpoint!, f)).equals(fs.readFileSync(path.join(whole, 'checkpoint-000004', f))), f).toBe(true);
    const losses = (d: string) => fs.readFileSync(path.join(d, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l).loss);
    expect(losses(cut)).toEqual(losses(whole));
    expect(fs.readFileSync(path.join(whole, 'checkpoint-000004', 'optimizer.safetensors')).includes('master/')).toBe(true);
    // a LoRA run cannot resume a full checkpoint
    await expect(recipes.train(bf(), text, { ...opts, full: false, out: cut, resume: true }).result).rejects.toThrow(/expected full: true to resume/);
  });

  it("docs/recipes.md's data-parallel loop, 2 ranks simulated in one process: ranks stay equal and match one process on the global batch", () => {
    const W = 2, steps = 3, lr = 0.02;
    const ranks = [0, 1].map(() => model());
    const single = model();
    for (const m of [...ranks, single]) m.addLora(LORA);
    const opts = ranks.map((m) => new train.AdamW(m.loraParameters(), { lr, weightDecay: 0, maxGradNorm: 1 }));
    const optG = new train.AdamW(single.loraParameters(), { lr, weightDecay: 0, maxGradNorm: 1 });
    const s = { type: 'cosine', warmupSteps: 1, totalSteps: steps } as const;
    for (let step = 0; step < steps; step++) {
      const grads = ranks.map((m, r) => {
        const g = new Map<string, Tensor<'float32'>>();
        const res = train.dpoStep(m, recipes.dpoBatch(records.filter((_, i) => i % W === r)), { beta: 0.1, grads: g });
        res.refChosen.dispose();
        res.refRejected.dispose();
        return g;
      });
      const avg = new Map([...grads[0]!.keys()].map((n) => [n, grads[0]!.get(n)!.toFloat32Array().map((v, i) => (v + grads[1]!.get(n)!.toFloat32Array()[i]!) / W)] as const));
      ranks.forEach((m, r) => {
        const mine = new Map([...avg].map(([n, a]) => [n, tensor(Float32Array.from(a), grads[r]!.get(n)!.shape)]));
        opts[r]!.lr = lr * recipes.lrFactor(s, step);
        opts[r]!.update(mine);
        for (const t of [...mine.values(), ...grads[r]!.values()]) t.dispose();
        void m;
      });
      optG.lr = lr * recipes.lrFactor(s, step);
      const res = train.dpoStep(single, recipes.dpoBatch(records), { beta: 0.1, optimizer: optG });
      res.refChosen.dispose();
      res.refRejected.dispose();
    }
    const a = ranks.map((m) => m.loraParameters().map(([, t]) => t.toFloat32Array()));
    const g = single.loraParameters().map(([, t]) => t.toFloat32Array());
    const fresh = model();
    fresh.addLora(LORA);
    const init = fresh.loraParameters().map(([, t]) => t.toFloat32Array());
    let moved = 0;
    a[0]!.forEach((x, j) => {
      expect(x).toEqual(a[1]![j]); // same update on every rank: same bits
      x.forEach((v, i) => {
        expect(Math.abs(v - g[j]![i]!)).toBeLessThan(1e-5); // float32 rounding of the row sums
        moved = Math.max(moved, Math.abs(v - init[j]![i]!));
      });
    });
    expect(moved).toBeGreaterThan(1e-3); // the adapters did move
    for (const o of [...opts, optG]) o.dispose();
  });

  it('bad schedule and full options are typed', () => {
    expectError(() => recipes.train(model(), records, { kind: 'sft', steps: 2, lrSchedule: { type: 'cosine', warmupSteps: 1, warmupRatio: 0.1 } }), 'ERR_ARGUMENT', /both/);
    expectError(() => recipes.train(model(), records, { kind: 'sft', steps: 2, lrSchedule: { type: 'step' as never } }), 'ERR_ARGUMENT');
    expectError(() => recipes.train(model(), records, { kind: 'sft', steps: 2, lrSchedule: { type: 'constant', warmupSteps: 1 } }), 'ERR_ARGUMENT', /constant_with_warmup/);
    expectError(() => recipes.train(model(), records, { kind: 'sft', steps: 2, lrSchedule: { type: 'linear', warmupRatio: 1 } }), 'ERR_RANGE');
    expectError(() => recipes.train(model(), records, { kind: 'sft', steps: 2, lrSchedule: { type: 'linear', warmupSteps: 1.5 } }), 'ERR_RANGE');
    const withLora = model();
    withLora.addLora(LORA);
    expectError(() => recipes.train(withLora, records, { kind: 'sft', steps: 2, full: true }), 'ERR_ARGUMENT', /without LoRA adapters/);
    expectError(() => recipes.train(model(), records, { kind: 'dpo', steps: 2, reference: model() }), 'ERR_ARGUMENT', /only with full/);
  });
});

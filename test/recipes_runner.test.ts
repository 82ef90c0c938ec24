/**
 * recipes.noiseBoost / recipes.train on a tiny model with image features: DPO and SFT stages learn
 * (loss falls, reward accuracy rises), checkpoints hold adapters + optimizer + trainer state, an
 * aborted run resumed gives the same adapter bits as an uninterrupted one, metrics and the SVG plot.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { models, recipes, type PreferenceRecord, type StepEvent } from '../lib';
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

/**
 * recipes.bpoRejected / recipes.bpo on a tiny model with image features: VCD answers between the
 * clean and the diffused image (deterministic for a seed; the weakened branch matters: alpha 0
 * gives other answers than a strong alpha), then DPO with BPO's defaults (LoRA r 32, beta 0.1).
 */
import { describe, expect, it } from 'vitest';
import { models, recipes, type PreferenceRecord } from '../lib';

const CFG = { vocabSize: 17, hiddenSize: 16, intermediateSize: 24, numLayers: 2, numHeads: 4, numKvHeads: 2, ropeTheta: 100 };
const NV = 2, DV = 8;
const records: PreferenceRecord[] = [[1, 2, 3], [4, 5, 6], [7, 8, 9], [10, 11, 12]].map((p, i) => ({
  prompt: p,
  chosen: [(p[2]! + 1) % 17, (p[2]! + 2) % 17, (p[2]! + 3) % 17],
  image: { features: Float32Array.from({ length: NV * DV }, (_, j) => 3 * Math.sin(i * 5 + j)), shape: [NV, DV] },
  line: i + 1,
}));
const model = () => models.LlamaModel.random(CFG, { seed: 1, initStd: 0.5, visionHiddenSize: DV });

describe('recipes.bpo', () => {
  it('VCD answers: one per record, the chosen length, deterministic for a seed, depending on alpha', async () => {
    const m = model();
    const a = await recipes.bpoRejected(m, records, { seed: 4, temperature: 1 });
    const b = await recipes.bpoRejected(m, records, { seed: 4, temperature: 1 });
    expect(a.map((r) => r.rejected)).toEqual(b.map((r) => r.rejected));
    expect(a.every((r) => r.rejected!.length === 3)).toBe(true);
    const plain = await recipes.bpoRejected(m, records, { seed: 4, temperature: 0, alpha: 0, beta: 0 });
    const strong = await recipes.bpoRejected(m, records, { seed: 4, temperature: 0, alpha: -8, beta: 0 });
    // with identical branches (no weakening) cd = (1 + a) l - a l = l for any alpha: the answers differ only because the image was diffused
    expect(strong.map((r) => r.rejected)).not.toEqual(plain.map((r) => r.rejected));
    expect(recipes.BPO_DEFAULTS).toMatchObject({ noiseStep: 900, alpha: 1, beta: 0.2, temperature: 0.2, dpoBeta: 0.1, loraRank: 32, loraAlpha: 256 });
  });

  it('bpo trains with DPO: default LoRA rank 32; loss falls and reward accuracy rises', async () => {
    const m = model();
    await recipes.bpo(m, records, { steps: 1 }).result;
    const a = m.loraParameters().find(([n]) => n.endsWith('lora_A.weight'))![1];
    expect(a.shape[0]).toBe(32);
    const r = await recipes.bpo(model(), records, { steps: 12, lr: 0.02, dpo: { beta: 0.5 }, lora: { rank: 4, alpha: 8, seed: 2 } }).result;
    expect(r.history[11]!.loss).toBeLessThan(r.history[0]!.loss * 0.8);
    expect(r.history[11]!.rewardAccuracy).toBeGreaterThan(r.history[0]!.rewardAccuracy);
  });
});

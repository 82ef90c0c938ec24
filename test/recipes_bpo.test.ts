/**
 * recipes.bpoRejected / recipes.bpo on a tiny model with image features: VCD answers between the
 * clean and the diffused image (deterministic for a seed; the weakened branch matters: alpha 0
 * gives other answers than a strong alpha), then DPO with BPO's defaults (LoRA r 32, beta 0.1).
 * Error injection: the text-only base LLM (no image, adapters off) rewrites the chosen answer after
 * a few-shot prompt (temperature 0.8, top-p 0.95); pairs are all unequal-score 2-combinations.
 */
import { describe, expect, it, vi } from 'vitest';
import { models, recipes, type PreferenceRecord } from '../lib';
import { generate, type GenerateOptions } from '../lib/models/generate';
import { expectError, expectRejection } from './helpers';

// a pass-through spy on models.generate (error injection samples through it; image weakening does not)
vi.mock('../lib/models/generate', async (importOriginal) => {
  const m = await importOriginal<typeof import('../lib/models/generate')>();
  return { ...m, generate: vi.fn(m.generate) };
});
const spy = vi.mocked(generate);

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
    expect(recipes.BPO_DEFAULTS).toMatchObject({ noiseStep: 900, alpha: 1, beta: 0.2, temperature: 0.2, dpoBeta: 0.1, loraRank: 32, loraAlpha: 256, lrSchedule: { type: 'cosine', warmupRatio: 0.03 } });
  });

  it('raw pixels: the image itself is weakened and encoded by the user encoder (same answers as noising those features)', async () => {
    const m = model();
    // pixels [2, 2, 4] whose identity "encoder" gives the records' features [NV, DV]: the pixel path must match the feature path
    const px = records.map((r) => ({ ...r, image: undefined, pixels: { data: r.image!.features, shape: [2, 2, 4] } }));
    const seen: number[][] = [];
    const encodeImage = (p: { shape: readonly number[]; toFloat32Array(): Float32Array }) => {
      expect(p.shape).toEqual([2, 2, 4]);
      seen.push(Array.from(p.toFloat32Array()));
      return { features: Float32Array.from(p.toFloat32Array()), shape: [NV, DV] as [number, number] };
    };
    const viaFeatures = await recipes.bpoRejected(m, records, { seed: 4, temperature: 1 });
    const viaPixels = await recipes.bpoRejected(m, px, { seed: 4, temperature: 1, encodeImage });
    expect(viaPixels.map((r) => r.rejected)).toEqual(viaFeatures.map((r) => r.rejected));
    expect(seen).toHaveLength(2 * records.length); // weakened + clean per record
    expect(seen[0]).not.toEqual(Array.from(records[0]!.image!.features)); // the first call sees the diffused pixels
    expect(seen[1]).toEqual(Array.from(records[0]!.image!.features));
    expect(Array.from(viaPixels[0]!.image!.features)).toEqual(Array.from(records[0]!.image!.features)); // clean features for training
    // ... and bpoDataset (so recipes.bpo) trains on those clean features
    const ds = await recipes.bpoDataset(m, px, { weakening: { seed: 4, temperature: 1, encodeImage } });
    expect(ds.records.map((r) => Array.from(r.image!.features))).toEqual(records.map((r) => Array.from(r.image!.features)));
    expect(ds.records.map((r) => r.rejected)).toEqual(viaFeatures.map((r) => r.rejected));
    // a record with both: its features are the clean branch, the encoder only sees the weakened pixels
    seen.length = 0;
    await recipes.bpoRejected(m, [{ ...px[0]!, image: records[0]!.image }], { seed: 4, encodeImage });
    expect(seen).toHaveLength(1);
    await expectRejection(recipes.bpoRejected(m, px, {}), 'ERR_ARGUMENT', /expected encodeImage \(your vision encoder\) for record line 1's raw pixels but received none/);
    await expectRejection(recipes.bpoRejected(m, px, { encodeImage: () => ({ features: new Float32Array(3), shape: [2, 2] as [number, number] }) }), 'ERR_SHAPE', /expected encodeImage to return float32 features \[Nv, Dv\]/);
  });

  it('bpo trains with DPO: default LoRA rank 32; loss falls and reward accuracy rises', async () => {
    const m = model();
    await recipes.bpo(m, records, { steps: 1 }).result;
    const a = m.loraParameters().find(([n]) => n.endsWith('lora_A.weight'))![1];
    expect(a.shape[0]).toBe(32);
    const r = await recipes.bpo(model(), records, { steps: 12, lr: 0.02, dpo: { beta: 0.5 }, lora: { rank: 4, alpha: 8, seed: 2 } }).result;
    expect(r.history[11]!.loss).toBeLessThan(r.history[0]!.loss * 0.8);
    expect(r.history[11]!.rewardAccuracy).toBeGreaterThan(r.history[0]!.rewardAccuracy);
    // the released cosine schedule with warmup ratio 0.03: ceil(0.36) = 1 warmup step at lr 0, then the cosine from 0.02
    const lrs = r.history.map((e) => e.lr);
    expect(lrs.slice(0, 2)).toEqual([0, 0.02]);
    expect(lrs[11]).toBeCloseTo((0.02 * (1 + Math.cos((Math.PI * 10) / 11))) / 2, 12);
  });

  it('bpoPairs: all 2-combinations with unequal scores, higher score chosen, long samples dropped', () => {
    const record = records[0]!;
    const c = (tokens: number[], score: number) => ({ tokens, score });
    const { records: pairs, dropped } = recipes.bpoPairs([
      { record, completions: [c([1], 1), c([2], 0), c([3], 0)] },
      { record: records[1]!, completions: [c([4], 0), c([5], 1), c([6], 1), c([7], 0.5)] },
      { record: records[2]!, completions: [c([8], 1), c(new Array<number>(351).fill(2), 0)] },
    ]);
    expect(pairs.map((p) => [p.chosen, p.rejected])).toEqual([
      [[1], [2]], [[1], [3]], // chosen against both generators' negatives; the two negatives tie
      [[5], [4]], [[6], [4]], [[7], [4]], [[5], [7]], [[6], [7]], // 5 and 6 tie
    ]);
    expect(pairs[0]!.prompt).toBe(record.prompt);
    expect(dropped).toBe(1); // a completion of 351 > 350 tokens
    expect(recipes.bpoPairs([{ record, completions: [c([1, 2, 3], 1), c([2], 0)] }], { filterSize: 2 }).dropped).toBe(1);
    expect(recipes.BPO_DEFAULTS.filterSize).toBe(350);
  });

  it('error injection: text-only base LLM (image and adapters ignored), few-shot prompt around the chosen answer, defaults', async () => {
    const m = model();
    const template = { before: [1, 2], after: [3] };
    spy.mockClear();
    const a = await recipes.bpoErrorInjection(m, records, { template, maxNewTokens: 6, seed: 2 });
    expect(spy).toHaveBeenCalledTimes(4);
    const o = spy.mock.calls[0]![1] as GenerateOptions;
    expect(o.tokens).toEqual([[1, 2, ...records[0]!.chosen, 3]]);
    expect(o.inputEmbeds).toBeUndefined();
    expect(o.sampler).toMatchObject({ temperature: 0.8, topP: 0.95 });
    expect(recipes.BPO_DEFAULTS.injection).toEqual({ temperature: 0.8, topP: 0.95, maxNewTokens: 1024 });
    expect(a.every((r) => r.rejected!.length === 6)).toBe(true);
    // the same records without image features give the same rewrites
    const noImage = await recipes.bpoErrorInjection(m, records.map(({ image: _, ...r }) => r), { template, maxNewTokens: 6, seed: 2 });
    expect(noImage.map((r) => r.rejected)).toEqual(a.map((r) => r.rejected));
    // adapters that change the model are switched off for the rewrite, and back on after
    m.addLora({ rank: 4, alpha: 8, seed: 1 });
    for (const [n, t] of m.loraParameters()) if (n.includes('lora_B')) (t.data as Float32Array).fill(0.5);
    const adapted = await recipes.bpoErrorInjection(m, records, { template, maxNewTokens: 6, seed: 2 });
    expect(adapted.map((r) => r.rejected)).toEqual(a.map((r) => r.rejected));
    expect(m.adaptersEnabled).toBe(true);
    const withAdapters = await generate(m, { tokens: [[1, 2, ...records[0]!.chosen, 3]], maxNewTokens: 6, sampler: { temperature: 0.8, topP: 0.95, seed: 2 } }).result;
    const without = await generate(model(), { tokens: [[1, 2, ...records[0]!.chosen, 3]], maxNewTokens: 6, sampler: { temperature: 0.8, topP: 0.95, seed: 2 } }).result;
    expect(Array.from(withAdapters.tokens[0]!)).not.toEqual(Array.from(without.tokens[0]!)); // so the adapters would have mattered
    // a text template needs tokenize; tokenize gets the default template's text
    await expect(recipes.bpoErrorInjection(m, records)).rejects.toThrow(/expected a tokenize function/);
    const seen: string[] = [];
    await recipes.bpoErrorInjection(m, records.slice(0, 1), { tokenize: (t) => (seen.push(t), [t.length % 17]), maxNewTokens: 1 });
    expect(seen).toEqual([recipes.ERROR_INJECTION_TEMPLATE.before, recipes.ERROR_INJECTION_TEMPLATE.after]);
  });

  it('bpo with both generators: two pairs a record (weakening and injection negatives) and DPO trains', async () => {
    const d = await recipes.bpoDataset(model(), records, { generators: ['weakening', 'injection'], injection: { template: { before: [1], after: [2] }, maxNewTokens: 3 } });
    expect(d.records).toHaveLength(8);
    expect(d.records.every((r, i) => r.chosen === records[Math.floor(i / 2)]!.chosen || r.chosen.join() === records[Math.floor(i / 2)]!.chosen.join())).toBe(true);
    const r = await recipes.bpo(model(), records, {
      steps: 12, lr: 0.02, dpo: { beta: 0.5 }, lora: { rank: 4, alpha: 8, seed: 2 }, batchSize: 8,
      generators: ['weakening', 'injection'], injection: { template: { before: [1], after: [2] }, maxNewTokens: 3 },
    }).result;
    expect(r.history[11]!.loss).toBeLessThan(r.history[0]!.loss * 0.8);
    expect(r.history[11]!.rewardAccuracy).toBeGreaterThan(r.history[0]!.rewardAccuracy);
  });

  it('option errors are typed and name the option', async () => {
    const m = model();
    await expectRejection(recipes.bpoDataset(m, records, { generators: ['weakening', 'typo' as never] }), 'ERR_ARGUMENT', /generators as a non-empty list of weakening, injection/);
    await expectRejection(recipes.bpoErrorInjection(m, records, { template: { before: [1, -2], after: [] } }), 'ERR_ARGUMENT', /template\.before/);
    await expectRejection(recipes.bpoErrorInjection(m, records, { template: { before: [1], after: [2] }, topP: 2 }), 'ERR_RANGE', /topP/);
    expectError(() => recipes.bpoPairs([], { filterSize: 0 }), 'ERR_RANGE', /filterSize/);
  });
});

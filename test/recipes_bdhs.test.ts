/**
 * recipes.bdhsRejected / recipes.bdhs on a tiny model with image features: near-duplicates are
 * re-drawn at most maxTries times, distinct candidates are accepted at once, the default embedding
 * scores an identical answer 1; offline BDHS then trains with DPO (loss falls, accuracy rises).
 */
import { describe, expect, it } from 'vitest';
import { models, recipes, type PreferenceRecord } from '../lib';

const CFG = { vocabSize: 17, hiddenSize: 16, intermediateSize: 24, numLayers: 2, numHeads: 4, numKvHeads: 2, ropeTheta: 100 };
const NV = 2, DV = 8;
const records: PreferenceRecord[] = [[1, 2, 3], [4, 5, 6], [7, 8, 9], [10, 11, 12]].map((p, i) => ({
  prompt: p,
  chosen: [(p[2]! + 1) % 17, (p[2]! + 2) % 17],
  image: { features: Float32Array.from({ length: NV * DV }, (_, j) => Math.cos(i * 3 + j)), shape: [NV, DV] },
  line: i + 1,
}));
const model = () => models.LlamaModel.random(CFG, { seed: 1, initStd: 0.3, visionHiddenSize: DV });

describe('recipes.bdhs', () => {
  it('re-draws near-duplicates up to maxTries, accepts distinct candidates at the first try', async () => {
    const m = model();
    let calls = 0;
    const same = await recipes.bdhsRejected(m, records, { maxTries: 3, embed: () => (calls++, [1, 0, 0]) });
    expect(same.tries).toEqual([3, 3, 3, 3]); // cosine 1 >= 0.97 every time; the last try is kept
    expect(calls).toBe(4 * (1 + 2)); // chosen + the tries before the last
    expect(same.records.every((r) => r.rejected!.length === 2)).toBe(true);
    let k = 0;
    const distinct = await recipes.bdhsRejected(m, records, { embed: () => (k++ % 2 ? [1, 0] : [0, 1]) });
    expect(distinct.tries).toEqual([1, 1, 1, 1]);
    const five = await recipes.bdhsRejected(m, records.slice(0, 1), { embed: () => [0.6, 0.8] });
    expect(five.tries).toEqual([5]); // default N_BDHS
  });

  it('the default embedding scores an identical answer 1 and a different one lower', () => {
    const m = model();
    const a = recipes.answerEmbedding(m, [1, 2, 3], [4, 5]);
    const b = recipes.answerEmbedding(m, [1, 2, 3], [4, 5]);
    const c = recipes.answerEmbedding(m, [1, 2, 3], [13, 7]);
    const dot = (x: Float32Array, y: Float32Array) => x.reduce((s, v, i) => s + v * y[i]!, 0);
    expect(dot(a, b)).toBeCloseTo(1, 5);
    expect(dot(a, c)).toBeLessThan(0.97);
  });

  it('offline BDHS trains with DPO on the generated rejected answers', async () => {
    const r = await recipes.bdhs(model(), records, { steps: 12, batchSize: 4, lr: 0.02, dpo: { beta: 0.5 }, lora: { rank: 4, alpha: 8, seed: 2 }, generate: { seed: 3 } }).result;
    expect(Math.abs(r.history[0]!.loss - Math.log(2))).toBeLessThan(1e-5);
    expect(r.history[11]!.loss).toBeLessThan(r.history[0]!.loss * 0.8);
    expect(r.history[11]!.rewardAccuracy).toBeGreaterThan(r.history[0]!.rewardAccuracy);
  });

  it('online BDHS regenerates with the current policy every onlineEvery steps', async () => {
    const refreshes: number[] = [];
    const embed = (ans: readonly number[], r: PreferenceRecord) => {
      if (ans === r.chosen && r.line === 1) refreshes.push(1);
      return ans === r.chosen ? [1, 0] : [0, 1];
    };
    const run = recipes.bdhs(model(), records, { steps: 5, batchSize: 4, lr: 0.02, dpo: { beta: 0.5 }, lora: { rank: 4, alpha: 8, seed: 2 }, onlineEvery: 2, generate: { embed } });
    const r = await run.result;
    expect(r.history.map((e) => e.step)).toEqual([1, 2, 3, 4, 5]);
    expect(refreshes).toHaveLength(3); // before steps 1, 3 and 5
    expect(r.history[4]!.loss).toBeLessThan(r.history[0]!.loss);
  });
});

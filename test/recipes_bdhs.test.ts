/**
 * recipes.bdhsRejected / recipes.bdhs on a tiny model with image features: near-duplicates are
 * re-drawn at most maxTries times, distinct candidates are accepted at once, the default embedding
 * scores an identical answer 1; offline BDHS then trains with DPO (loss falls, accuracy rises).
 * Reference-guided mode (§5.2): sentence split, rows conditioned on the ground-truth sentences,
 * one batched call per guided try, the last try unguided, the Yes/No swap rate ~0.5.
 */
import { describe, expect, it, vi } from 'vitest';
import { models, recipes, type PreferenceRecord } from '../lib';
import { generate, type GenerateOptions, type GenerateRun } from '../lib/models/generate';
import { splitPoint, splitSentences, swapYesNo } from '../lib/recipes/bdhs';
import { uniform } from '../lib/ops/random_fill';
import { tensor } from '../lib/tensor';
import { expectRejection } from './helpers';

// a pass-through spy on models.generate: the tests read the prompts each call receives
vi.mock('../lib/models/generate', async (importOriginal) => {
  const m = await importOriginal<typeof import('../lib/models/generate')>();
  return { ...m, generate: vi.fn(m.generate) };
});
const spy = vi.mocked(generate);

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
    // an async embedding (a sentence-embedding model such as transformers.js' feature-extraction pipeline)
    let j = 0;
    const later = (v: number[]) => new Promise<number[]>((res) => setTimeout(() => res(v), 1));
    const asyncDistinct = await recipes.bdhsRejected(m, records, { embed: () => later(j++ % 2 ? [1, 0] : [0, 1]) });
    expect(asyncDistinct.tries).toEqual([1, 1, 1, 1]);
    const asyncSame = await recipes.bdhsRejected(m, records.slice(0, 1), { maxTries: 2, embed: () => later([1, 0]) });
    expect(asyncSame.tries).toEqual([2]);
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

  const END = 16;
  const textRecord: PreferenceRecord = { prompt: [1, 2, 3], chosen: [4, 5, END, 6, 7, 8, END, 9], line: 1 };

  it('guided: splits at sentence ends, conditions each completion on the ground-truth sentences, one batched call', async () => {
    expect(splitSentences(textRecord.chosen, new Set([END]))).toEqual([[4, 5, END], [6, 7, 8, END], [9]]);
    expect(splitSentences([END, 3], new Set([END]))).toEqual([[END], [3]]);
    // split point: uniform over 0..c, c = the length without the final sentence-end token
    expect([0, 0.33, 0.34, 0.99].map((u) => splitPoint([4, 5, END], new Set([END]), u))).toEqual([0, 0, 1, 2]);
    expect(splitPoint([9], new Set([END]), 0.99)).toBe(1);
    spy.mockClear();
    let k = 0;
    const r = await recipes.bdhsRejected(model(), [textRecord], { sentenceEnd: [END], seed: 5, embed: () => (k++ % 2 ? [1, 0] : [0, 1]) });
    expect(r.tries).toEqual([1]);
    expect(spy).toHaveBeenCalledTimes(1);
    const opts = spy.mock.calls[0]![1] as GenerateOptions;
    const rows = opts.tokens as number[][];
    const sents = [[4, 5, END], [6, 7, 8, END], [9]];
    expect(rows).toHaveLength(3);
    expect(opts.stopTokens).toEqual([END]);
    expect(opts.maxNewTokens).toBe(4); // the longest chosen sentence
    const res = await (spy.mock.results[0]!.value as GenerateRun).result;
    const expected: number[] = [];
    rows.forEach((row, j) => {
      const before = [1, 2, 3, ...sents.slice(0, j).flat()]; // ground truth, not generated
      expect(row.slice(0, before.length)).toEqual(before);
      const prefix = row.slice(before.length);
      expect(prefix).toEqual(sents[j]!.slice(0, prefix.length));
      expect(prefix.length).toBeLessThanOrEqual(sents[j]!.length - (j < 2 ? 1 : 0));
      const gen = Array.from(res.tokens[j]!);
      expect(gen.slice(0, -1)).not.toContain(END); // a completion stops at the first sentence end
      expected.push(...prefix, ...gen);
    });
    expect(r.records[0]!.rejected).toEqual(expected);
    const again = await recipes.bdhsRejected(model(), [textRecord], { sentenceEnd: [END], seed: 5, embed: () => (k++ % 2 ? [1, 0] : [0, 1]) });
    expect(again.records[0]!.rejected).toEqual(expected); // Philox split points: reproducible
  });

  it('guided: retries up to maxTries, the last try unguided (a whole answer from the prompt)', async () => {
    spy.mockClear();
    const r = await recipes.bdhsRejected(model(), [textRecord, { ...textRecord, line: 2 }], { sentenceEnd: [END], maxTries: 3, embed: () => [1, 0] });
    expect(r.tries).toEqual([3, 3]);
    expect(spy).toHaveBeenCalledTimes(6);
    const calls = spy.mock.calls.map((c) => (c[1] as GenerateOptions).tokens as number[][]);
    for (const t of [0, 1, 3, 4]) expect(calls[t]).toHaveLength(3); // guided tries: one row per sentence
    for (const t of [2, 5]) expect(calls[t]).toEqual([[1, 2, 3]]); // last try: the prompt alone
    expect((spy.mock.calls[2]![1] as GenerateOptions).maxNewTokens).toBe(8);
    const last = await (spy.mock.results[5]!.value as GenerateRun).result;
    expect(r.records[1]!.rejected).toEqual(Array.from(last.tokens[0]!));
    // guided: false keeps the whole-answer mode at every try
    spy.mockClear();
    await recipes.bdhsRejected(model(), [textRecord], { sentenceEnd: [END], guided: false, maxTries: 2, embed: () => [1, 0] });
    expect(spy.mock.calls.map((c) => ((c[1] as GenerateOptions).tokens as number[][]).length)).toEqual([1, 1]);
  });

  it('Yes/No swap: rate 0.5 within a binomial bound, both directions, and only at sentence starts', async () => {
    const YES = 13, NO = 14;
    const pairs: [number[], number[]][] = [[[YES], [NO]], [[15, YES], [15, NO]]];
    expect(swapYesNo([YES, 5, END], pairs, 0.1)).toEqual([NO, 5, END]);
    expect(swapYesNo([NO, 5], pairs, 0.1)).toEqual([YES, 5]);
    expect(swapYesNo([15, YES], pairs, 0.2)).toEqual([15, NO]);
    expect(swapYesNo([YES, 5], pairs, 0.7)).toEqual([YES, 5]);
    expect(swapYesNo([5, YES], pairs, 0.1)).toEqual([5, YES]);
    // end to end: the swap draws are their own Philox stream, so the completions are the same with and
    // without yesNo and the answers differ exactly where a YES-led sentence was swapped
    const n = 120;
    const rec: PreferenceRecord = { prompt: [1, 2], chosen: Array.from({ length: n }, () => [YES, 5, END]).flat(), line: 1 };
    const opts = { sentenceEnd: [END], seed: 9, maxTries: 2, embed: (a: readonly number[]) => (a === rec.chosen ? [1, 0] : [0, 1]) };
    const plain = (await recipes.bdhsRejected(model(), [rec], opts)).records[0]!.rejected!;
    const swapped = (await recipes.bdhsRejected(model(), [rec], { ...opts, yesNo: [[[YES], [NO]]] })).records[0]!.rejected!;
    expect(swapped).toHaveLength(plain.length);
    let diffs = 0;
    plain.forEach((t, j) => {
      if (t === swapped[j]) return;
      diffs++;
      expect([t, swapped[j]]).toSatisfy(([a, b]: number[]) => (a === YES && b === NO) || (a === NO && b === YES));
    });
    expect(diffs).toBeGreaterThan(0);
    // the rate over many draws, from the same Philox uniforms the recipe uses: |k - N/2| <= 4 sqrt(N/4)
    const N = 4000;
    const u = uniform([N], { seed: 3, offset: 2 ** 40 }).toFloat32Array();
    let k = 0;
    for (let j = 0; j < N; j++) if (swapYesNo([YES, 5, END], pairs, u[j]!)[0] === NO) k++;
    expect(Math.abs(k - N / 2)).toBeLessThanOrEqual(4 * Math.sqrt(N / 4));
  });

  it('guided with image features: left-padded rows match each row generated alone; DPO on the result trains', async () => {
    const m = model();
    // generate's leftPad: greedy rows of different lengths batched = each row alone
    const rows = [[1, 2, 3, 4, 5], [6, 7]];
    const alone = await Promise.all(rows.map((row) => generate(m, { inputEmbeds: m.embedTokens(tensor(Int32Array.from(row), [1, row.length])), maxNewTokens: 4 }).result));
    const padded = Int32Array.from([...rows[0]!, 0, 0, 0, ...rows[1]!]);
    const batch = await generate(m, { inputEmbeds: m.embedTokens(tensor(padded, [2, 5])), leftPad: [0, 3], maxNewTokens: 4 }).result;
    expect(batch.tokens.map((t) => Array.from(t))).toEqual(alone.map((a) => Array.from(a.tokens[0]!)));
    const two = records.map((r) => ({ ...r, chosen: [...r.chosen, END, 3, 4, END] }));
    spy.mockClear();
    const r = await recipes.bdhs(model(), two, { steps: 12, batchSize: 4, lr: 0.02, dpo: { beta: 0.5 }, lora: { rank: 4, alpha: 8, seed: 2 }, generate: { seed: 3, sentenceEnd: [END] } }).result;
    const first = spy.mock.calls[0]![1] as GenerateOptions;
    expect(first.leftPad).toHaveLength(2);
    expect(first.imageSpans).toEqual(first.leftPad!.map((p) => [[p, NV]]));
    expect(r.history[11]!.loss).toBeLessThan(r.history[0]!.loss * 0.8);
    expect(r.history[11]!.rewardAccuracy).toBeGreaterThan(r.history[0]!.rewardAccuracy);
  });

  it('guided: option errors are typed and name the option', async () => {
    const m = model();
    await expectRejection(recipes.bdhsRejected(m, [textRecord], { sentenceEnd: [] }), 'ERR_ARGUMENT', /expected sentenceEnd as a non-empty array/);
    await expectRejection(recipes.bdhsRejected(m, [textRecord], { sentenceEnd: [1.5] }), 'ERR_ARGUMENT', /sentenceEnd.*but received \[1\.5\]/);
    await expectRejection(recipes.bdhsRejected(m, [textRecord], { guided: true }), 'ERR_ARGUMENT', /expected sentenceEnd .* with guided: true/);
    await expectRejection(recipes.bdhsRejected(m, [textRecord], { sentenceEnd: [END], yesNo: [[[1]]] as never }), 'ERR_ARGUMENT', /yesNo as \[yesIds, noIds\] pairs/);
    await expectRejection(recipes.bdhsRejected(m, [textRecord], { sentenceEnd: [END], sentenceMaxTokens: 0 }), 'ERR_RANGE', /sentenceMaxTokens/);
    await expectRejection(generate(m, { tokens: [[1]], leftPad: [0], maxNewTokens: 1 }).result, 'ERR_ARGUMENT', /leftPad only with inputEmbeds/);
  });
});

/**
 * The recipes' JSONL reader: records with token ids, text through a tokenizer, image features
 * inline or from a .safetensors file next to the data; bad lines are line-numbered ERR_FORMAT
 * errors, or skipped and counted.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { models, recipes, tensor, type PreferenceRecord, type Tensor } from '../lib';
import { expectError } from './helpers';

const dir = () => fs.mkdtempSync(path.join(os.tmpdir(), 'mmpref-data-'));
async function all(d: AsyncIterable<PreferenceRecord>): Promise<PreferenceRecord[]> {
  const out: PreferenceRecord[] = [];
  for await (const r of d) out.push(r);
  return out;
}

describe('recipes JSONL data', () => {
  it('reads token ids, tokenized text, inline and file image features; re-iterable', async () => {
    const d = dir();
    models.saveSafetensors(path.join(d, 'img.safetensors'), [['features', tensor(Float32Array.from([1, 2, 3, 4, 5, 6]), [2, 3])]]);
    const lines = [
      JSON.stringify({ prompt: [1, 2], chosen: [3], rejected: [4, 5] }),
      '',
      JSON.stringify({ promptText: 'ab', chosenText: 'c', image: [[0.5, 1.5]] }),
      JSON.stringify({ prompt: [7], chosen: [8], image: 'img.safetensors' }),
    ];
    fs.writeFileSync(path.join(d, 'data.jsonl'), lines.join('\n') + '\n');
    const ds = recipes.readJsonl(path.join(d, 'data.jsonl'), { tokenize: (s) => [...s].map((c) => c.charCodeAt(0) - 96) });
    const recs = await all(ds);
    expect(recs.map((r) => r.line)).toEqual([1, 3, 4]);
    expect(recs[0]).toMatchObject({ prompt: [1, 2], chosen: [3], rejected: [4, 5] });
    expect(recs[1]).toMatchObject({ prompt: [1, 2], chosen: [3] });
    expect(Array.from(recs[1]!.image!.features)).toEqual([0.5, 1.5]);
    expect(recs[2]!.image!.shape).toEqual([2, 3]);
    expect(Array.from(recs[2]!.image!.features)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(await all(ds)).toHaveLength(3); // a second epoch streams the file again
  });

  it('bad lines: line-numbered ERR_FORMAT (fatal), or skipped and counted', async () => {
    const d = dir();
    const file = path.join(d, 'bad.jsonl');
    fs.writeFileSync(file, [JSON.stringify({ prompt: [1], chosen: [2] }), '{not json', JSON.stringify({ prompt: [1], chosen: 'x' }), JSON.stringify({ prompt: [1], chosen: [2], image: 'missing.safetensors' }), JSON.stringify({ prompt: [3], chosen: [4] })].join('\n'));
    await expect(all(recipes.readJsonl(file))).rejects.toMatchObject({ code: 'ERR_FORMAT', message: expect.stringMatching(/bad\.jsonl:2: expected a JSON object but received invalid JSON/) });
    const skip = recipes.readJsonl(file, { onBadRecord: 'skip' });
    expect((await all(skip)).map((r) => r.line)).toEqual([1, 5]);
    expect(skip.skipped).toBe(3);
    expect(skip.lastError!.message).toMatch(/bad\.jsonl:4: expected a readable \.safetensors image file/);
    expectError(() => recipes.parseRecord(JSON.stringify({ prompt: [1], chosen: [2.5] }), 7, 'f.jsonl'), 'ERR_FORMAT', /f\.jsonl:7: expected 'chosen' as a non-empty array of non-negative integer token ids but received \[2\.5\]/);
    expectError(() => recipes.parseRecord(JSON.stringify({ prompt: [1], chosen: [2] }), 2, 'f.jsonl', { requireRejected: true }), 'ERR_FORMAT', /f\.jsonl:2: expected 'rejected'/);
    // imagesOnly (DEEM data): prompt and chosen optional, image required
    const img = recipes.parseRecord(JSON.stringify({ image: [[1, 2]] }), 3, 'f.jsonl', { imagesOnly: true });
    expect([img.prompt, img.chosen, img.image!.shape]).toEqual([[], [], [1, 2]]);
    expectError(() => recipes.parseRecord(JSON.stringify({ image: [[1, 2]] }), 4, 'f.jsonl'), 'ERR_FORMAT', /f\.jsonl:4: expected 'prompt'/);
    expectError(() => recipes.parseRecord(JSON.stringify({ prompt: [1], chosen: [2] }), 5, 'f.jsonl', { imagesOnly: true }), 'ERR_FORMAT', /f\.jsonl:5: expected 'image' \(imagesOnly data\)/);
    expectError(() => recipes.parseRecord(JSON.stringify({ promptText: 'a', chosen: [2] }), 3, 'f.jsonl'), 'ERR_FORMAT', /tokenize function/);
    expectError(() => recipes.readJsonl(path.join(d, 'nope.jsonl')), 'ERR_IO');
    expectError(() => recipes.readJsonl(file, { onBadRecord: 'ignore' as never }), 'ERR_ARGUMENT');
  });

  it('batches: image placeholders + prompt + answer, labels on the answer only, padding masked', () => {
    const img = { features: new Float32Array(4), shape: [2, 2] as [number, number] };
    const b = recipes.dpoBatch([{ prompt: [1, 2], chosen: [3], rejected: [4, 5], image: img, line: 1 }], 9);
    expect((b.tokens as Tensor).shape).toEqual([2, 6]);
    expect((b.tokens as Tensor).toArray()).toEqual([9, 9, 1, 2, 3, 0, 9, 9, 1, 2, 4, 5]);
    expect((b.labels as Tensor).toArray()).toEqual([-100, -100, -100, -100, 3, -100, -100, -100, -100, -100, 4, 5]);
    expect((b.attentionMask as Tensor).shape).toEqual([2, 6]);
    expect((b.visualFeatures as Tensor).shape).toEqual([2, 2, 2]);
    expectError(() => recipes.dpoBatch([{ prompt: [1], chosen: [2], line: 4 }]), 'ERR_FORMAT', /line 4/);
  });
});

/**
 * `mmpref generate` options of the BDHS/BPO generators, run in-process (generateCommand): bpo
 * --error-injection writes two pairs a record (weakening, then injection), --filter-size drops
 * records, bdhs --sentence-end runs guided completion; usage errors for bad lists and a missing prompt.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { models } from '../lib';
import { generateCommand } from '../lib/cli_generate';
import { UsageError } from '../lib/cli_train';

const CFG = { vocabSize: 17, hiddenSize: 16, intermediateSize: 24, numLayers: 2, numHeads: 4, numKvHeads: 2, ropeTheta: 100 };

function setup(): { d: string; model: string; data: string; prompt: string } {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'mmpref-gen-'));
  const model = path.join(d, 'model');
  models.LlamaModel.random(CFG, { seed: 1, initStd: 0.3 }).save(model);
  const data = path.join(d, 'sft.jsonl');
  fs.writeFileSync(data, [[1, 2, 3], [4, 5, 6]].map((p, i) => JSON.stringify({ id: i, prompt: p, chosen: [p[2]! + 1, 16, p[2]! + 2, 16] })).join('\n') + '\n');
  const prompt = path.join(d, 'prompt.json');
  fs.writeFileSync(prompt, JSON.stringify({ before: [1, 2], after: [3] }));
  return { d, model, data, prompt };
}

const read = (f: string) => fs.readFileSync(f, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { id: number; chosen: number[]; rejected: number[] });

describe('mmpref generate (bpo error injection, bdhs guided)', () => {
  afterEach(() => vi.restoreAllMocks());

  it('bpo --error-injection: two pairs a record; --filter-size drops; bdhs --sentence-end', async () => {
    const err: string[] = [];
    vi.spyOn(process.stderr, 'write').mockImplementation((s) => (err.push(String(s)), true));
    const { d, model, data, prompt } = setup();
    const out = path.join(d, 'pairs.jsonl');
    const base = ['--model', model, '--data', data, '--out', out];
    expect(await generateCommand(['--recipe', 'bpo', ...base, '--error-injection', '--injection-prompt', prompt, '--max-new-tokens', '3'])).toBe(0);
    const recs = read(out);
    expect(recs.map((x) => x.id)).toEqual([0, 0, 1, 1]);
    expect(recs.every((x) => x.rejected.length === 3)).toBe(true);
    expect(err.join('')).toMatch(/wrote 4 record\(s\).*weakening, injection/);
    expect(await generateCommand(['--recipe', 'bpo', ...base, '--generators', 'injection', '--injection-prompt', prompt, '--max-new-tokens', '3', '--filter-size', '3'])).toBe(0);
    expect(fs.readFileSync(out, 'utf8')).toBe(''); // the chosen answers have 4 tokens > 3
    expect(await generateCommand(['--recipe', 'bdhs', ...base, '--sentence-end', '16', '--max-tries', '2'])).toBe(0);
    expect(read(out).map((x) => x.id)).toEqual([0, 1]);
    await expect(generateCommand(['--recipe', 'bpo', ...base, '--generators', 'weakening,typo'])).rejects.toThrow(UsageError);
    await expect(generateCommand(['--recipe', 'bpo', ...base, '--error-injection'])).rejects.toThrow(/--injection-prompt/);
    await expect(generateCommand(['--recipe', 'bdhs', ...base, '--sentence-end', '1,x'])).rejects.toThrow(/--sentence-end/);
  });
});

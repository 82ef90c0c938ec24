/**
 * `mmpref generate` options of the BDHS/BPO generators, run in-process (generateCommand): bpo
 * --error-injection writes two pairs a record (weakening, then injection), --filter-size drops
 * records, bdhs --sentence-end runs guided completion; usage errors for bad lists and a missing prompt.
 * recipes.loadTokenizer: the missing optional package is a typed error naming it; the calling
 * convention with a stand-in module (the real @huggingface/transformers is not installed here).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { models } from '../lib';
import { generateCommand } from '../lib/cli_generate';
import { UsageError } from '../lib/cli_train';
import { recipes } from '../lib';
import { expectRejection } from './helpers';

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

  it('loadTokenizer: a missing @huggingface/transformers is ERR_IO naming it; a stand-in module is called as documented', async () => {
    const { d } = setup();
    const dir = path.join(d, 'tok');
    fs.mkdirSync(dir);
    await expectRejection(recipes.loadTokenizer(d), 'ERR_IO', /tokenizer\.json/);
    fs.writeFileSync(path.join(dir, 'tokenizer.json'), '{}');
    const missing = recipes.loadTokenizer(dir, { importer: () => Promise.reject(new Error("Cannot find module '@huggingface/transformers'")) });
    await expectRejection(missing, 'ERR_IO', /optional package @huggingface\/transformers \(npm install/);
    let real: unknown;
    try {
      await import('@huggingface/transformers' as string);
    } catch (e) {
      real = e;
    }
    if (real) await expectRejection(recipes.loadTokenizer(dir), 'ERR_IO', /@huggingface\/transformers/); // not installed here
    const calls: unknown[] = [];
    const env: Record<string, unknown> = {};
    const fake = {
      env,
      AutoTokenizer: {
        from_pretrained: async (id: string, o: object) => (calls.push([id, o]), {
          encode: (t: string, eo: { add_special_tokens?: boolean }) => (calls.push(eo), [...t].map((c) => c.charCodeAt(0) % 17)),
          decode: (ids: number[]) => ids.join(' '),
        }),
      },
    };
    const tok = await recipes.loadTokenizer(dir, { importer: async () => fake });
    expect(calls[0]).toEqual(['tok', { local_files_only: true }]);
    expect(env).toEqual({ allowRemoteModels: false, allowLocalModels: true, localModelPath: path.resolve(d) + path.sep });
    expect(tok.tokenize('ab')).toEqual([97 % 17, 98 % 17]);
    expect(calls[1]).toEqual({ add_special_tokens: false });
    expect(tok.decode([1, 2])).toBe('1 2');
    const f = path.join(d, 'text.jsonl');
    fs.writeFileSync(f, JSON.stringify({ promptText: 'hi', chosenText: 'yes.' }) + '\n');
    const recs = [];
    for await (const r of recipes.readJsonl(f, { tokenize: tok.tokenize })) recs.push(r);
    expect(recs[0]).toMatchObject({ prompt: [104 % 17, 105 % 17], chosen: [...'yes.'].map((c) => c.charCodeAt(0) % 17) });
  });
});

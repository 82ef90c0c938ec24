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

  it('image features from .npy files (format 1.0 and 2.0; <f2, <f4, <f8); bad .npy files are line-numbered ERR_FORMAT', async () => {
    const d = dir();
    // an independent .npy writer (numpy.lib.format): magic, version, header length, dict header padded to 64 with '\n'
    const npy = (name: string, descr: string, shape: number[], bytes: Buffer, o: { major?: number; fortran?: boolean } = {}) => {
      const major = o.major ?? 1;
      const pre = major === 1 ? 10 : 12;
      let h = `{'descr': '${descr}', 'fortran_order': ${o.fortran ? 'True' : 'False'}, 'shape': (${shape.join(', ')}${shape.length === 1 ? ',' : ''}), }`;
      h += ' '.repeat(64 - ((pre + h.length + 1) % 64)) + '\n';
      const head = Buffer.alloc(pre);
      Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, major, 0]).copy(head);
      if (major === 1) head.writeUInt16LE(h.length, 8);
      else head.writeUInt32LE(h.length, 8);
      fs.writeFileSync(path.join(d, name), Buffer.concat([head, Buffer.from(h, 'latin1'), bytes]));
    };
    const vals = [0.5, -1.25, 3, 0.1, 2, -0.75];
    const f32 = Buffer.from(Float32Array.from(vals).buffer);
    const f64 = Buffer.from(Float64Array.from(vals).buffer);
    // float16 bits of the values above (exact in half except 0.1 -> 0x2e66 = 0.0999755859375)
    const f16 = Buffer.from(Uint16Array.from([0x3800, 0xbd00, 0x4200, 0x2e66, 0x4000, 0xba00]).buffer);
    npy('a.npy', '<f4', [2, 3], f32);
    npy('b.npy', '<f8', [3, 2], f64, { major: 2 });
    npy('c.npy', '<f2', [2, 3], f16);
    const lines = ['a.npy', 'b.npy', { path: 'c.npy' }].map((image) => JSON.stringify({ prompt: [1], chosen: [2], image }));
    fs.writeFileSync(path.join(d, 'ok.jsonl'), lines.join('\n') + '\n');
    const recs = await all(recipes.readJsonl(path.join(d, 'ok.jsonl')));
    expect(recs.map((r) => r.image!.shape)).toEqual([[2, 3], [3, 2], [2, 3]]);
    expect(Array.from(recs[0]!.image!.features)).toEqual(Array.from(Float32Array.from(vals)));
    expect(Array.from(recs[1]!.image!.features)).toEqual(Array.from(Float32Array.from(vals)));
    expect(Array.from(recs[2]!.image!.features)).toEqual([0.5, -1.25, 3, 0.0999755859375, 2, -0.75]);
    // raw pixels (BPO's weakening with encodeImage): any rank, .npy or .safetensors
    npy('px.npy', '<f4', [1, 2, 3], f32);
    models.saveSafetensors(path.join(d, 'px.safetensors'), [['pixels', tensor(Float32Array.from(vals), [3, 2])]]);
    fs.writeFileSync(path.join(d, 'px.jsonl'), ['px.npy', 'px.safetensors'].map((pixels) => JSON.stringify({ prompt: [1], chosen: [2], pixels })).join('\n') + '\n');
    const px = await all(recipes.readJsonl(path.join(d, 'px.jsonl')));
    expect(px.map((r) => [r.pixels!.shape, r.image])).toEqual([[[1, 2, 3], undefined], [[3, 2], undefined]]);
    expect(Array.from(px[1]!.pixels!.data)).toEqual(Array.from(Float32Array.from(vals)));
    fs.writeFileSync(path.join(d, 'px.jsonl'), JSON.stringify({ prompt: [1], chosen: [2], pixels: 7 }) + '\n');
    await expect(all(recipes.readJsonl(path.join(d, 'px.jsonl')))).rejects.toThrow(/px\.jsonl:1: expected 'pixels' as a \.npy or \.safetensors path/);
    npy('fortran.npy', '<f4', [2, 3], f32, { fortran: true });
    npy('int.npy', '<i4', [2, 3], f32);
    npy('short.npy', '<f4', [2, 3], f32.subarray(0, 20));
    npy('rank3.npy', '<f4', [1, 2, 3], f32);
    fs.writeFileSync(path.join(d, 'junk.npy'), 'not numpy at all');
    // the same checks for a .safetensors image (one reader for both formats)
    models.saveSafetensors(path.join(d, 'nan.safetensors'), [['features', tensor(Float32Array.from([1, NaN]), [1, 2])]]);
    models.saveSafetensors(path.join(d, 'rank1.safetensors'), [['features', tensor(Float32Array.from([1, 2]), [2])]]);
    const cases: [string, RegExp][] = [
      ['fortran.npy', /bad\.jsonl:1: .*fortran\.npy: expected a C-order array .* but received a Fortran-order one/],
      ['int.npy', /bad\.jsonl:1: .*expected a little-endian float dtype .* but received '<i4'/],
      ['short.npy', /bad\.jsonl:1: .*expected 24 data bytes \(shape \[2, 3\] of '<f4'\) but received 20/],
      ['rank3.npy', /bad\.jsonl:1: expected a finite \[Nv, Dv\] array in .*rank3\.npy but received shape \[1, 2, 3\]/],
      ['junk.npy', /bad\.jsonl:1: .*expected a NumPy \.npy file .* but received other bytes/],
      ['none.npy', /bad\.jsonl:1: .*expected a readable \.npy file but received .*none\.npy/],
      ['nan.safetensors', /bad\.jsonl:1: expected a finite \[Nv, Dv\] array in .*nan\.safetensors \(tensor 'features'\) but received shape \[1, 2\] with non-finite values/],
      ['rank1.safetensors', /bad\.jsonl:1: expected a finite \[Nv, Dv\] array in .*rank1\.safetensors \(tensor 'features'\) but received shape \[2\]/],
    ];
    for (const [image, re] of cases) {
      fs.writeFileSync(path.join(d, 'bad.jsonl'), JSON.stringify({ prompt: [1], chosen: [2], image }) + '\n');
      await expect(all(recipes.readJsonl(path.join(d, 'bad.jsonl'))), image).rejects.toThrow(re);
      await expect(all(recipes.readJsonl(path.join(d, 'bad.jsonl'))), image).rejects.toMatchObject({ code: 'ERR_FORMAT' });
    }
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

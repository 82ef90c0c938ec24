/**
 * The demo's story (examples/stages/60_story.ts, the end of `npm run demo`) on a shorter run: it
 * writes the model, the data, the metrics, the plot and the adapter; the checkpoint and the adapter
 * load back to the same logits; the DPO loss falls and the reward accuracy rises; it only ever
 * deletes a directory it made.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { recipes } from '../lib';
import { runStory, sparkline } from '../examples/stages/60_story';

const made: string[] = [];
const tmp = () => {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'mmpref-demo-'));
  made.push(d);
  return d;
};
afterAll(() => {
  for (const d of made) fs.rmSync(d, { recursive: true, force: true });
});

describe('demo story', () => {
  it('makes the files, round-trips the checkpoint and the adapter, and the DPO loss falls', async () => {
    const out = path.join(tmp(), 'demo-out');
    const lines: string[] = [];
    const r = await runStory({ out, steps: 12, log: (l) => lines.push(l) });
    for (const f of ['model/config.json', 'model/model.safetensors', 'data/train.jsonl', 'data/pairs.jsonl', 'data/images/0000.safetensors', 'run/metrics.jsonl', 'run/metrics.svg'])
      expect(fs.existsSync(path.join(out, f)), f).toBe(true);
    expect(path.basename(r.checkpoint)).toBe('checkpoint-000012');
    expect(fs.readdirSync(r.checkpoint)).toEqual(expect.arrayContaining(['adapter_config.json', 'adapter_model.safetensors']));
    expect(r.roundTripMaxDiff).toBe(0);
    expect(r.adapterMaxDiff).toBe(0);
    // the data files read back as the documented format, every record with a generated rejected answer
    const pairs: recipes.PreferenceRecord[] = [];
    for await (const p of recipes.readJsonl(r.pairsFile, { requireRejected: true })) pairs.push(p);
    expect(pairs).toHaveLength(32);
    expect(pairs[0]!.image!.shape).toEqual([8, 32]);
    expect(r.tries).toHaveLength(32);
    expect(r.tries.every((t) => t >= 1 && t <= 5)).toBe(true);
    // SFT warm-up learns; NoiseBoost + DPO: loss falls from about log 2, reward accuracy rises
    expect(r.sft.at(-1)!.loss).toBeLessThan(r.sft[0]!.loss * 0.2);
    expect(r.dpo.map((e) => e.step)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    expect(Math.abs(r.dpo[0]!.loss - Math.log(2))).toBeLessThan(0.05);
    expect(r.dpo[11]!.loss).toBeLessThan(r.dpo[0]!.loss * 0.8);
    expect(r.dpo[11]!.rewardAccuracy).toBeGreaterThan(r.dpo[0]!.rewardAccuracy);
    expect(fs.readFileSync(path.join(r.runDir, 'metrics.jsonl'), 'utf8').trim().split('\n')).toHaveLength(12);
    expect(fs.readFileSync(path.join(r.runDir, 'metrics.svg'), 'utf8')).toMatch(/^<svg/);
    expect(lines.some((l) => /loss 0\.\d+ -> 0\.\d+, accuracy/.test(l))).toBe(true);
    // a second run into the same directory starts afresh
    const again = await runStory({ out, steps: 1, sftSteps: 1, perClass: 1, log: () => {} });
    expect(path.basename(again.checkpoint)).toBe('checkpoint-000001');
    expect(fs.existsSync(r.checkpoint)).toBe(false);
  });

  it('never deletes a directory it did not make', async () => {
    const out = tmp();
    fs.writeFileSync(path.join(out, 'keep.txt'), 'mine');
    await expect(runStory({ out, steps: 1, log: () => {} })).rejects.toThrow(/expected --out to name a new directory/);
    expect(fs.readFileSync(path.join(out, 'keep.txt'), 'utf8')).toBe('mine');
  });

  it('sparkline maps the minimum to the lowest block and the maximum to the highest', () => {
    expect(sparkline([7, 3, 0])).toBe('█▄▁');
    expect(sparkline([1, 1])).toBe('▄▄');
  });
});

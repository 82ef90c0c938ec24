/**
 * `mmpref train noiseboost` end to end (node dist/lib/cli.js, built by `npm test`'s tsc): a tiny
 * Hugging Face checkpoint and JSONL data made here, checkpoints + metrics.jsonl + metrics.svg,
 * resume, SIGINT saving a checkpoint (exit 130), --help, usage and data errors with exit codes.
 */
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { cudaAvailable, models } from '../lib';

const CLI = path.join(__dirname, '..', 'dist', 'lib', 'cli.js');
const CFG = { vocabSize: 17, hiddenSize: 16, intermediateSize: 24, numLayers: 2, numHeads: 4, numKvHeads: 2, ropeTheta: 100 };

function setup(): { d: string; model: string; data: string; out: string } {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'mmpref-cli-'));
  const model = path.join(d, 'model');
  models.LlamaModel.random(CFG, { seed: 1, initStd: 0.3 }).save(model);
  const lines = [[1, 2, 3], [4, 5, 6], [7, 8, 9], [10, 11, 12]].map((p, i) => JSON.stringify({ prompt: p, chosen: [(p[2]! + 1) % 17, (p[2]! + 2) % 17], rejected: [(i * 5 + 2) % 17, (i * 3 + 1) % 17] }));
  const data = path.join(d, 'data.jsonl');
  fs.writeFileSync(data, lines.join('\n') + '\n');
  return { d, model, data, out: path.join(d, 'out') };
}

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await promisify(execFile)(process.execPath, [CLI, ...args]);
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const x = e as { code: number; stdout: string; stderr: string };
    return { code: x.code, stdout: x.stdout, stderr: x.stderr };
  }
}

describe('mmpref train', () => {
  it('noiseboost: trains, writes checkpoints, metrics.jsonl, metrics.svg; --resume continues', async () => {
    const { model, data, out } = setup();
    const base = ['train', 'noiseboost', '--model', model, '--data', data, '--out', out, '--batch-size', '4', '--lr', '0.02', '--beta', '0.5', '--lora-rank', '4'];
    const r = await cli([...base, '--steps', '6', '--save-every', '3']);
    expect(r.stderr).toMatch(/step 6\/6 {2}loss \d\.\d{4} {2}acc 1\.00/);
    expect(r.code).toBe(0);
    expect(fs.readdirSync(out).sort()).toEqual(['checkpoint-000003', 'checkpoint-000006', 'metrics.jsonl', 'metrics.svg']);
    const m = fs.readFileSync(path.join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(m.map((e) => e.step)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(m[5].loss).toBeLessThan(m[0].loss);
    expect(fs.readFileSync(path.join(out, 'metrics.svg'), 'utf8')).toMatch(/^<svg[^]*margin/);
    const again = await cli([...base, '--steps', '8', '--resume']);
    expect(again.code).toBe(0);
    expect(again.stderr).not.toMatch(/step 6\/8/);
    expect(again.stderr).toMatch(/step 7\/8[^]*step 8\/8/);
    expect(fs.existsSync(path.join(out, 'checkpoint-000008', 'adapter_model.safetensors'))).toBe(true);
  });

  it('SIGINT saves a checkpoint and exits 130', async () => {
    const { model, data, out } = setup();
    const child = spawn(process.execPath, [CLI, 'train', 'noiseboost', '--model', model, '--data', data, '--out', out, '--steps', '100000', '--lora-rank', '2']);
    let err = '';
    let sent = false;
    const code = await new Promise<number | null>((resolve) => {
      child.stderr.on('data', (b: Buffer) => {
        err += b.toString();
        if (!sent && /step 2\//.test(err)) sent = child.kill('SIGINT'); // once: a second Ctrl-C is not caught
      });
      child.on('exit', (c) => resolve(c));
    });
    expect(err).toMatch(/interrupted at step \d+; resume with --resume/);
    expect(code).toBe(130);
    const ck = fs.readdirSync(out).filter((f) => f.startsWith('checkpoint-'));
    expect(ck).toHaveLength(1);
    expect(fs.existsSync(path.join(out, ck[0]!, 'optimizer.safetensors'))).toBe(true);
  });

  it('--help, usage errors (2), data errors with the line (1), deem without --denoiser (2)', async () => {
    const { model, d, out } = setup();
    for (const args of [['--help'], ['train', '--help'], ['info', '--help']]) {
      const r = await cli(args);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/^usage: mmpref/);
    }
    expect((await cli(['train', 'noiseboost', '--model', model])).stderr).toMatch(/expected --data but received none/);
    expect((await cli(['train', 'noiseboost', '--model', model])).code).toBe(2);
    expect((await cli(['train', 'ppo'])).code).toBe(2);
    expect((await cli(['train', 'noiseboost', '--steps', 'x', '--model', model, '--data', 'f', '--out', out])).code).toBe(2);
    expect((await cli(['train', 'noiseboost', '--bogus'])).code).toBe(2);
    expect((await cli(['nope'])).code).toBe(2);
    const dev = await cli(['train', 'noiseboost', '--model', model, '--data', 'f', '--out', out, '--device', 'gpu']);
    expect(dev.code).toBe(2);
    expect(dev.stderr).toMatch(/expected --device cpu, cuda or cuda:N but received 'gpu'/);
    if (!cudaAvailable()) {
      // no usable CUDA here: loading the model there is a typed error, exit 1, nothing written
      const noGpu = await cli(['train', 'noiseboost', '--model', model, '--data', path.join(d, 'data.jsonl'), '--out', path.join(d, 'out-cuda'), '--device', 'cuda']);
      expect(noGpu.code).toBe(1);
      expect(noGpu.stderr).toMatch(/ERR_DEVICE|CUDA/);
      expect(fs.existsSync(path.join(d, 'out-cuda', 'checkpoint-000001'))).toBe(false);
    }
    const bad = path.join(d, 'bad.jsonl');
    fs.writeFileSync(bad, JSON.stringify({ prompt: [1], chosen: [2], rejected: [3] }) + '\n{"prompt": [1]}\n');
    const r = await cli(['train', 'noiseboost', '--model', model, '--data', bad, '--out', out, '--steps', '2', '--batch-size', '1']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/bad\.jsonl:2: expected 'chosen'/);
    const skip = await cli(['train', 'noiseboost', '--model', model, '--data', bad, '--out', out, '--steps', '2', '--batch-size', '1', '--on-bad-record', 'skip']);
    expect(skip.code).toBe(0);
    expect(skip.stderr).toMatch(/skipped 1 bad record\(s\)/);
    const deemNo = await cli(['train', 'deem', '--model', model]);
    expect(deemNo.code).toBe(2);
    expect(deemNo.stderr).toMatch(/expected --denoiser MODULE\.js/);
    expect((await cli(['generate', '--recipe', 'vcd'])).code).toBe(2);
    const g = await cli(['generate', '--help']);
    expect(g.code).toBe(0);
    expect(g.stdout).toMatch(/^usage: mmpref generate/);
  });
});

describe('mmpref generate / train bdhs', () => {
  it('generate --recipe bdhs|bpo writes each record with a rejected answer; train bdhs|bpo trains', async () => {
    const { d, model, out } = setup();
    const sft = path.join(d, 'sft.jsonl');
    fs.writeFileSync(sft, [[1, 2, 3], [4, 5, 6]].map((p, i) => JSON.stringify({ id: i, prompt: p, chosen: [p[2]! + 1, p[2]! + 2] })).join('\n') + '\n');
    const file = path.join(d, 'rejected.jsonl');
    const r = await cli(['generate', '--recipe', 'bdhs', '--model', model, '--data', sft, '--out', file, '--max-tries', '2']);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/wrote 2 record\(s\)/);
    const recs = fs.readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(recs.map((x) => x.id)).toEqual([0, 1]); // the original fields are kept
    for (const x of recs) expect(x.rejected).toHaveLength(2);
    const t = await cli(['train', 'bdhs', '--model', model, '--data', sft, '--out', out, '--steps', '3', '--batch-size', '2', '--max-tries', '2']);
    expect(t.code).toBe(0);
    expect(t.stderr).toMatch(/step 3\/3/);
    expect(fs.existsSync(path.join(out, 'checkpoint-000003', 'adapter_model.safetensors'))).toBe(true);
    const bfile = path.join(d, 'bpo.jsonl');
    const b = await cli(['generate', '--recipe', 'bpo', '--model', model, '--data', sft, '--out', bfile]);
    expect(b.code).toBe(0);
    expect(fs.readFileSync(bfile, 'utf8').trim().split('\n').map((l) => JSON.parse(l).rejected.length)).toEqual([2, 2]);
    const out2 = path.join(d, 'out-bpo');
    const tb = await cli(['train', 'bpo', '--model', model, '--data', sft, '--out', out2, '--steps', '2', '--batch-size', '2']);
    expect(tb.code).toBe(0);
    expect(JSON.parse(fs.readFileSync(path.join(out2, 'checkpoint-000002', 'adapter_config.json'), 'utf8'))).toMatchObject({ r: 32, lora_alpha: 256 });
  });
});

describe('mmpref train deem', () => {
  const TINY = path.join(__dirname, '..', 'dist', 'lib', 'recipes', 'deem_example.js');
  const NV = 4, DV = 8;
  function deemData(): { d: string; data: string; out: string } {
    const d = fs.mkdtempSync(path.join(os.tmpdir(), 'mmpref-cli-deem-'));
    const data = path.join(d, 'deem.jsonl');
    // structured image features inline: 4 sinusoid patterns (records i and i + 4 share one)
    const rows = (i: number) => Array.from({ length: NV }, (_, r) => Array.from({ length: DV }, (_, j) => Math.sin(((i % 4) + 1) * j * 0.7 + r)));
    fs.writeFileSync(data, Array.from({ length: 8 }, (_, i) => JSON.stringify({ image: rows(i) })).join('\n') + '\n');
    return { d, data, out: path.join(d, 'out') };
  }

  it('trains the shipped tiny denoiser: metrics, plot, checkpoints, the loss falls; --resume continues', async () => {
    const { data, out } = deemData();
    const base = ['train', 'deem', '--denoiser', TINY, '--data', data, '--out', out, '--lr', '0.01', '--seed', '2'];
    const r = await cli([...base, '--steps', '30', '--save-every', '15']);
    expect(r.stderr).toMatch(/step 30\/30 {2}loss \d\.\d{4} {2}[\d.]+ samples\/s/);
    expect(r.code).toBe(0);
    expect(fs.readdirSync(out).sort()).toEqual(['checkpoint-000015', 'checkpoint-000030', 'metrics.jsonl', 'metrics.svg']);
    expect(fs.readdirSync(path.join(out, 'checkpoint-000030')).sort()).toEqual(['deem_model.safetensors', 'deem_optimizer.safetensors', 'trainer_state.json']);
    const m = fs.readFileSync(path.join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(m.map((e) => e.step)).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
    const mean = (a: { loss: number }[]) => a.reduce((s, e) => s + e.loss, 0) / a.length;
    expect(mean(m.slice(-5))).toBeLessThan(mean(m.slice(0, 5)) * 0.6);
    expect(fs.readFileSync(path.join(out, 'metrics.svg'), 'utf8')).toMatch(/^<svg[^]*noise-prediction loss/);
    const again = await cli([...base, '--steps', '32', '--resume']);
    expect(again.code).toBe(0);
    expect(again.stderr).not.toMatch(/step 30\/32/);
    expect(again.stderr).toMatch(/step 31\/32[^]*step 32\/32/);
    expect(JSON.parse(fs.readFileSync(path.join(out, 'checkpoint-000032', 'trainer_state.json'), 'utf8'))).toMatchObject({ step: 32, position: 128, kind: 'deem' });
  });

  it('loads a user module file; SIGINT saves a checkpoint (130); bad --denoiser and flags', async () => {
    const { d, data, out } = deemData();
    // a user module: a denoiser that predicts zeros, made with mmpref's tensor only
    const user = path.join(d, 'zero-denoiser.js');
    fs.writeFileSync(user, `const fs = require('node:fs'); const path = require('node:path');
const { tensor } = require(${JSON.stringify(path.join(__dirname, '..', 'dist', 'lib'))});
exports.createDeem = (o) => ({
  denoiser: (xt) => tensor(new Float32Array(xt.numel), xt.shape),
  backward: () => {},
  step: () => {},
  save: (dir) => fs.writeFileSync(path.join(dir, 'user.json'), JSON.stringify(o)),
  load: () => {},
});\n`);
    const r = await cli(['train', 'deem', '--denoiser', user, '--data', data, '--out', out, '--steps', '2', '--seed', '7', '--batch-size', '2']);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/step 2\/2 {2}loss 0\.\d{4}/); // zero prediction: the loss is the noise's mean square
    expect(JSON.parse(fs.readFileSync(path.join(out, 'checkpoint-000002', 'user.json'), 'utf8'))).toEqual({ seed: 7 });
    const out2 = path.join(d, 'out-sigint');
    const child = spawn(process.execPath, [CLI, 'train', 'deem', '--denoiser', TINY, '--data', data, '--out', out2, '--steps', '10000000']);
    let err = '';
    let sent = false;
    const code = await new Promise<number | null>((resolve) => {
      child.stderr.on('data', (b: Buffer) => {
        err += b.toString();
        if (!sent && /step 2\//.test(err)) sent = child.kill('SIGINT');
      });
      child.on('exit', (c) => resolve(c));
    });
    expect(err).toMatch(/interrupted at step \d+; resume with --resume/);
    expect(code).toBe(130);
    expect(fs.readdirSync(out2).filter((f) => f.startsWith('checkpoint-'))).toHaveLength(1);
    const noFactory = path.join(d, 'empty.js');
    fs.writeFileSync(noFactory, 'exports.other = 1;\n');
    const bad = await cli(['train', 'deem', '--denoiser', noFactory, '--data', data, '--out', out]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/expected .*empty\.js to export createDeem\(options\)/);
    const missing = await cli(['train', 'deem', '--denoiser', path.join(d, 'nope.js'), '--data', data, '--out', out]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/could not load .*nope\.js/);
    expect((await cli(['train', 'deem', '--denoiser', TINY, '--data', data, '--out', out, '--model', d])).stderr).toMatch(/expected no --model/);
    expect((await cli(['train', 'deem', '--denoiser', TINY, '--data', data])).code).toBe(2);
    expect((await cli(['train', 'deem', '--denoiser', TINY, '--data', data, '--out', out, '--stage', 'sft'])).code).toBe(2);
    expect((await cli(['train', 'noiseboost', '--denoiser', TINY, '--model', d, '--data', data, '--out', out])).code).toBe(2);
    const help = await cli(['train', '--help']);
    expect(help.stdout).toMatch(/mmpref train deem --denoiser FILE --data FILE --out DIR/);
  });
});

describe('mmpref train: --lr-schedule, --warmup, --full', () => {
  it('cosine with a warmup ratio, full fine-tuning: lr per step, whole-model checkpoints, --resume; usage errors', async () => {
    const { model, data, out } = setup();
    const base = ['train', 'noiseboost', '--model', model, '--data', data, '--out', out, '--lr', '0.02', '--beta', '0.5', '--lr-schedule', 'cosine', '--warmup', '0.5', '--full'];
    const r = await cli([...base, '--steps', '4', '--save-every', '2']);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/done: 4 steps, model in .*checkpoint-000004/);
    const m = fs.readFileSync(path.join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    // warmup ceil(0.5 x 4) = 2 steps: 0, lr / 2, then cosine from lr: lr, lr (1 + cos(pi / 2)) / 2
    expect(m.map((e) => e.lr)).toEqual([0, 0.01, 0.02, 0.01]);
    expect(m[0].loss).toBeCloseTo(Math.log(2), 6); // the frozen reference equals the policy at step 1
    expect(fs.readdirSync(path.join(out, 'checkpoint-000004')).sort()).toEqual(['config.json', 'model.safetensors', 'optimizer.safetensors', 'trainer_state.json']);
    expect(JSON.parse(fs.readFileSync(path.join(out, 'checkpoint-000004', 'trainer_state.json'), 'utf8'))).toMatchObject({ full: true, lrSchedule: { type: 'cosine', warmupSteps: 2 } });
    const again = await cli([...base, '--steps', '5', '--resume']);
    expect(again.code).toBe(0);
    expect(again.stderr).toMatch(/step 5\/5/);
    expect(fs.existsSync(path.join(out, 'checkpoint-000005', 'model.safetensors'))).toBe(true);
    const help = await cli(['train', '--help']);
    expect(help.stdout).toMatch(/--lr-schedule constant\|constant_with_warmup\|linear\|cosine[^]*--warmup X[^]*--full/);
    for (const bad of [['--lr-schedule', 'step'], ['--warmup', '0.1'], ['--lr-schedule', 'linear', '--warmup', '2.5'], ['--lr-schedule', 'linear', '--warmup', '-1']]) {
      const b = await cli(['train', 'noiseboost', '--model', model, '--data', data, '--out', out, ...bad]);
      expect(b.code, bad.join(' ')).toBe(2);
    }
  });
});

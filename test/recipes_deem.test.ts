/**
 * DEEM: recipes.deemStep (mmpref noises x0, calls the user's denoiser, computes the noise-prediction
 * loss and hands its gradient to the user's backward), recipes.deem (the training loop over a
 * user's DeemModule: events, checkpoints, metrics, abort, bit-exact resume) and the tiny denoiser
 * recipes.createTinyDeem (forward and gradients against a float64 reference and its central finite
 * differences; it learns on features with structure).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { recipes, tensor, type DeemModule, type DeemStepEvent, type PreferenceRecord, type Tensor } from '../lib';
import { assertClose, expectError, expectRejection, randomArray, rng } from './helpers';
import { tinyDeemRef, type TinyParams } from './reference/deem_tiny';

const NV = 4, DV = 8;
// structured features: 4 distinct sinusoid patterns (records i and i + 4 share one)
const records: PreferenceRecord[] = Array.from({ length: 8 }, (_, i) => ({
  prompt: [1],
  chosen: [2],
  line: i + 1,
  image: { features: Float32Array.from({ length: NV * DV }, (_, j) => Math.sin(((i % 4) + 1) * (j % DV) * 0.7 + Math.floor(j / DV))), shape: [NV, DV] as [number, number] },
}));
const tiny = () => recipes.createTinyDeem({ seed: 1, hidden: 32, cond: 8, timeDim: 8 });
const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'mmpref-deem-'));
const mean = (a: number[]) => a.reduce((s, v) => s + v, 0) / a.length;

describe('recipes.deemStep', () => {
  it('trains a user denoiser through the gradient it hands back', async () => {
    const x0 = tensor(Float32Array.from({ length: 4 * 32 }, (_, i) => Math.sin(i)), [4, 32]);
    let w = 0;
    let lastX: Float32Array = new Float32Array();
    const losses: number[] = [];
    for (let step = 0; step < 20; step++) {
      const r = await recipes.deemStep({
        x0,
        seed: 3,
        step,
        t: 900,
        denoiser: (xt) => {
          lastX = Float32Array.from(xt.toFloat32Array());
          return tensor(lastX.map((v) => w * v), xt.shape);
        },
        backward: (g: Tensor) => {
          const gv = g.toFloat32Array();
          w -= 0.5 * gv.reduce((s, v, i) => s + v * lastX[i]!, 0); // d loss / dw = sum(g * xt)
        },
      });
      expect(r.t).toEqual(Int32Array.from([900, 900, 900, 900]));
      expect(r.perSample).toHaveLength(4);
      losses.push(r.loss);
    }
    expect(losses[0]).toBeGreaterThan(0.5); // w = 0 predicts nothing: the loss is the noise's mean square, ~1
    expect(losses[19]!).toBeLessThan(losses[0]! * 0.5);
    expect(w).toBeGreaterThan(0.5); // at t = 900 x_t is mostly noise
  });

  it('draws t per sample from the seed and step; bad use is typed', async () => {
    const x0 = tensor(new Float32Array(3 * 4), [3, 4]);
    const run = (step: number) => recipes.deemStep({ x0, seed: 1, step, denoiser: (xt) => xt, backward: () => {} });
    const a = await run(0), b = await run(0), c = await run(1);
    expect(a.t).toEqual(b.t);
    expect(a.t).not.toEqual(c.t);
    for (const v of a.t) expect(v >= 0 && v < 1000).toBe(true);
    await expect(recipes.deemStep({ x0, denoiser: 1 as never, backward: () => {} })).rejects.toMatchObject({ code: 'ERR_ARGUMENT' });
  });
});

describe('recipes.createTinyDeem', () => {
  it('forward and gradients match a float64 reference and its central finite differences', () => {
    const dims = { D: 5, H: 7, C: 4, E: 6 };
    const B = 2, nv = 3;
    for (const approximate of ['none', 'tanh'] as const) {
      const m = recipes.createTinyDeem({ dim: dims.D, hidden: dims.H, cond: dims.C, timeDim: dims.E, seed: 4, approximate });
      const r = rng(approximate === 'none' ? 11 : 12);
      // non-zero biases so their gradients and the bias paths are exercised
      for (const [n, p] of m.params) if (n.endsWith('bias')) (p.data as Float32Array).set(Float32Array.from(randomArray(p.numel, r, 0.3)));
      const xt = Float32Array.from(randomArray(B * nv * dims.D, r));
      const x0 = Float32Array.from(randomArray(B * nv * dims.D, r));
      const dy = Float32Array.from(randomArray(B * nv * dims.D, r));
      const t = Int32Array.from([3, 700]);
      const x0t = tensor(x0, [B, nv, dims.D]);
      const eps = m.denoiser(tensor(xt, [B, nv, dims.D]), t, { x0: x0t, records: [] });
      const p64: TinyParams = Object.fromEntries([...m.params].map(([n, p]) => [n, Float64Array.from(p.toFloat32Array())]));
      assertClose(eps.toFloat32Array(), tinyDeemRef(p64, xt, x0, t, nv, dims, approximate === 'tanh'), { rtol: 1e-5, atol: 1e-5, name: `epsPred (${approximate})` });
      m.backward(tensor(dy, [B, nv, dims.D]), { x0: x0t, records: [] });
      expect([...m.grads.keys()].sort()).toEqual([...m.params.keys()].sort());
      // L(params) = sum(dy * epsPred): central differences of the float64 reference, every element
      const L = (p: TinyParams) => tinyDeemRef(p, xt, x0, t, nv, dims, approximate === 'tanh').reduce((s, v, i) => s + v * dy[i]!, 0);
      for (const [n, g] of m.grads) {
        const fd = Float64Array.from(p64[n]!, (_, i) => {
          const v = p64[n]![i]!, h = 1e-6;
          p64[n]![i] = v + h;
          const up = L(p64);
          p64[n]![i] = v - h;
          const down = L(p64);
          p64[n]![i] = v;
          return (up - down) / (2 * h);
        });
        assertClose(g.toFloat32Array(), fd, { rtol: 1e-3, atol: 1e-4, name: `d/d ${n} (${approximate})` });
      }
      expect(Math.max(...[...m.grads.get('adapter.weight')!.toFloat32Array()].map(Math.abs))).toBeGreaterThan(1e-3); // the feedback reaches the encoder adapter
      m.dispose();
    }
  });
});

describe('recipes.deem', () => {
  it('the noise-prediction loss falls on structured features; events; the adapter is trained', async () => {
    const m = tiny();
    const run = recipes.deem(m, records, { steps: 30, batchSize: 4, lr: 1e-2, seed: 2 });
    const events: DeemStepEvent[] = [];
    run.on('step', (e) => events.push(e));
    let before: Float32Array | undefined;
    run.once('step', () => (before = Float32Array.from(m.params.get('adapter.weight')!.toFloat32Array())));
    const r = await run.result;
    expect(r).toMatchObject({ stopped: 'done', step: 30 });
    expect(r.checkpoint).toBeUndefined();
    expect(events.map((e) => e.step)).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
    expect(events[0]).toMatchObject({ totalSteps: 30, lr: 1e-2 });
    expect(events[0]!.samplesPerSecond).toBeGreaterThan(0);
    expect(events[29]!.etaSeconds).toBe(0);
    const loss = r.history.map((e) => e.loss);
    expect(mean(loss.slice(0, 5))).toBeGreaterThan(0.7); // ~ the noise's mean square at the start
    expect(mean(loss.slice(-5))).toBeLessThan(mean(loss.slice(0, 5)) * 0.5);
    const after = m.params.get('adapter.weight')!.toFloat32Array();
    expect(after.some((v, i) => v !== before![i])).toBe(true);
    m.dispose();
  });

  it('abort saves a checkpoint; resume gives the same losses and weight bytes as an uninterrupted run', async () => {
    const opts = { steps: 7, batchSize: 3, lr: 1e-2, seed: 5, saveEvery: 3 }; // batch 3 of 8 records: epochs wrap mid-batch
    const full = tmp();
    const a = tiny();
    const ra = await recipes.deem(a, records, { ...opts, out: full }).result;
    expect(fs.readdirSync(full).sort()).toEqual(['checkpoint-000003', 'checkpoint-000006', 'checkpoint-000007', 'metrics.jsonl', 'metrics.svg']);
    expect(fs.readdirSync(ra.checkpoint!).sort()).toEqual(['deem_model.safetensors', 'deem_optimizer.safetensors', 'trainer_state.json']);
    expect(JSON.parse(fs.readFileSync(path.join(ra.checkpoint!, 'trainer_state.json'), 'utf8'))).toMatchObject({ step: 7, position: 21, seed: 5, kind: 'deem' });
    expect(fs.readFileSync(path.join(full, 'metrics.svg'), 'utf8')).toMatch(/^<svg[^]*noise-prediction loss/);
    const cut = tmp();
    const ac = new AbortController();
    const first = recipes.deem(tiny(), records, { ...opts, out: cut, signal: ac.signal });
    const ckpts: number[] = [];
    first.on('checkpoint', (e) => ckpts.push(e.step));
    first.on('step', (e) => e.step === 4 && ac.abort());
    const r1 = await first.result;
    expect(r1).toMatchObject({ stopped: 'aborted', step: 4 });
    expect(ckpts).toEqual([3, 4]);
    expect(fs.existsSync(path.join(cut, 'checkpoint-000004', 'deem_model.safetensors'))).toBe(true);
    const r2 = await recipes.deem(recipes.createTinyDeem({ seed: 99, hidden: 32, cond: 8, timeDim: 8 }), records, { ...opts, out: cut, resume: true }).result; // load replaces the fresh weights
    expect(r2).toMatchObject({ stopped: 'done', step: 7 });
    expect(r2.history.map((e) => e.loss)).toEqual(ra.history.map((e) => e.loss));
    for (const f of ['deem_model.safetensors', 'deem_optimizer.safetensors', 'trainer_state.json'])
      expect(fs.readFileSync(path.join(cut, 'checkpoint-000007', f)).equals(fs.readFileSync(path.join(full, 'checkpoint-000007', f)))).toBe(true);
    const steps = (d: string) => fs.readFileSync(path.join(d, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l).step);
    expect(steps(cut)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    const early = new AbortController();
    early.abort();
    const none = tmp();
    expect(await recipes.deem(tiny(), records, { ...opts, out: none, signal: early.signal }).result).toMatchObject({ stopped: 'aborted', step: 0, history: [] });
    expect(fs.readdirSync(none)).toEqual(['metrics.jsonl']); // no step, nothing to save (the tiny module has no weights yet)
    a.dispose();
  });

  it('calls the module in order and owns nothing of it; bad options, modules and data are typed', async () => {
    const calls: string[] = [];
    const mod: DeemModule = {
      denoiser: (xt, t, b) => (calls.push(`denoiser ${b.x0.shape.join('x')} t${t.length}`), tensor(new Float32Array(xt.numel), xt.shape)),
      backward: (g) => void calls.push(`backward ${g.shape.join('x')}`),
      step: (lr, s) => void calls.push(`step ${lr} ${s}`),
    };
    await recipes.deem(mod, records, { steps: 2, batchSize: 2, lr: 0.5 }).result;
    expect(calls).toEqual(['denoiser 2x4x8 t2', 'backward 2x4x8', 'step 0.5 1', 'denoiser 2x4x8 t2', 'backward 2x4x8', 'step 0.5 2']);
    expectError(() => recipes.deem({ denoiser: () => 1 } as never, records, { steps: 1 }), 'ERR_ARGUMENT', /expected a module with functions denoiser, backward, step but received none for backward, step/);
    expectError(() => recipes.deem(null as never, records, { steps: 1 }), 'ERR_ARGUMENT', /but received null/);
    expectError(() => recipes.deem(mod, records, { steps: 1, out: tmp() }), 'ERR_ARGUMENT', /functions denoiser, backward, step, save .*none for save/);
    expectError(() => recipes.deem(mod, records, { steps: 0 }), 'ERR_RANGE');
    expectError(() => recipes.deem(mod, records, { steps: 1, saveEvery: 2 }), 'ERR_ARGUMENT', /expected out/);
    expectError(() => recipes.deem(mod, records, { steps: 1, resume: true } as never), 'ERR_ARGUMENT');
    expectError(() => recipes.deem(mod, records, { steps: 1, schedule: 'nope' as never }), 'ERR_ARGUMENT', /schedule/);
    expectError(() => recipes.deem(mod, records, { steps: 1, bogus: 1 } as never), 'ERR_ARGUMENT', /unknown option 'bogus'/);
    expectError(() => recipes.deem(mod, 5 as never, { steps: 1 }), 'ERR_ARGUMENT', /expected records as an iterable/);
    const noImage = [{ ...records[0]!, image: undefined, line: 9 }];
    await expectRejection(recipes.deem(mod, noImage, { steps: 1, batchSize: 1 }).result, 'ERR_FORMAT', /expected image features in every record but received none \(line 9\)/);
    const odd = [records[0]!, { ...records[1]!, image: { features: new Float32Array(6), shape: [2, 3] as [number, number] } }];
    await expectRejection(recipes.deem(mod, odd, { steps: 1, batchSize: 2 }).result, 'ERR_SHAPE', /expected image features of shape \[4, 8\].*received \[2, 3\] \(line 2\)/);
    await expectRejection(recipes.deem(mod, [], { steps: 1 }).result, 'ERR_ARGUMENT', /at least one record/);
    expectError(() => recipes.createTinyDeem({ timeDim: 5 }), 'ERR_ARGUMENT', /timeDim even/);
    expectError(() => recipes.createTinyDeem({ hidden: 0 }), 'ERR_RANGE');
    const empty = tmp();
    expectError(() => tiny().load(empty), 'ERR_IO');
  });
});

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { models, tensor, type Tensor } from '../lib';
import { llamaForwardRef, loraMergedRef, type RefConfig, type RefWeights } from './reference/llama';
import { safetensorsBytes, writeFileIn } from './reference/safetensors';
import { assertBitEqual, assertClose, expectError, rng } from './helpers';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mmpref-lora-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
let dirs = 0;
const newDir = () => path.join(tmp, `d${dirs++}`);

const TINY = { vocabSize: 61, hiddenSize: 32, intermediateSize: 48, numLayers: 2, numHeads: 4, numKvHeads: 2, qkvBias: true };
const ALL = ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'] as const;
const PROMPT = [5, 17, 3, 60, 2, 9, 11];
const f64 = (t: Tensor) => Float64Array.from(t.toFloat32Array());

function logitsOf(m: models.LlamaModel): Float32Array {
  const x = m.embedTokens(tensor(Int32Array.from(PROMPT), [1, PROMPT.length]));
  return m.forward(x, m.createCache(1, PROMPT.length), { logits: 'all' }).logits.toFloat32Array();
}

/** Gives every lora_B random values (a fresh B is zero, which would hide the adapter path). */
function randomizeB(m: models.LlamaModel, seed: number): void {
  const r = rng(seed);
  for (const [n, t] of m.loraParameters()) if (n.endsWith('lora_B.weight')) (t.data as Float32Array).set(Float32Array.from({ length: t.numel }, () => r() - 0.5));
}

/** The float64 reference with W + scale B A for every adapted projection. */
function refLogits(m: models.LlamaModel, scale: number): Float64Array {
  const c = m.config;
  const cfg: RefConfig = { vocabSize: c.vocabSize, hiddenSize: c.hiddenSize, intermediateSize: c.intermediateSize, numHeads: c.numHeads, numKvHeads: c.numKvHeads, headDim: c.headDim, ropeTheta: c.ropeTheta, rmsNormEps: c.rmsNormEps };
  const lora = new Map(m.loraParameters().map(([n, t]) => [n, t]));
  const key = { wq: 'self_attn.q_proj', wk: 'self_attn.k_proj', wv: 'self_attn.v_proj', wo: 'self_attn.o_proj', wGate: 'mlp.gate_proj', wUp: 'mlp.up_proj', wDown: 'mlp.down_proj' } as const;
  const w: RefWeights = {
    embed: f64(m.embed),
    finalNorm: f64(m.finalNorm),
    lmHead: f64(m.lmHead),
    layers: m.layers.map((L, l) => {
      const out: Record<string, Float64Array> = { attnNorm: f64(L.attnNorm), mlpNorm: f64(L.mlpNorm) };
      for (const b of ['bq', 'bk', 'bv', 'bo'] as const) if (L[b]) out[b] = f64(L[b]!);
      for (const [f, mod] of Object.entries(key)) {
        const W = L[f as keyof typeof key];
        const a = lora.get(`base_model.model.model.layers.${l}.${mod}.lora_A.weight`);
        const b = lora.get(`base_model.model.model.layers.${l}.${mod}.lora_B.weight`);
        out[f] = a && b ? loraMergedRef(f64(W), f64(a), f64(b), W.shape[0]!, W.shape[1]!, a.shape[0]!, scale) : f64(W);
      }
      return out as unknown as RefWeights['layers'][number];
    }),
  };
  const D = c.hiddenSize;
  return Float64Array.from(llamaForwardRef(cfg, w, PROMPT.map((t) => w.embed.slice(t * D, (t + 1) * D)), PROMPT.map((_, i) => i)).flatMap((r) => Array.from(r)));
}
// same bound as test/models.test.ts (float32 forward vs float64 on O(1) logits)
const TOL = { rtol: 1e-4, atol: 1e-5 };

describe('LoRA (PEFT semantics)', () => {
  const base = () => models.LlamaModel.random(TINY, { seed: 3, initStd: 0.2 });
  const baseLogits = logitsOf(base());

  it('a fresh adapter is the base model exactly; A is Kaiming-uniform (|A| <= 1/sqrt(in)) for the seed, B zeros', () => {
    const m = base();
    m.addLora({ rank: 4, alpha: 8, targets: [...ALL], seed: 5 });
    const named = m.loraParameters();
    expect(named.length).toBe(2 * 7 * 2);
    expect(named[0]![0]).toBe('base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight');
    expect(named[1]![0]).toBe('base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight');
    const downA = named.find(([n]) => n === 'base_model.model.model.layers.1.mlp.down_proj.lora_A.weight')![1];
    expect(downA.shape).toEqual([4, 48]);
    const a = downA.toFloat32Array();
    expect(Math.max(...a.map(Math.abs))).toBeLessThanOrEqual(1 / Math.sqrt(48));
    expect(Math.max(...a.map(Math.abs))).toBeGreaterThan(0.8 / Math.sqrt(48));
    for (const [n, t] of named) if (n.includes('lora_B')) expect(t.toFloat32Array().every((v) => v === 0)).toBe(true);
    assertBitEqual(logitsOf(m), baseLogits, 'fresh adapter');
    const again = base();
    again.addLora({ rank: 4, alpha: 8, targets: [...ALL], seed: 5 });
    assertBitEqual(again.loraParameters()[0]![1].toFloat32Array(), named[0]![1].toFloat32Array(), 'same seed');
  });

  it('unmerged forward == float64 reference with W + (alpha/r) B A; adapters off == base bits; merged == unmerged', () => {
    const m = base();
    m.addLora({ rank: 4, alpha: 8, targets: [...ALL], seed: 1 });
    randomizeB(m, 2);
    const on = logitsOf(m);
    const ref = refLogits(m, 8 / 4);
    assertClose(on, ref, { ...TOL, name: 'unmerged' });
    expect(Math.max(...on.map((v, i) => Math.abs(v - baseLogits[i]!)))).toBeGreaterThan(0.05); // the adapter matters
    m.setAdaptersEnabled(false);
    expect(m.adaptersEnabled).toBe(false);
    assertBitEqual(logitsOf(m), baseLogits, 'adapters off');
    m.setAdaptersEnabled(true);
    assertBitEqual(logitsOf(m), on, 'adapters back on');
    m.mergeAdapters();
    expect(m.loraParameters()).toEqual([]);
    const merged = logitsOf(m);
    // merged and unmerged each lie within TOL of the same float64 reference, so of each other within 2 TOL
    assertClose(merged, ref, { ...TOL, name: 'merged vs reference' });
    assertClose(merged, Float64Array.from(on), { rtol: 2 * TOL.rtol, atol: 2 * TOL.atol, name: 'merged vs unmerged' });
  });

  it('useRslora scales by alpha / sqrt(r)', () => {
    const m = base();
    m.addLora({ rank: 4, alpha: 3, targets: ['q_proj', 'down_proj'], seed: 1, useRslora: true });
    randomizeB(m, 4);
    assertClose(logitsOf(m), refLogits(m, 3 / 2), TOL);
  });

  it('saveAdapters writes PEFT files; loadAdapters reads them back bit for bit', () => {
    const m = base();
    m.addLora({ rank: 2, alpha: 16, targets: ['v_proj', 'q_proj', 'up_proj'], seed: 9 });
    randomizeB(m, 6);
    const dir = newDir();
    m.saveAdapters(dir, { baseModelNameOrPath: 'tiny' });
    const cfg = JSON.parse(fs.readFileSync(path.join(dir, 'adapter_config.json'), 'utf8'));
    expect(cfg).toMatchObject({ peft_type: 'LORA', task_type: 'CAUSAL_LM', r: 2, lora_alpha: 16, target_modules: ['q_proj', 'v_proj', 'up_proj'], bias: 'none', use_rslora: false, fan_in_fan_out: false, base_model_name_or_path: 'tiny' });
    const h = models.readSafetensorsHeader(path.join(dir, 'adapter_model.safetensors'));
    expect([...h.tensors.keys()]).toEqual(m.loraParameters().map(([n]) => n));
    const other = base();
    other.loadAdapters(dir);
    expect(other.loraConfig).toEqual({ rank: 2, alpha: 16, targets: ['q_proj', 'v_proj', 'up_proj'], useRslora: false });
    other.loraParameters().forEach(([n, t], i) => {
      expect(n).toBe(m.loraParameters()[i]![0]);
      assertBitEqual(t.toFloat32Array(), m.loraParameters()[i]![1].toFloat32Array(), n);
    });
    assertBitEqual(logitsOf(other), logitsOf(m), 'logits after loadAdapters');
  });

  it('adapter files written by the test (PEFT layout) load; bad ones give typed errors naming the key', () => {
    const m = base();
    const r = rng(8);
    const mk = (name: string, shape: number[]) => ({ name, dtype: 'F32' as const, shape, values: Float64Array.from({ length: shape[0]! * shape[1]! }, () => Math.fround(r() - 0.5)) });
    const ts = [0, 1].flatMap((l) => [mk(`base_model.model.model.layers.${l}.self_attn.k_proj.lora_A.weight`, [3, 32]), mk(`base_model.model.model.layers.${l}.self_attn.k_proj.lora_B.weight`, [16, 3])]);
    const cfg = { peft_type: 'LORA', r: 3, lora_alpha: 6, target_modules: ['k_proj'], lora_dropout: 0.05, bias: 'none', task_type: 'CAUSAL_LM' };
    const write = (c: object, t = ts) => {
      const dir = newDir();
      writeFileIn(dir, 'adapter_config.json', JSON.stringify(c));
      writeFileIn(dir, 'adapter_model.safetensors', safetensorsBytes(t));
      return dir;
    };
    m.loadAdapters(write(cfg));
    expect(Array.from(m.loraParameters()[3]![1].toFloat32Array())).toEqual(Array.from(ts[3]!.values));
    assertClose(logitsOf(m), refLogits(m, 2), TOL);
    const before = m.loraParameters();
    expectError(() => m.loadAdapters(write({ ...cfg, peft_type: 'IA3' })), 'ERR_FORMAT', /peft_type: expected "LORA"/);
    expectError(() => m.loadAdapters(write({ ...cfg, use_dora: true })), 'ERR_FORMAT', /use_dora: expected false/);
    expectError(() => m.loadAdapters(write({ ...cfg, target_modules: ['lm_head'] })), 'ERR_FORMAT', /target_modules/);
    expectError(() => m.loadAdapters(write({ ...cfg, r: 0 })), 'ERR_FORMAT', /\br: expected a positive integer/);
    expectError(() => m.loadAdapters(write(cfg, ts.slice(1))), 'ERR_FORMAT', /expected the tensor 'base_model\.model\.model\.layers\.0\.self_attn\.k_proj\.lora_A\.weight'/);
    expectError(() => m.loadAdapters(write(cfg, [...ts, mk('base_model.model.lm_head.lora_A.weight', [3, 32])])), 'ERR_FORMAT', /unexpected tensor 'base_model\.model\.lm_head\.lora_A\.weight'/);
    expectError(() => m.loadAdapters(write({ ...cfg, r: 4 })), 'ERR_SHAPE', /lora_A\.weight' of shape \[4, 32\] but received \[3, 32\]/);
    expectError(() => m.loadAdapters(newDir()), 'ERR_IO', /adapter_config\.json/);
    // nothing replaced by a failed load
    expect(m.loraParameters()).toEqual(before);
  });

  it('rejects bad options and adapter calls without adapters', () => {
    const m = base();
    expectError(() => m.addLora({ rank: 0 }), 'ERR_RANGE', /rank/);
    expectError(() => m.addLora({ rank: 2, targets: ['lm_head' as never] }), 'ERR_ARGUMENT', /targets/);
    expectError(() => m.addLora({ rank: 2, bogus: 1 } as never), 'ERR_ARGUMENT', /bogus/);
    expectError(() => m.mergeAdapters(), 'ERR_ARGUMENT', /expected adapters/);
    expectError(() => m.saveAdapters(newDir()), 'ERR_ARGUMENT', /expected adapters/);
  });
});

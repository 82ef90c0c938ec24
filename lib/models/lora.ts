/**
 * LoRA as PEFT does it (peft/tuners/lora/layer.py, PEFT 0.21):
 *   y = x W^T (+ b) + scale * (x A^T) B^T,  scale = alpha / r  (use_rslora: alpha / sqrt(r)),
 *   A [r, in] ~ Kaiming-uniform(a = sqrt(5)) = U(-1/sqrt(in), 1/sqrt(in)),  B [out, r] = 0.
 * Adapters sit on the projections named by `targets` in every decoder layer; they have the model's
 * dtype and device (ops.linear takes one dtype). Files (PEFT save_pretrained): adapter_config.json
 * and adapter_model.safetensors with keys base_model.model.<module>.lora_A.weight / .lora_B.weight.
 * Dropout is not applied (lora_dropout 0 is written); PEFT options mmpref does not implement
 * (DoRA, bias, fan_in_fan_out, rank/alpha patterns, layers_to_transform, modules_to_save) are
 * rejected on load with a typed error naming the key.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fail } from '../errors';
import type { FloatDType } from '../dtype';
import { add } from '../ops/add';
import { linear } from '../ops/linear';
import { permute } from '../ops/permute';
import { uniform } from '../ops/random_fill';
import { deviceOf, zeros, type Tensor } from '../tensor';
import { boolOpt, checkOptions, numberOpt } from '../validate';
import { saveSafetensors } from '../io/safetensors';
import { openSafetensorsDir, readDirTensors } from '../io/sharded';
import type { LlamaModel } from './llama';

export const LORA_TARGETS = ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'] as const;
export type LoraTarget = (typeof LORA_TARGETS)[number];

export interface LoraOptions {
  /** Rank r, a positive integer. */
  rank: number;
  /** Scale numerator alpha (default = rank, scale 1); finite. */
  alpha?: number;
  /** Projections to adapt, PEFT's target_modules names: q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj (default q_proj and v_proj, as PEFT for LLaMA). */
  targets?: readonly LoraTarget[];
  /** Seed of the A initialisation (default 0). */
  seed?: number;
  /** scale = alpha / sqrt(r) instead of alpha / r (default false). */
  useRslora?: boolean;
}

interface Adapter {
  a: Tensor<FloatDType>;
  b: Tensor<FloatDType>;
}

const SUBMODULE: Record<LoraTarget, string> = {
  q_proj: 'self_attn.q_proj', k_proj: 'self_attn.k_proj', v_proj: 'self_attn.v_proj', o_proj: 'self_attn.o_proj',
  gate_proj: 'mlp.gate_proj', up_proj: 'mlp.up_proj', down_proj: 'mlp.down_proj',
};

/** [out, in] of a target's base weight. */
function dims(m: LlamaModel, t: LoraTarget): [number, number] {
  const { hiddenSize: D, intermediateSize: I, numHeads: H, numKvHeads: Hkv, headDim: d } = m.config;
  return { q_proj: [H * d, D], k_proj: [Hkv * d, D], v_proj: [Hkv * d, D], o_proj: [D, H * d], gate_proj: [I, D], up_proj: [I, D], down_proj: [D, I] }[t] as [number, number];
}

const WEIGHT: Record<LoraTarget, 'wq' | 'wk' | 'wv' | 'wo' | 'wGate' | 'wUp' | 'wDown'> = {
  q_proj: 'wq', k_proj: 'wk', v_proj: 'wv', o_proj: 'wo', gate_proj: 'wGate', up_proj: 'wUp', down_proj: 'wDown',
};

export class LoraState {
  readonly settings: Required<Omit<LoraOptions, 'seed'>>;
  readonly scale: number;
  /** adapters[layer].get(target) */
  readonly adapters: Map<LoraTarget, Adapter>[];

  private constructor(settings: Required<Omit<LoraOptions, 'seed'>>, adapters: Map<LoraTarget, Adapter>[]) {
    this.settings = settings;
    this.adapters = adapters;
    this.scale = settings.useRslora ? settings.alpha / Math.sqrt(settings.rank) : settings.alpha / settings.rank;
  }

  static settingsOf(op: string, options: LoraOptions): Required<Omit<LoraOptions, 'seed'>> & { seed: number } {
    const o = checkOptions(op, options, ['rank', 'alpha', 'targets', 'seed', 'useRslora']);
    if (o === undefined || o.rank === undefined) fail('ERR_ARGUMENT', op, 'expected { rank, ... } but received no rank');
    const rank = numberOpt(op, 'rank', o.rank, 0, { integer: true, min: 1 });
    const alpha = numberOpt(op, 'alpha', o.alpha, rank, {});
    const targets = o.targets ?? ['q_proj', 'v_proj'];
    if (!Array.isArray(targets) || targets.length === 0 || targets.some((t) => !(LORA_TARGETS as readonly string[]).includes(t)))
      fail('ERR_ARGUMENT', op, `expected targets, a non-empty list of ${LORA_TARGETS.join(', ')}, but received ${JSON.stringify(targets)}`);
    const uniq = LORA_TARGETS.filter((t) => targets.includes(t));
    return { rank, alpha, targets: uniq, seed: numberOpt(op, 'seed', o.seed, 0, { integer: true, min: 0 }), useRslora: boolOpt(op, 'useRslora', o.useRslora, false) };
  }

  static create(m: LlamaModel, options: LoraOptions): LoraState {
    const op = 'LlamaModel.addLora';
    const s = LoraState.settingsOf(op, options);
    const r = s.rank;
    const adapters: Map<LoraTarget, Adapter>[] = [];
    let stream = 0;
    try {
      for (let l = 0; l < m.config.numLayers; l++) {
        const per = new Map<LoraTarget, Adapter>();
        adapters.push(per);
        for (const t of s.targets) {
          const [out, inp] = dims(m, t);
          // Kaiming-uniform with a = sqrt(5): gain sqrt(2 / (1 + 5)), bound gain * sqrt(3 / in) = 1 / sqrt(in)
          const bound = 1 / Math.sqrt(inp);
          const a = uniform([r, inp], { seed: s.seed, offset: stream++, low: -bound, high: bound, dtype: m.dtype, device: deviceOf(m.embed) });
          per.set(t, { a, b: zeros([out, r], m.dtype, { device: deviceOf(m.embed) }) });
        }
      }
    } catch (e) {
      for (const per of adapters) for (const x of per.values()) (x.a.dispose(), x.b.dispose());
      throw e;
    }
    const { seed: _seed, ...settings } = s;
    return new LoraState(settings, adapters);
  }

  /** PEFT names, in the order PEFT lists them (layer, module, A then B). */
  named(prefix: string): [string, Tensor<FloatDType>][] {
    const out: [string, Tensor<FloatDType>][] = [];
    this.adapters.forEach((per, l) => {
      for (const t of LORA_TARGETS) {
        const x = per.get(t);
        if (!x) continue;
        const base = `base_model.model.${prefix}layers.${l}.${SUBMODULE[t]}`;
        out.push([`${base}.lora_A.weight`, x.a], [`${base}.lora_B.weight`, x.b]);
      }
    });
    return out;
  }

  /** W += scale * B A for every adapter (B A = linear(B, A^T)). */
  mergeInto(m: LlamaModel): void {
    this.adapters.forEach((per, l) => {
      for (const [t, x] of per) {
        const at = permute(x.a, [1, 0]);
        const ba = linear(x.b, at);
        const w = m.layers[l]![WEIGHT[t]];
        add(w, ba, { alpha: this.scale, out: w });
        at.dispose();
        ba.dispose();
      }
    });
  }

  save(dir: string, prefix: string, base: string | null): void {
    fs.mkdirSync(dir, { recursive: true });
    saveSafetensors(path.join(dir, 'adapter_model.safetensors'), this.named(prefix));
    const s = this.settings;
    const cfg = {
      peft_type: 'LORA',
      task_type: 'CAUSAL_LM',
      base_model_name_or_path: base,
      r: s.rank,
      lora_alpha: s.alpha,
      target_modules: [...s.targets],
      lora_dropout: 0,
      bias: 'none',
      fan_in_fan_out: false,
      use_rslora: s.useRslora,
      use_dora: false,
      init_lora_weights: true,
      inference_mode: true,
      modules_to_save: null,
      layers_to_transform: null,
      layers_pattern: null,
      rank_pattern: {},
      alpha_pattern: {},
    };
    fs.writeFileSync(path.join(dir, 'adapter_config.json'), JSON.stringify(cfg, null, 2) + '\n');
  }

  static load(m: LlamaModel, dir: string): LoraState {
    const op = 'LlamaModel.loadAdapters';
    const file = path.join(dir, 'adapter_config.json');
    let raw: Record<string, unknown>;
    try {
      raw = JSON.parse(fs.readFileSync(file, 'utf8'));
    } catch (e) {
      return fail((e as NodeJS.ErrnoException).code ? 'ERR_IO' : 'ERR_FORMAT', op, `${file}: could not read a JSON config: ${(e as Error).message}`);
    }
    const bad = (k: string, msg: string): never => fail('ERR_FORMAT', op, `${file}: ${k}: ${msg}`);
    if (typeof raw !== 'object' || raw === null) bad('(root)', 'expected a JSON object');
    if (raw.peft_type !== 'LORA') bad('peft_type', `expected "LORA" but received ${JSON.stringify(raw.peft_type)}`);
    const r = raw.r;
    if (typeof r !== 'number' || !Number.isSafeInteger(r) || r < 1) bad('r', `expected a positive integer but received ${JSON.stringify(r)}`);
    const alpha = raw.lora_alpha ?? 8;
    if (typeof alpha !== 'number' || !Number.isFinite(alpha)) bad('lora_alpha', `expected a number but received ${JSON.stringify(alpha)}`);
    const tm = raw.target_modules;
    if (!Array.isArray(tm) || tm.some((t) => !(LORA_TARGETS as readonly unknown[]).includes(t)))
      bad('target_modules', `expected a list of ${LORA_TARGETS.join(', ')} but received ${JSON.stringify(tm)}`);
    const unsupported: [string, (v: unknown) => boolean, string][] = [
      ['use_dora', (v) => v === undefined || v === false, 'false'],
      ['bias', (v) => v === undefined || v === 'none', '"none"'],
      ['fan_in_fan_out', (v) => v === undefined || v === false, 'false'],
      ['use_rslora', (v) => v === undefined || typeof v === 'boolean', 'a boolean'],
      ['rank_pattern', (v) => v === undefined || v === null || (typeof v === 'object' && Object.keys(v as object).length === 0), '{}'],
      ['alpha_pattern', (v) => v === undefined || v === null || (typeof v === 'object' && Object.keys(v as object).length === 0), '{}'],
      ['layers_to_transform', (v) => v === undefined || v === null, 'null'],
      ['modules_to_save', (v) => v === undefined || v === null || (Array.isArray(v) && v.length === 0), 'null'],
    ];
    for (const [k, ok, want] of unsupported) if (!ok(raw[k])) bad(k, `expected ${want} (other values are not implemented) but received ${JSON.stringify(raw[k])}`);
    const settings = { rank: r as number, alpha: alpha as number, targets: LORA_TARGETS.filter((t) => (tm as unknown[]).includes(t)), useRslora: raw.use_rslora === true };
    const entries = openSafetensorsDir(dir, 'adapter_model', op);
    // expected keys: every layer x target, A [r, in], B [out, r]
    const items: { name: string; shape: number[]; layer: number; t: LoraTarget; ab: 'a' | 'b' }[] = [];
    for (let l = 0; l < m.config.numLayers; l++)
      for (const t of settings.targets) {
        const [out, inp] = dims(m, t);
        const base = `base_model.model.${m._prefix}layers.${l}.${SUBMODULE[t]}`;
        items.push({ name: `${base}.lora_A.weight`, shape: [settings.rank, inp], layer: l, t, ab: 'a' }, { name: `${base}.lora_B.weight`, shape: [out, settings.rank], layer: l, t, ab: 'b' });
      }
    const wanted = new Set(items.map((i) => i.name));
    for (const [k, e] of entries) if (!wanted.has(k)) fail('ERR_FORMAT', op, `${e.file}: unexpected tensor '${k}' (not an adapter of ${settings.targets.join(', ')} in this model)`);
    for (const it of items) {
      const e = entries.get(it.name);
      if (!e) fail('ERR_FORMAT', op, `${dir}: expected the tensor '${it.name}' but adapter_model.safetensors has none`);
      if (e.shape.length !== 2 || e.shape[0] !== it.shape[0] || e.shape[1] !== it.shape[1])
        fail('ERR_SHAPE', op, `${e.file}: expected '${it.name}' of shape [${it.shape.join(', ')}] but received [${e.shape.join(', ')}]`);
      if (!['F32', 'F16', 'BF16'].includes(e.dtype)) fail('ERR_DTYPE', op, `${e.file}: expected '${it.name}' to be F32, F16 or BF16 but received ${e.dtype}`);
    }
    const device = deviceOf(m.embed);
    const ts = readDirTensors(entries, items.map((i) => ({ name: i.name, dtype: m.dtype })), device, op) as Tensor<FloatDType>[];
    const adapters: Map<LoraTarget, Adapter>[] = Array.from({ length: m.config.numLayers }, () => new Map());
    items.forEach((it, i) => {
      const per = adapters[it.layer]!;
      const x = per.get(it.t) ?? ({} as Adapter);
      x[it.ab] = ts[i]!;
      per.set(it.t, x);
    });
    return new LoraState(settings, adapters);
  }

  dispose(): void {
    for (const per of this.adapters) for (const x of per.values()) (x.a.dispose(), x.b.dispose());
  }
}

/** y += scale * (x A^T) B^T for the adapter on (layer, target), if any. */
export function loraDelta(s: LoraState, layer: number, target: LoraTarget, x: Tensor<FloatDType>, y: Tensor<FloatDType>): void {
  const ad = s.adapters[layer]?.get(target);
  if (!ad) return;
  const xa = linear(x, ad.a);
  const d = linear(xa, ad.b);
  add(y, d, { alpha: s.scale, out: y });
  xa.dispose();
  d.dispose();
}

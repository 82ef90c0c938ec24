/**
 * LlamaModel.load / save: Hugging Face checkpoint directories (config.json + model.safetensors or
 * a sharded index). Key layouts read:
 *   LLaMA / Mistral / Qwen2:    model.embed_tokens.weight, model.layers.{i}...., model.norm.weight, lm_head.weight
 *   LLaVA (hub, llava-1.5):     language_model.model.*, language_model.lm_head.weight, multi_modal_projector.*
 *   LLaVA (transformers >= 4.52): model.language_model.*, model.multi_modal_projector.*, lm_head.weight
 * LLaVA vision tower keys (vision_tower.* / model.vision_tower.*) are skipped: the vision encoder
 * runs outside mmpref. A tied lm_head.weight present in the file is skipped (transformers ties it).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fail } from '../errors';
import { FLOAT_DTYPES, type FloatDType } from '../dtype';
import { parseDevice, type DeviceSpec, type Tensor } from '../tensor';
import { checkOptions, enumOpt, numberOpt } from '../validate';
import { openSafetensorsDir, readDirTensors } from '../io/sharded';
import { saveSafetensorsDir, type LoadProgress } from '../io/safetensors';
import { hfConfigText, modelTypeFor, parseHfConfig } from './hf_config';
import type { HfMeta, LlamaLayer, LlamaModel, LlamaWeights, ResolvedLlamaConfig } from './llama';

export interface LlamaLoadOptions {
  /** Dtype of the loaded weights (default: the checkpoint's config dtype when float32/float16/bfloat16, else float32); tensors are converted on read. */
  dtype?: FloatDType;
  /** 'cpu' (default), 'cuda' or 'cuda:N'. */
  device?: DeviceSpec;
  /** Called after each tensor with the bytes read so far and in all. */
  onProgress?: (p: LoadProgress) => void;
}

export interface LlamaSaveOptions {
  /** Dtype written (default: the model's). */
  dtype?: FloatDType;
  /** Split model.safetensors into shards of at most this many bytes + model.safetensors.index.json (default: one file). */
  maxShardBytes?: number;
}

type Factory = (config: ResolvedLlamaConfig, dtype: FloatDType, device: DeviceSpec, w: LlamaWeights, hf: HfMeta) => LlamaModel;

/** Maps a file key to the name parameters() uses, or null for keys that are skipped (vision tower). */
function canonical(key: string, llava: boolean): string | null {
  if (!llava) return key;
  if (key.startsWith('vision_tower.') || key.startsWith('model.vision_tower.')) return null;
  if (key.startsWith('language_model.model.')) return `model.language_model.${key.slice('language_model.model.'.length)}`;
  if (key === 'language_model.lm_head.weight') return 'lm_head.weight';
  if (key.startsWith('multi_modal_projector.')) return `model.${key}`;
  return key;
}

export function loadCheckpoint(dir: string, options: LlamaLoadOptions, make: Factory): LlamaModel {
  const op = 'LlamaModel.load';
  const o = checkOptions(op, options, ['dtype', 'device', 'onProgress']);
  const device = o.device ?? 'cpu';
  parseDevice(device, op);
  if (o.onProgress !== undefined && typeof o.onProgress !== 'function') fail('ERR_ARGUMENT', op, 'expected onProgress to be a function');
  // 1. config
  const cfgFile = path.join(dir, 'config.json');
  let raw: unknown;
  let source = '';
  try {
    source = fs.readFileSync(cfgFile, 'utf8');
    raw = JSON.parse(source);
  } catch (e) {
    fail((e as NodeJS.ErrnoException).code ? 'ERR_IO' : 'ERR_FORMAT', op, `${cfgFile}: could not read a JSON config: ${(e as Error).message}`);
  }
  const info = parseHfConfig(raw, cfgFile, source);
  const dtype = enumOpt(op, 'dtype', o.dtype, FLOAT_DTYPES, info.dtype ?? 'float32');
  const c = info.config;
  const { vocabSize: V, hiddenSize: D, intermediateSize: I, numHeads: H, numKvHeads: Hkv, headDim: d } = c;
  if (H % Hkv) fail('ERR_FORMAT', op, `${cfgFile}: expected num_attention_heads (${H}) to be a multiple of num_key_value_heads (${Hkv})`);
  if (d % 2 || d > 256) fail('ERR_FORMAT', op, `${cfgFile}: expected an even head_dim of at most 256 but received ${d}`);

  // 2. the expected tensors, in parameters() order
  const llava = info.llava !== undefined;
  const P = llava ? 'model.language_model.' : 'model.';
  const want: [string, number[]][] = [];
  const entries = openSafetensorsDir(dir, 'model', op);
  let dv = 0;
  if (llava) {
    const w1 = [...entries].find(([k]) => canonical(k, true) === 'model.multi_modal_projector.linear_1.weight');
    if (!w1) fail('ERR_FORMAT', op, `${dir}: expected the tensor 'multi_modal_projector.linear_1.weight' (LLaVA) but the checkpoint has none`);
    dv = w1[1].shape[1] ?? 0;
    const pb = info.projectorBias;
    want.push(['model.multi_modal_projector.linear_1.weight', [D, dv]]);
    if (pb) want.push(['model.multi_modal_projector.linear_1.bias', [D]]);
    want.push(['model.multi_modal_projector.linear_2.weight', [D, D]]);
    if (pb) want.push(['model.multi_modal_projector.linear_2.bias', [D]]);
  }
  want.push([`${P}embed_tokens.weight`, [V, D]]);
  for (let l = 0; l < c.numLayers; l++) {
    const a = `${P}layers.${l}.self_attn.`;
    const m = `${P}layers.${l}.mlp.`;
    want.push([`${a}q_proj.weight`, [H * d, D]]);
    if (c.qkvBias) want.push([`${a}q_proj.bias`, [H * d]]);
    want.push([`${a}k_proj.weight`, [Hkv * d, D]]);
    if (c.qkvBias) want.push([`${a}k_proj.bias`, [Hkv * d]]);
    want.push([`${a}v_proj.weight`, [Hkv * d, D]]);
    if (c.qkvBias) want.push([`${a}v_proj.bias`, [Hkv * d]]);
    want.push([`${a}o_proj.weight`, [D, H * d]]);
    if (c.oBias) want.push([`${a}o_proj.bias`, [D]]);
    want.push([`${m}gate_proj.weight`, [I, D]], [`${m}up_proj.weight`, [I, D]], [`${m}down_proj.weight`, [D, I]]);
    want.push([`${P}layers.${l}.input_layernorm.weight`, [D]], [`${P}layers.${l}.post_attention_layernorm.weight`, [D]]);
  }
  want.push([`${P}norm.weight`, [D]]);
  if (!c.tieWordEmbeddings) want.push(['lm_head.weight', [V, D]]);

  // 3. file keys -> names; every key expected, known, once, of the right shape and a float dtype
  const fileKey = new Map<string, string>();
  for (const k of entries.keys()) {
    const n = canonical(k, llava);
    if (n === null || (n === 'lm_head.weight' && c.tieWordEmbeddings)) continue;
    const prev = fileKey.get(n);
    if (prev !== undefined) fail('ERR_FORMAT', op, `${dir}: the tensors '${prev}' and '${k}' are both '${n}'`);
    fileKey.set(n, k);
  }
  const wanted = new Set(want.map(([n]) => n));
  for (const [n, k] of fileKey) if (!wanted.has(n)) fail('ERR_FORMAT', op, `${entries.get(k)!.file}: unexpected tensor '${k}' (not part of a ${info.modelType}${llava ? ' LLaVA' : ''} model with this config)`);
  for (const [n, shape] of want) {
    const k = fileKey.get(n);
    if (k === undefined) fail('ERR_FORMAT', op, `${dir}: expected the tensor '${n}'${llava ? ' (or its older LLaVA name)' : ''} but the checkpoint has none`);
    const e = entries.get(k)!;
    if (e.shape.length !== shape.length || e.shape.some((s, i) => s !== shape[i]))
      fail('ERR_SHAPE', op, `${e.file}: expected '${k}' of shape [${shape.join(', ')}] (from config.json) but received [${e.shape.join(', ')}]`);
    if (!['F32', 'F16', 'BF16'].includes(e.dtype)) fail('ERR_DTYPE', op, `${e.file}: expected '${k}' to be F32, F16 or BF16 but received ${e.dtype}`);
  }

  // 4. read (all or nothing)
  const ts = readDirTensors(entries, want.map(([n]) => ({ name: fileKey.get(n)!, dtype })), device, op, o.onProgress) as Tensor<FloatDType>[];
  const byName = new Map(want.map(([n], i) => [n, ts[i]!]));
  const get = (n: string) => byName.get(n)!;
  const opt = (n: string) => byName.get(n);
  const layers: LlamaLayer[] = [];
  for (let l = 0; l < c.numLayers; l++) {
    const a = `${P}layers.${l}.self_attn.`;
    const m = `${P}layers.${l}.mlp.`;
    const L: LlamaLayer = {
      attnNorm: get(`${P}layers.${l}.input_layernorm.weight`),
      wq: get(`${a}q_proj.weight`),
      wk: get(`${a}k_proj.weight`),
      wv: get(`${a}v_proj.weight`),
      wo: get(`${a}o_proj.weight`),
      mlpNorm: get(`${P}layers.${l}.post_attention_layernorm.weight`),
      wGate: get(`${m}gate_proj.weight`),
      wUp: get(`${m}up_proj.weight`),
      wDown: get(`${m}down_proj.weight`),
    };
    for (const [f, n] of [['bq', 'q'], ['bk', 'k'], ['bv', 'v'], ['bo', 'o']] as const) {
      const b = opt(`${a}${n}_proj.bias`);
      if (b) L[f] = b;
    }
    layers.push(L);
  }
  const embed = get(`${P}embed_tokens.weight`);
  const w: LlamaWeights = { embed, layers, finalNorm: get(`${P}norm.weight`), lmHead: c.tieWordEmbeddings ? embed : get('lm_head.weight') };
  if (llava) {
    const pre = 'model.multi_modal_projector.';
    w.projector = { w1: get(`${pre}linear_1.weight`), w2: get(`${pre}linear_2.weight`) };
    const b1 = opt(`${pre}linear_1.bias`);
    const b2 = opt(`${pre}linear_2.bias`);
    if (b1) w.projector.b1 = b1;
    if (b2) w.projector.b2 = b2;
  }
  const hf: HfMeta = { modelType: info.modelType, projectorBias: info.projectorBias, maxPositionEmbeddings: info.maxPositionEmbeddings };
  if (info.llava) hf.llava = info.llava;
  if (info.llavaSource !== undefined) hf.llavaSource = info.llavaSource;
  if (info.slidingWindow !== undefined) hf.slidingWindow = info.slidingWindow;
  return make(c, dtype, device, w, hf);
}

export function saveCheckpoint(model: LlamaModel, dir: string, options: LlamaSaveOptions): string[] {
  const op = 'LlamaModel.save';
  const o = checkOptions(op, options, ['dtype', 'maxShardBytes']);
  const dtype = enumOpt(op, 'dtype', o.dtype, FLOAT_DTYPES, model.dtype);
  const maxShardBytes = o.maxShardBytes === undefined ? Infinity : numberOpt(op, 'maxShardBytes', o.maxShardBytes, 0, { integer: true, min: 1 });
  const meta = model._hf;
  const cfg = hfConfigText({ ...meta, config: model.config, modelType: modelTypeFor(model.config, meta.modelType) }, dtype);
  try {
    fs.mkdirSync(dir, { recursive: true });
  } catch (e) {
    fail('ERR_IO', op, `could not create ${dir}: ${(e as Error).message}`);
  }
  const files = saveSafetensorsDir(dir, model.parameters(), { dtype, maxShardBytes });
  // a stale single file or index from an earlier save would shadow or contradict this one
  const other = files.length === 1 ? 'model.safetensors.index.json' : 'model.safetensors';
  fs.rmSync(path.join(dir, other), { force: true });
  fs.writeFileSync(path.join(dir, 'config.json'), cfg);
  return ['config.json', ...files];
}

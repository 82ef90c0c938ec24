/**
 * Hugging Face config.json <-> LlamaConfig, for LLaMA / Mistral / Qwen2 decoders and LLaVA
 * (LlavaForConditionalGeneration, whose text_config is one of those). Reads both the transformers 4
 * form (top-level `rope_theta`, `torch_dtype`) and the transformers 5 form (`rope_parameters`,
 * `dtype`); writes both, which transformers 4.x and 5.x read. Every feature the forward pass does
 * not implement (rope scaling, sliding windows, MLP bias, other activations) is a typed error
 * naming the key.
 */
import { fail } from '../errors';
import type { FloatDType } from '../dtype';
import type { ResolvedLlamaConfig } from './llama';

export const MODEL_TYPES = ['llama', 'mistral', 'qwen2'] as const;
export type ModelType = (typeof MODEL_TYPES)[number];
const ARCH: Record<ModelType, string> = { llama: 'LlamaForCausalLM', mistral: 'MistralForCausalLM', qwen2: 'Qwen2ForCausalLM' };
const TORCH_DTYPES: Record<string, FloatDType> = { float32: 'float32', float16: 'float16', bfloat16: 'bfloat16' };

export interface HfModelInfo {
  config: ResolvedLlamaConfig;
  modelType: ModelType;
  /** The checkpoint's dtype (config dtype / torch_dtype) when it is a float dtype mmpref has. */
  dtype?: FloatDType;
  /** LLaVA: the whole config object. */
  llava?: Record<string, unknown>;
  /** LLaVA: config.json's text, rewritten on save with only the text config's own keys replaced (see withTextConfig). */
  llavaSource?: string;
  /** LLaVA: the projector has biases (multimodal_projector_bias, default true). */
  projectorBias: boolean;
  maxPositionEmbeddings: number;
  /** Mistral sliding_window (the forward refuses longer sequences). */
  slidingWindow?: number;
}

type Json = Record<string, unknown>;

/** Parses a config.json object; `file` names it in errors. */
export function parseHfConfig(raw: unknown, file: string, source?: string): HfModelInfo {
  const op = 'LlamaModel.load';
  const bad = (key: string, msg: string): never => fail('ERR_FORMAT', op, `${file}: ${key}: ${msg}`);
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return bad('(root)', 'expected a JSON object');
  const top = raw as Json;
  let c = top;
  let where = '';
  let llava: Json | undefined;
  const archs = Array.isArray(top.architectures) ? (top.architectures as unknown[]) : [];
  if (top.model_type === 'llava' || archs.includes('LlavaForConditionalGeneration')) {
    if (typeof top.text_config !== 'object' || top.text_config === null) bad('text_config', 'expected the LLaVA text model config object');
    llava = top;
    c = top.text_config as Json;
    where = 'text_config.';
  }
  const key = (k: string) => where + k;
  const mt = (c.model_type ?? (llava ? 'llama' : undefined)) as unknown;
  if (typeof mt !== 'string' || !(MODEL_TYPES as readonly string[]).includes(mt))
    bad(key('model_type'), `expected one of ${MODEL_TYPES.join(', ')} (or llava with such a text_config) but received ${JSON.stringify(mt)}`);
  const modelType = mt as ModelType;
  if (!llava && archs.length && !archs.includes(ARCH[modelType]))
    bad('architectures', `expected ${ARCH[modelType]} for model_type ${modelType} but received ${JSON.stringify(archs)}`);
  const int = (k: string, dflt?: number): number => {
    const v = c[k] ?? dflt;
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1) bad(key(k), `expected a positive integer but received ${JSON.stringify(c[k])}`);
    return v as number;
  };
  const num = (k: string, v: unknown, dflt: number): number => {
    const x = v ?? dflt;
    if (typeof x !== 'number' || !Number.isFinite(x) || x < 0) bad(key(k), `expected a finite non-negative number but received ${JSON.stringify(v)}`);
    return x as number;
  };
  const act = c.hidden_act ?? 'silu';
  if (act !== 'silu') bad(key('hidden_act'), `expected "silu" (SwiGLU MLP) but received ${JSON.stringify(act)}`);
  if (c.mlp_bias === true) bad(key('mlp_bias'), 'expected false (MLP projections with bias are not implemented) but received true');
  // rope: transformers 5 rope_parameters {rope_type, rope_theta}, or rope_scaling (+ top-level rope_theta)
  let theta: unknown = c.rope_theta;
  for (const rk of ['rope_scaling', 'rope_parameters']) {
    const r = c[rk];
    if (r === undefined || r === null) continue;
    if (typeof r !== 'object') bad(key(rk), `expected null or an object but received ${JSON.stringify(r)}`);
    const type = (r as Json).rope_type ?? (r as Json).type ?? 'default';
    if (type !== 'default') bad(key(`${rk}.rope_type`), `expected "default" (the rope scaling kinds ${JSON.stringify(type)} and others are not implemented) but received ${JSON.stringify(type)}`);
    if ((r as Json).rope_theta !== undefined) theta = (r as Json).rope_theta;
  }
  const ropeTheta = num('rope_theta', theta, 10000);
  if (!(ropeTheta > 0)) bad(key('rope_theta'), `expected > 0 but received ${ropeTheta}`);
  // sliding windows: Qwen2's use_sliding_window is refused; Mistral's sliding_window is kept and the
  // forward refuses sequences longer than it (inside the window the attention is exact)
  if (modelType === 'qwen2' && c.use_sliding_window === true) bad(key('use_sliding_window'), 'expected false (sliding-window attention is not implemented) but received true');
  let slidingWindow: number | undefined;
  if (modelType !== 'qwen2' && c.sliding_window !== undefined && c.sliding_window !== null) slidingWindow = int('sliding_window');
  const hiddenSize = int('hidden_size', llava ? 4096 : undefined);
  const numHeads = int('num_attention_heads', llava ? 32 : undefined);
  const headDim = c.head_dim === undefined || c.head_dim === null ? Math.floor(hiddenSize / numHeads) : int('head_dim');
  const bias = c.attention_bias === true;
  const config: ResolvedLlamaConfig = {
    vocabSize: int('vocab_size', llava ? 32000 : undefined),
    hiddenSize,
    intermediateSize: int('intermediate_size', llava ? 11008 : undefined),
    numLayers: int('num_hidden_layers', llava ? 32 : undefined),
    numHeads,
    numKvHeads: int('num_key_value_heads', numHeads),
    headDim,
    ropeTheta,
    rmsNormEps: num('rms_norm_eps', c.rms_norm_eps, 1e-6),
    tieWordEmbeddings: (c.tie_word_embeddings ?? top.tie_word_embeddings ?? false) === true,
    // Qwen2Attention: q/k/v with bias, o without; Llama/Mistral attention_bias: all four
    qkvBias: modelType === 'qwen2' || bias,
    oBias: modelType !== 'qwen2' && bias,
  };
  const dt = (c.dtype ?? c.torch_dtype ?? top.dtype ?? top.torch_dtype) as unknown;
  return {
    config,
    modelType,
    dtype: typeof dt === 'string' ? TORCH_DTYPES[dt] : undefined,
    llava,
    ...(llava && source !== undefined ? { llavaSource: source } : {}),
    projectorBias: llava ? llava.multimodal_projector_bias !== false : false,
    maxPositionEmbeddings: int('max_position_embeddings', 4096),
    ...(slidingWindow !== undefined ? { slidingWindow } : {}),
  };
}

/**
 * The members of a JSON object text as [key, raw value text] pairs (the text parsed already). Raw
 * text keeps what JSON.parse loses: `1.0` stays a float, which transformers 5's strict config
 * dataclasses require (vision_config.initializer_factor: 1.0 written back as 1 is refused).
 */
export function jsonMembers(src: string): [string, string][] {
  const out: [string, string][] = [];
  let i = src.indexOf('{') + 1;
  const ws = () => {
    while (/\s/.test(src[i] ?? '')) i++;
  };
  const skipString = () => {
    for (i++; src[i] !== '"'; i++) if (src[i] === '\\') i++;
    i++;
  };
  for (;;) {
    ws();
    if (src[i] === '}' || i >= src.length) return out;
    const k0 = i;
    skipString();
    const key = JSON.parse(src.slice(k0, i)) as string;
    ws();
    i++; // ':'
    ws();
    const v0 = i;
    let depth = 0;
    while (i < src.length) {
      const ch = src[i]!;
      if (ch === '"') {
        skipString();
        continue;
      }
      if (ch === '{' || ch === '[') depth++;
      else if (ch === '}' || ch === ']') {
        if (depth === 0) break;
        depth--;
      } else if (ch === ',' && depth === 0) break;
      i++;
    }
    out.push([key, src.slice(v0, i).trim()]);
    if (src[i] === ',') i++;
  }
}

/** An object text with the members of `replace` (key -> raw JSON text) replaced or appended, every other member kept as written. */
function withMembers(src: string, replace: Record<string, string>): string {
  const kept = jsonMembers(src).filter(([k]) => !(k in replace));
  const parts = [...kept, ...Object.entries(replace)].map(([k, v]) => `${JSON.stringify(k)}: ${v}`);
  return `{\n${parts.join(',\n')}\n}`;
}

const rawOf = (o: Json): Record<string, string> => Object.fromEntries(Object.entries(o).map(([k, v]) => [k, JSON.stringify(v)]));

/** The config.json text of a model (what transformers 4.x and 5.x read). */
export function hfConfigText(info: Omit<HfModelInfo, 'dtype'>, dtype: FloatDType): string {
  const cfg = hfConfigOf(info, dtype);
  if (!info.llava || info.llavaSource === undefined) return JSON.stringify(cfg, null, 2) + '\n';
  // LLaVA: only the text config's own keys and the dtype change; vision_config etc. stay as written
  const srcText = jsonMembers(info.llavaSource).find(([k]) => k === 'text_config')?.[1] ?? '{}';
  const text = withMembers(srcText, rawOf(cfg.text_config as Json));
  return withMembers(info.llavaSource, { text_config: text, ...rawOf({ dtype, torch_dtype: dtype }) }) + '\n';
}

/** The config.json object of a model (what transformers 4.x and 5.x read). */
export function hfConfigOf(info: Omit<HfModelInfo, 'dtype'>, dtype: FloatDType): Json {
  const c = info.config;
  const text: Json = {
    architectures: [ARCH[info.modelType]],
    model_type: info.modelType,
    vocab_size: c.vocabSize,
    hidden_size: c.hiddenSize,
    intermediate_size: c.intermediateSize,
    num_hidden_layers: c.numLayers,
    num_attention_heads: c.numHeads,
    num_key_value_heads: c.numKvHeads,
    head_dim: c.headDim,
    hidden_act: 'silu',
    max_position_embeddings: info.maxPositionEmbeddings,
    rms_norm_eps: c.rmsNormEps,
    rope_theta: c.ropeTheta,
    rope_scaling: null,
    rope_parameters: { rope_type: 'default', rope_theta: c.ropeTheta },
    tie_word_embeddings: c.tieWordEmbeddings,
    ...(info.modelType === 'qwen2' ? { use_sliding_window: false } : { attention_bias: c.qkvBias, mlp_bias: false }),
    ...(info.modelType === 'mistral' ? { sliding_window: info.slidingWindow ?? null } : {}),
    dtype,
    torch_dtype: dtype,
  };
  if (!info.llava) return text;
  delete text.architectures;
  return { ...info.llava, text_config: text, dtype, torch_dtype: dtype };
}

/** The model type a config is saved as: Qwen2 when only q/k/v have biases (Llama's attention_bias covers o too). */
export function modelTypeFor(c: ResolvedLlamaConfig, loaded?: ModelType): ModelType {
  const fits = (t: ModelType) => (t === 'qwen2' ? c.qkvBias && !c.oBias : c.qkvBias === c.oBias);
  if (loaded && fits(loaded)) return loaded;
  if (fits('llama')) return 'llama';
  if (fits('qwen2')) return 'qwen2';
  return fail('ERR_ARGUMENT', 'LlamaModel.save', `no Hugging Face architecture has q/k/v bias ${c.qkvBias} with o bias ${c.oBias}`);
}

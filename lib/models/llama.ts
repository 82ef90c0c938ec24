/**
 * A small LLaMA-style decoder built from mmpref ops, on the CPU or CUDA: token embeddings (or given
 * input embeddings, e.g. visual tokens spliced into a prompt), N x [RMSNorm -> q/k/v projections ->
 * rotary -> GQA attention through attention.masked with a KV cache -> output projection -> residual
 * -> RMSNorm -> SwiGLU MLP -> residual] -> RMSNorm -> lm_head. Weights are deterministic for a seed,
 * so a model can be rebuilt anywhere (tests, demo, a reference copy for DPO).
 * Correctness first: every step is one mmpref op, so the forward pass runs where the weights live.
 */
import { masked } from '../ops/attention_masked';
import { KVCache } from '../ops/kv_cache';
import { add } from '../ops/add';
import { embedding } from '../ops/embedding';
import { rmsNorm } from '../ops/rms_norm';
import { rotary } from '../ops/rotary';
import { swiglu } from '../ops/swiglu';
import { linear } from '../ops/linear';
import { permute } from '../ops/permute';
import { FLOAT_DTYPES, type FloatDType } from '../dtype';
import { normal } from '../ops/random_fill';
import { fail } from '../errors';
import { ITEM_SIZE } from '../dtype';
import { checkFits } from '../op_args';
import { MAX_LAYERS } from '../ops/kv_cache';
import { Tensor, empty, full, parseDevice, tensor, type DeviceSpec, type TensorLike } from '../tensor';
import { boolOpt, checkOptions, enumOpt, expectShape, numberOpt, sameDevice, tensorArg } from '../validate';
import type { ModelType } from './hf_config';
import { loadCheckpoint, saveCheckpoint, type LlamaLoadOptions, type LlamaSaveOptions } from './checkpoint';
import { LoraState, loraDelta, type LoraOptions, type LoraTarget } from './lora';
import { backward, forwardTrain, type BackwardOptions, type BackwardResult, type SavedActivations, type TrainBatch, type TrainForwardOptions, type TrainForwardResult } from './train';

export interface LlamaConfig {
  /** Vocabulary size V (default 32000, LLaMA/Vicuna). */
  vocabSize?: number;
  /** Hidden size D (default 256). */
  hiddenSize?: number;
  /** MLP inner size I (default 688). */
  intermediateSize?: number;
  /** Decoder layers (default 4). */
  numLayers?: number;
  /** Query heads Hq (default 8). */
  numHeads?: number;
  /** Key/value heads Hkv, dividing Hq (default 2: grouped-query attention). */
  numKvHeads?: number;
  /** Head dimension d (default hiddenSize / numHeads, at most 256). */
  headDim?: number;
  /** Rotary base (default 10000). */
  ropeTheta?: number;
  /** RMSNorm epsilon (default 1e-6). */
  rmsNormEps?: number;
  /** lm_head shares the embedding matrix (default false). */
  tieWordEmbeddings?: boolean;
  /** q/k/v projections have biases (default false; Qwen2, or LLaMA's attention_bias). */
  qkvBias?: boolean;
  /** The output projection has a bias (default false; LLaMA's attention_bias). */
  oBias?: boolean;
}

export type ResolvedLlamaConfig = Required<LlamaConfig>;

export interface LlamaInitOptions {
  /** Seed of the weights (default 0): the same seed gives the same weights on every device. */
  seed?: number;
  /** Weight and activation dtype (default 'float32'). */
  dtype?: FloatDType;
  /** 'cpu' (default), 'cuda' or 'cuda:N'. */
  device?: DeviceSpec;
  /** Standard deviation of the projection and embedding weights (default 0.02, as HF's initializer_range). */
  initStd?: number;
  /** Add a LLaVA-style projector (Linear Dv -> D, GELU, Linear D -> D, with biases) for visual features of this size (default: none). */
  visionHiddenSize?: number;
}

export interface LlamaLayer {
  attnNorm: Tensor<FloatDType>;
  wq: Tensor<FloatDType>;
  wk: Tensor<FloatDType>;
  wv: Tensor<FloatDType>;
  wo: Tensor<FloatDType>;
  mlpNorm: Tensor<FloatDType>;
  wGate: Tensor<FloatDType>;
  wUp: Tensor<FloatDType>;
  wDown: Tensor<FloatDType>;
  /** Biases of q/k/v (config.qkvBias) and o (config.oBias), [out]; absent otherwise. */
  bq?: Tensor<FloatDType>;
  bk?: Tensor<FloatDType>;
  bv?: Tensor<FloatDType>;
  bo?: Tensor<FloatDType>;
}

/** LLaVA's multi_modal_projector (Linear -> GELU -> Linear): linear_1 [D, Dv], linear_2 [D, D]. */
export interface LlavaProjector {
  w1: Tensor<FloatDType>;
  b1?: Tensor<FloatDType>;
  w2: Tensor<FloatDType>;
  b2?: Tensor<FloatDType>;
}

/** What save() needs to write the checkpoint back in its own layout. */
export interface HfMeta {
  modelType: ModelType;
  llava?: Record<string, unknown>;
  llavaSource?: string;
  projectorBias: boolean;
  maxPositionEmbeddings: number;
  /** Mistral's sliding_window: attention is exact only while the sequence fits in it (forward checks). */
  slidingWindow?: number;
}

export interface ForwardOptions {
  /**
   * Key mask for every layer, bool [B, L] with L >= the cache length after this call (true = may
   * attend), e.g. padding; or a function giving the mask of each layer (BDHS masks image keys in
   * chosen layers). Default: every key.
   */
  keyMask?: TensorLike | ((layer: number) => TensorLike | undefined);
  /** Positions of the new tokens, int32 [B, T] (default: cache length + t; give them with left padding). */
  positions?: TensorLike<'int32'>;
  /** Which logits to return: 'all' positions [B, T, V], 'last' [B, 1, V] (default) or 'none'. */
  logits?: 'all' | 'last' | 'none';
}

export interface ForwardResult {
  logits?: Tensor<FloatDType>;
  /** Final (normalised) hidden states [B, T, D]. */
  hidden: Tensor<FloatDType>;
}

const DEFAULTS: ResolvedLlamaConfig = {
  vocabSize: 32000,
  hiddenSize: 256,
  intermediateSize: 688,
  numLayers: 4,
  numHeads: 8,
  numKvHeads: 2,
  headDim: 0,
  ropeTheta: 10000,
  rmsNormEps: 1e-6,
  tieWordEmbeddings: false,
  qkvBias: false,
  oBias: false,
};

export function resolve(config: LlamaConfig): ResolvedLlamaConfig {
  const op = 'LlamaModel';
  const c = checkOptions(op, config, Object.keys(DEFAULTS));
  const int = (k: keyof LlamaConfig, min = 1) => numberOpt(op, k, c[k], DEFAULTS[k] as number, { integer: true, min });
  const r: ResolvedLlamaConfig = {
    vocabSize: int('vocabSize'),
    hiddenSize: int('hiddenSize'),
    intermediateSize: int('intermediateSize'),
    numLayers: numberOpt(op, 'numLayers', c.numLayers, DEFAULTS.numLayers, { integer: true, min: 1, max: MAX_LAYERS }),
    numHeads: int('numHeads'),
    numKvHeads: int('numKvHeads'),
    headDim: 0,
    ropeTheta: numberOpt(op, 'ropeTheta', c.ropeTheta, DEFAULTS.ropeTheta, { gt: 0 }),
    rmsNormEps: numberOpt(op, 'rmsNormEps', c.rmsNormEps, DEFAULTS.rmsNormEps, { min: 0 }),
    tieWordEmbeddings: boolOpt(op, 'tieWordEmbeddings', c.tieWordEmbeddings, false),
    qkvBias: boolOpt(op, 'qkvBias', c.qkvBias, false),
    oBias: boolOpt(op, 'oBias', c.oBias, false),
  };
  r.headDim = numberOpt(op, 'headDim', c.headDim, Math.floor(r.hiddenSize / r.numHeads), { integer: true, min: 2, max: 256 });
  if (r.headDim % 2) fail('ERR_RANGE', op, `expected an even headDim but received ${r.headDim}`);
  if (r.numHeads % r.numKvHeads) fail('ERR_RANGE', op, `expected numHeads (${r.numHeads}) to be a multiple of numKvHeads (${r.numKvHeads})`);
  return r;
}

export class LlamaModel {
  readonly config: ResolvedLlamaConfig;
  readonly dtype: FloatDType;
  readonly embed: Tensor<FloatDType>;
  readonly layers: LlamaLayer[];
  readonly finalNorm: Tensor<FloatDType>;
  readonly lmHead: Tensor<FloatDType>;
  /** LLaVA checkpoints: the multi_modal_projector weights (its forward comes with ops.gelu). */
  readonly projector?: LlavaProjector;
  private readonly deviceSpec: DeviceSpec;
  /** @internal */
  readonly _hf: HfMeta;
  private lora?: LoraState;
  private adaptersOn = true;

  private constructor(config: ResolvedLlamaConfig, dtype: FloatDType, device: DeviceSpec, w: LlamaWeights, hf?: HfMeta) {
    this.config = config;
    this.dtype = dtype;
    this.deviceSpec = device;
    this.embed = w.embed;
    this.layers = w.layers;
    this.finalNorm = w.finalNorm;
    this.lmHead = w.lmHead;
    if (w.projector) this.projector = w.projector;
    this._hf = hf ?? { modelType: config.qkvBias && !config.oBias ? 'qwen2' : 'llama', projectorBias: false, maxPositionEmbeddings: 4096 };
  }

  /** A model with deterministic random weights (N(0, initStd^2) projections and biases, unit norms). */
  static random(config: LlamaConfig = {}, options: LlamaInitOptions = {}): LlamaModel {
    const op = 'LlamaModel.random';
    const c = resolve(config);
    const o = checkOptions(op, options, ['seed', 'dtype', 'device', 'initStd', 'visionHiddenSize']);
    const Dv = o.visionHiddenSize === undefined ? 0 : numberOpt(op, 'visionHiddenSize', o.visionHiddenSize, 0, { integer: true, min: 1, max: 1 << 20 });
    const seed = numberOpt(op, 'seed', o.seed, 0, { integer: true, min: 0 });
    const dtype = enumOpt(op, 'dtype', o.dtype, FLOAT_DTYPES, 'float32');
    const std = numberOpt(op, 'initStd', o.initStd, 0.02, { gt: 0 });
    const device = o.device ?? 'cpu';
    parseDevice(device, op);
    let stream = 0;
    // Weights are Philox normals (random.normal) from (seed, offset = tensor index), generated on
    // the target device: identical on CPU and CUDA for a seed. Biases draw after all the weights,
    // so a model without biases has the same weights as before biases existed.
    const make = (shape: number[], kind: 'normal' | 'ones'): Tensor<FloatDType> =>
      kind === 'ones' ? full(shape, 1, dtype, { device }) : normal(shape, { seed, offset: stream++, std, dtype, device });
    const { vocabSize: V, hiddenSize: D, intermediateSize: I, numHeads: H, numKvHeads: Hkv, headDim: d } = c;
    const perLayer = 2 * D + 2 * H * d * D + 2 * Hkv * d * D + 3 * I * D;
    const params = V * D * (c.tieWordEmbeddings ? 1 : 2) + D + c.numLayers * perLayer;
    checkFits(op, `${params} weights of ${dtype}`, params * ITEM_SIZE[dtype], parseDevice(device, op));
    const embed = make([V, D], 'normal');
    const layers: LlamaLayer[] = [];
    for (let l = 0; l < c.numLayers; l++)
      layers.push({
        attnNorm: make([D], 'ones'),
        wq: make([H * d, D], 'normal'),
        wk: make([Hkv * d, D], 'normal'),
        wv: make([Hkv * d, D], 'normal'),
        wo: make([D, H * d], 'normal'),
        mlpNorm: make([D], 'ones'),
        wGate: make([I, D], 'normal'),
        wUp: make([I, D], 'normal'),
        wDown: make([D, I], 'normal'),
      });
    const finalNorm = make([D], 'ones');
    const lmHead = c.tieWordEmbeddings ? embed : make([V, D], 'normal');
    for (const L of layers) {
      if (c.qkvBias) Object.assign(L, { bq: make([H * d], 'normal'), bk: make([Hkv * d], 'normal'), bv: make([Hkv * d], 'normal') });
      if (c.oBias) L.bo = make([D], 'normal');
    }
    if (!Dv) return new LlamaModel(c, dtype, device, { embed, layers, finalNorm, lmHead });
    // with a projector the model is a LLaVA one: Hugging Face names under model.language_model., and
    // save() writes a LlavaForConditionalGeneration config (without a vision tower's weights)
    const projector = { w1: make([D, Dv], 'normal'), b1: make([D], 'normal'), w2: make([D, D], 'normal'), b2: make([D], 'normal') };
    const llava = {
      architectures: ['LlavaForConditionalGeneration'], model_type: 'llava', projector_hidden_act: 'gelu', multimodal_projector_bias: true,
      vision_feature_layer: -2, vision_feature_select_strategy: 'default', image_token_index: c.vocabSize - 1,
      vision_config: { model_type: 'clip_vision_model', hidden_size: Dv },
    };
    const hf: HfMeta = { modelType: c.qkvBias && !c.oBias ? 'qwen2' : 'llama', projectorBias: true, maxPositionEmbeddings: 4096, llava };
    return new LlamaModel(c, dtype, device, { embed, layers, finalNorm, lmHead, projector }, hf);
  }

  /**
   * Loads a Hugging Face checkpoint directory: config.json (LlamaForCausalLM, MistralForCausalLM,
   * Qwen2ForCausalLM or LlavaForConditionalGeneration) and model.safetensors or a sharded
   * model.safetensors.index.json. Every header, key, shape and dtype is checked before any tensor
   * is allocated; a failure is a typed MmprefError naming the file and key, and frees what was read.
   */
  static load(dir: string, options: LlamaLoadOptions = {}): LlamaModel {
    return loadCheckpoint(dir, options, (config, dtype, device, w, hf) => new LlamaModel(config, dtype, device, w, hf));
  }

  /** Writes config.json + model.safetensors (or shards above maxShardBytes) in the layout it was loaded from. */
  save(dir: string, options: LlamaSaveOptions = {}): string[] {
    return saveCheckpoint(this, dir, options);
  }

  /** @internal The adapters the forward applies now (none when absent or disabled); lib/models/train.ts. */
  get _activeLora(): LoraState | undefined {
    return this.adaptersOn ? this.lora : undefined;
  }

  /** @internal The text model's prefix in Hugging Face names. */
  get _prefix(): string {
    return this._hf.llava ? 'model.language_model.' : 'model.';
  }

  /**
   * Every parameter with its Hugging Face name, in the order transformers' named_parameters()
   * lists them (LLaVA: projector, text model, lm_head). A tied lm_head is listed once (as the
   * embedding). LoRA adapters are not included: see loraParameters().
   */
  parameters(): [string, Tensor<FloatDType>][] {
    const P = this._prefix;
    const out: [string, Tensor<FloatDType>][] = [];
    const pr = this.projector;
    if (pr) {
      out.push(['model.multi_modal_projector.linear_1.weight', pr.w1]);
      if (pr.b1) out.push(['model.multi_modal_projector.linear_1.bias', pr.b1]);
      out.push(['model.multi_modal_projector.linear_2.weight', pr.w2]);
      if (pr.b2) out.push(['model.multi_modal_projector.linear_2.bias', pr.b2]);
    }
    out.push([`${P}embed_tokens.weight`, this.embed]);
    this.layers.forEach((L, l) => {
      const a = `${P}layers.${l}.self_attn.`;
      const m = `${P}layers.${l}.mlp.`;
      const lin = (name: string, w: Tensor<FloatDType>, b?: Tensor<FloatDType>) => {
        out.push([`${name}.weight`, w]);
        if (b) out.push([`${name}.bias`, b]);
      };
      lin(`${a}q_proj`, L.wq, L.bq);
      lin(`${a}k_proj`, L.wk, L.bk);
      lin(`${a}v_proj`, L.wv, L.bv);
      lin(`${a}o_proj`, L.wo, L.bo);
      lin(`${m}gate_proj`, L.wGate);
      lin(`${m}up_proj`, L.wUp);
      lin(`${m}down_proj`, L.wDown);
      out.push([`${P}layers.${l}.input_layernorm.weight`, L.attnNorm], [`${P}layers.${l}.post_attention_layernorm.weight`, L.mlpNorm]);
    });
    out.push([`${P}norm.weight`, this.finalNorm]);
    if (this.lmHead !== this.embed) out.push(['lm_head.weight', this.lmHead]);
    return out;
  }

  /**
   * Adds LoRA adapters as PEFT does (W' = W + (alpha / r) B A, or alpha / sqrt(r) with useRslora) to
   * the target projections of every layer: A [r, in] Kaiming-uniform (a = sqrt(5), i.e. U(-1/sqrt(in),
   * 1/sqrt(in))) from random.uniform with the seed, B [out, r] zeros, so a fresh adapter changes
   * nothing. Replaces existing adapters.
   */
  addLora(options: LoraOptions): void {
    this.lora?.dispose();
    this.lora = LoraState.create(this, options);
  }

  /** With false the forward uses the base weights only (the frozen reference); default true. */
  setAdaptersEnabled(on: boolean): void {
    this.adaptersOn = boolOpt('LlamaModel.setAdaptersEnabled', 'on', on, true);
  }

  /** Whether adapters exist and are enabled. */
  get adaptersEnabled(): boolean {
    return this.adaptersOn && this.lora !== undefined;
  }

  /** The adapters with PEFT's names (base_model.model.<module>.lora_A.weight / lora_B.weight); [] without adapters. */
  loraParameters(): [string, Tensor<FloatDType>][] {
    return this.lora ? this.lora.named(this._prefix) : [];
  }

  /** The LoRA settings, or undefined without adapters. */
  get loraConfig(): Readonly<Required<Omit<LoraOptions, 'seed'>>> | undefined {
    return this.lora?.settings;
  }

  /** Folds the adapters into the base weights (W += scale B A, in place) and removes them (PEFT merge_and_unload). */
  mergeAdapters(): void {
    if (!this.lora) fail('ERR_ARGUMENT', 'LlamaModel.mergeAdapters', 'expected adapters (addLora or loadAdapters first) but the model has none');
    this.lora.mergeInto(this);
    this.lora.dispose();
    this.lora = undefined;
  }

  /** Writes adapter_config.json + adapter_model.safetensors in PEFT's format. */
  saveAdapters(dir: string, options: { baseModelNameOrPath?: string } = {}): void {
    if (!this.lora) fail('ERR_ARGUMENT', 'LlamaModel.saveAdapters', 'expected adapters (addLora or loadAdapters first) but the model has none');
    this.lora.save(dir, this._prefix, options.baseModelNameOrPath ?? null);
  }

  /** Reads adapters saved by PEFT (or saveAdapters) and replaces the current ones; all checked before any is kept. */
  loadAdapters(dir: string): void {
    const next = LoraState.load(this, dir);
    this.lora?.dispose();
    this.lora = next;
  }

  /** y = x W^T (+ b) (+ scale (x A^T) B^T when an adapter sits on this projection and adapters are on). */
  private project(x: Tensor<FloatDType>, layer: number, target: LoraTarget, w: Tensor<FloatDType>, b?: Tensor<FloatDType>): Tensor<FloatDType> {
    const y = linear(x, w, b ? { bias: b } : {});
    if (this.lora && this.adaptersOn) loraDelta(this.lora, layer, target, x, y);
    return y;
  }

  /** 'cpu' or 'cuda' (where the weights are). */
  get device(): 'cpu' | 'cuda' {
    return this.embed.device;
  }

  /** Number of parameters (parameters(), adapters not counted). */
  get numParameters(): number {
    return this.parameters().reduce((a, [, t]) => a + t.numel, 0);
  }

  /** Token embeddings: int32/int64 [B, T] -> [B, T, D]. */
  embedTokens(tokens: TensorLike): Tensor<FloatDType> {
    return embedding(this.embed, tokens);
  }

  /** A KV cache for this model: every layer, `batch` rows, up to `maxLength` positions. */
  createCache(batch: number, maxLength: number): KVCache<FloatDType> {
    const c = this.config;
    return new KVCache({ layers: c.numLayers, batch, kvHeads: c.numKvHeads, headDim: c.headDim, maxLength, dtype: this.dtype, device: this.deviceSpec });
  }

  /**
   * Runs the decoder over new inputs x [B, T, D] (embeddings), appending their keys and values to
   * `cache` at positions cache.length .. cache.length + T - 1 (causal attention over the cache).
   * Returns the logits of every or the last position and the final hidden states. x is not modified.
   */
  forward(x: TensorLike, cache: KVCache<FloatDType>, options: ForwardOptions & { logits: 'none' }): Omit<ForwardResult, 'logits'> & { logits?: undefined };
  forward(x: TensorLike, cache: KVCache<FloatDType>, options?: ForwardOptions & { logits?: 'all' | 'last' }): ForwardResult & { logits: Tensor<FloatDType> };
  forward(x: TensorLike, cache: KVCache<FloatDType>, options?: ForwardOptions): ForwardResult;
  forward(x: TensorLike, cache: KVCache<FloatDType>, options: ForwardOptions = {}): ForwardResult {
    const op = 'LlamaModel.forward';
    const o = checkOptions(op, options, ['keyMask', 'positions', 'logits']);
    const c = this.config;
    const input = tensorArg(op, 'x', x, [this.dtype], 3);
    const [B, T, D] = input.shape as [number, number, number];
    expectShape(op, 'x', input, [B, T, c.hiddenSize]);
    sameDevice(op, { weights: this.embed, x: input });
    if (cache.batch !== B) fail('ERR_SHAPE', op, `expected x with ${cache.batch} rows (the cache's batch) but received ${B}`);
    const past = cache.length;
    if (past + T > cache.maxLength) fail('ERR_RANGE', op, `the cache holds ${cache.maxLength} positions; ${past} + ${T} do not fit`);
    const win = this._hf.slidingWindow;
    if (win !== undefined && past + T > win)
      fail('ERR_RANGE', op, `expected at most ${win} positions (the checkpoint's sliding_window; sliding-window attention is not implemented) but received ${past} + ${T}`);
    const which = enumOpt(op, 'logits', o.logits, ['all', 'last', 'none'] as const, 'last');
    const positions = o.positions === undefined ? undefined : (tensorArg(op, 'positions', o.positions, ['int32'], 2) as Tensor<'int32'>);
    const maskOf = typeof o.keyMask === 'function' ? o.keyMask : () => o.keyMask as TensorLike | undefined;
    const { numHeads: H, numKvHeads: Hkv, headDim: d } = c;
    const rot = positions ? { positions, theta: c.ropeTheta, inPlace: true } : { offset: past, theta: c.ropeTheta, inPlace: true };

    const h = input.clone() as Tensor<FloatDType>; // the residual stream
    const tmp: Tensor[] = [];
    const drop = () => {
      for (const t of tmp.splice(0)) t.dispose();
    };
    const heads = (t: Tensor<FloatDType>, n: number): Tensor<FloatDType> => {
      const r = permute(t.reshape([B, T, n, d]), [0, 2, 1, 3]); // [B, n, T, d]
      tmp.push(t, r);
      return r;
    };
    this.layers.forEach((L, layer) => {
      // 1. attention block
      const n1 = rmsNorm(h, L.attnNorm, { eps: c.rmsNormEps });
      tmp.push(n1);
      const q = heads(this.project(n1, layer, 'q_proj', L.wq, L.bq), H);
      const k = heads(this.project(n1, layer, 'k_proj', L.wk, L.bk), Hkv);
      const v = heads(this.project(n1, layer, 'v_proj', L.wv, L.bv), Hkv);
      rotary(q, rot);
      rotary(k, rot);
      cache.append(layer, k, v);
      const view = cache.view(layer);
      const mask = maskOf(layer);
      const att = masked(q, view.k, view.v, { causal: true, queryOffset: past, kvLength: past + T, ...(mask ? { keyMask: mask } : {}) }) as Tensor<FloatDType>;
      const merged = permute(att, [0, 2, 1, 3]).reshape([B, T, H * d]);
      tmp.push(att, merged);
      const proj = this.project(merged, layer, 'o_proj', L.wo, L.bo);
      tmp.push(proj);
      add(h, proj, { out: h });
      // 2. MLP block
      const n2 = rmsNorm(h, L.mlpNorm, { eps: c.rmsNormEps });
      const gate = this.project(n2, layer, 'gate_proj', L.wGate);
      const up = this.project(n2, layer, 'up_proj', L.wUp);
      swiglu(gate, up, { out: gate });
      const down = this.project(gate, layer, 'down_proj', L.wDown);
      tmp.push(n2, gate, up, down);
      add(h, down, { out: h });
      drop();
    });
    if (cache.length !== past + T) fail('ERR_ARGUMENT', op, 'cache lengths diverged between layers');
    const hidden = rmsNorm(h, this.finalNorm, { eps: c.rmsNormEps });
    h.dispose();
    if (which === 'none') return { hidden };
    if (which === 'all') return { hidden, logits: linear(hidden, this.lmHead) };
    // last position of each row: gather rows b*T + T-1 of hidden viewed as [B*T, D]
    const idx = tensor(Int32Array.from({ length: B }, (_, b) => b * T + T - 1), [B, 1]);
    const idxDev = this.device === 'cpu' ? idx : idx.to(this.deviceSpec);
    const last = embedding(hidden.reshape([B * T, D]), idxDev);
    const logits = linear(last, this.lmHead);
    last.dispose();
    if (idxDev !== idx) idxDev.dispose();
    return { hidden, logits };
  }

  /**
   * The training forward over whole sequences (no KV cache): logits (or only hidden states) and the
   * activations the backward needs (`saved.bytes`). Visual features go through the projector into
   * their image spans; `noise` applies NoiseBoost to them. See lib/models/train.ts.
   */
  forwardTrain(batch: TrainBatch, options?: TrainForwardOptions): TrainForwardResult {
    return forwardTrain(this, batch, options);
  }

  /**
   * The backward of forwardTrain from dLogits (or dHidden): float32 gradients named as parameters()
   * / loraParameters() name them (default: the adapters when LoRA is on, else every parameter).
   * Disposes `saved`.
   */
  backward(saved: SavedActivations, grad: { dLogits: TensorLike } | { dHidden: TensorLike }, options?: BackwardOptions): BackwardResult {
    return backward(this, saved, grad as never, options);
  }

  /** Frees the weights and adapters (CUDA memory at once). */
  dispose(): void {
    for (const [, t] of this.parameters()) t.dispose();
    this.lora?.dispose();
    this.lora = undefined;
  }
}

/** The tensors a model is built from (LlamaModel.load builds one). */
export interface LlamaWeights {
  embed: Tensor<FloatDType>;
  layers: LlamaLayer[];
  finalNorm: Tensor<FloatDType>;
  lmHead: Tensor<FloatDType>;
  projector?: LlavaProjector;
}

export { empty };

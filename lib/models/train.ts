/**
 * Training forward and backward of the LLaMA-style decoder (lib/models/llama.ts), composed of
 * mmpref's forward and backward kernels the way llm.c composes GPT-2's: no autograd, every step an
 * explicit op. `forwardTrain` runs the whole sequence (no KV cache; causal attention with an
 * optional padding mask) and keeps what the backward needs; `backward` walks the layers in reverse
 * and returns float32 gradients named as Hugging Face names the parameters.
 *
 * Kept per layer (the default): the layer input x, the rotated q and k, v, the attention output and
 * its log-sum-exp, the residual after attention h1, and the MLP's gate and up projections. The
 * RMSNorm outputs, the SwiGLU product and the head-merged attention output are recomputed in the
 * backward (memory-bound ops, cheaper than holding them). `checkpoint: true` keeps only x and
 * recomputes the whole layer in the backward (activation checkpointing).
 */
import { masked, maskedBackward } from '../ops/attention_masked';
import { add } from '../ops/add';
import { embedding, embeddingBackward } from '../ops/embedding';
import { linear, linearBackward } from '../ops/linear';
import { permute } from '../ops/permute';
import { rmsNorm, rmsNormBackward } from '../ops/rms_norm';
import { rotary, rotaryBackward } from '../ops/rotary';
import { swiglu, swigluBackward } from '../ops/swiglu';
import { gelu, geluBackward } from '../ops/gelu';
import { visualTokens, type TokenScaleMode } from '../ops/visual_tokens';
import type { Seed } from '../op_args';
import type { FloatDType } from '../dtype';
import { fail } from '../errors';
import { Tensor, deviceOf, tensor, zeros, type TensorLike } from '../tensor';
import { checkOptions, enumOpt, expectShape, sameDevice, tensorArg, boolOpt } from '../validate';
import type { LlamaLayer, LlamaModel, LlavaProjector } from './llama';
import type { LoraState, LoraTarget } from './lora';

export interface TrainBatch {
  /** Token ids, int32/int64 [B, T] (or give inputsEmbeds). */
  tokens?: TensorLike;
  /** Input embeddings [B, T, D] in the model's dtype instead of tokens (e.g. visual tokens spliced in). */
  inputsEmbeds?: TensorLike;
  /** Which positions are real tokens, bool [B, T] (false = padding, left or right): padded keys are never attended. */
  attentionMask?: TensorLike<'bool'>;
  /** Rotary positions, int32 [B, T]; default: with attentionMask, the count of real tokens before t (HF); else t. */
  positions?: TensorLike<'int32'>;
  /**
   * Visual features [B, Nv, Dv] in the model's dtype from a frozen vision encoder (e.g. CLIP's
   * penultimate layer): the model's projector (Linear, GELU, Linear as LLaVA-1.5) maps them to
   * [B, Nv, D], which replace the embeddings of tokens[b, imageStarts[b] .. + Nv). CPU for now.
   */
  visualFeatures?: TensorLike;
  /** Where each row's Nv visual tokens start (B integers, with start + Nv <= T). */
  imageStarts?: ArrayLike<number>;
}

/** NoiseBoost: Gaussian noise on the projected visual tokens during training (noise.visualTokens). */
export interface TrainNoiseOptions {
  /** Noise scale (default 0.5). */
  sigma?: number;
  /** 'absolute' (default), 'token-rms' or 'token-std'. */
  scale?: TokenScaleMode;
  /** Probability a visual token is perturbed (default 1). */
  prob?: number;
  /** bool [B]: perturb only these rows (DPO: the chosen rows). Default every row. */
  rows?: ArrayLike<boolean | number>;
  /** Philox seed and offset of the noise (default: a fresh seed). */
  seed?: Seed;
  offset?: Seed;
}

export interface TrainForwardOptions {
  /** 'all' (default): logits [B, T, V]; 'none': only the final hidden states (a fused head computes the loss). */
  logits?: 'all' | 'none';
  /** Keep only each layer's input and recompute the layer in the backward (default false). */
  checkpoint?: boolean;
  /** NoiseBoost on the visual tokens (needs visualFeatures); the gradient passes through the noise unchanged. */
  noise?: TrainNoiseOptions;
}

interface LayerSaved {
  x: Tensor<FloatDType>;
  q?: Tensor<FloatDType>;
  k?: Tensor<FloatDType>;
  v?: Tensor<FloatDType>;
  att?: Tensor<FloatDType>;
  lse?: Tensor<'float32'>;
  h1?: Tensor<FloatDType>;
  gate?: Tensor<FloatDType>;
  up?: Tensor<FloatDType>;
  /** x A^T of each adapted projection (LoRA), [..., r] */
  xa?: Map<LoraTarget, Tensor<FloatDType>>;
}

const layerTensors = (l: LayerSaved): Tensor[] => [...(Object.entries(l) as [string, unknown][]).flatMap(([k, v]) => (k === 'xa' ? [...(v as Map<LoraTarget, Tensor>).values()] : [v as Tensor]))];

/** What forwardTrain keeps for the backward. Free it with dispose() (backward does). */
export class SavedActivations {
  /** @internal */ readonly layers: LayerSaved[] = [];
  /** @internal */ xFinal!: Tensor<FloatDType>;
  /** @internal */ hidden!: Tensor<FloatDType>;
  /** @internal */ tokens?: Tensor;
  /** @internal */ keyMask?: Tensor<'bool'>;
  /** @internal */ positions!: Tensor<'int32'>;
  /** @internal */ shape!: [number, number];
  /** @internal */ checkpoint = false;
  /** @internal projector activations: features, pre-GELU, post-GELU; starts */
  visual?: { vf: Tensor<FloatDType>; h: Tensor<FloatDType>; a: Tensor<FloatDType>; starts: number[]; nv: number };
  /** @internal */ model!: LlamaModel;
  /** @internal the adapters of the forward (the backward uses the same) */ lora?: LoraState;
  private freed = false;

  /** Bytes of the tensors held (activations only; the weights are not counted). */
  get bytes(): number {
    let n = this.xFinal.byteLength + (this.positions?.byteLength ?? 0) + (this.keyMask?.byteLength ?? 0);
    if (this.visual) n += this.visual.vf.byteLength + this.visual.h.byteLength + this.visual.a.byteLength;
    for (const l of this.layers) for (const t of layerTensors(l)) n += t.byteLength;
    return n;
  }

  get disposed(): boolean {
    return this.freed;
  }

  dispose(): void {
    if (this.freed) return;
    this.freed = true;
    for (const l of this.layers) for (const t of layerTensors(l)) t.dispose();
    this.xFinal.dispose();
    this.positions.dispose();
    this.keyMask?.dispose();
    this.tokens?.dispose();
    if (this.visual) for (const t of [this.visual.vf, this.visual.h, this.visual.a]) t.dispose();
  }
}

export interface TrainForwardResult {
  /** Logits [B, T, V] (with logits: 'all'). */
  logits?: Tensor<FloatDType>;
  /** Final normalised hidden states [B, T, D] (owned by the caller; backward does not need it). */
  hidden: Tensor<FloatDType>;
  saved: SavedActivations;
}

export interface BackwardOptions {
  /** Names whose gradient to compute (default: every parameter of model.parameters()). */
  params?: Iterable<string>;
  /** Add into these float32 gradients (by name) instead of new tensors: gradient accumulation. */
  grads?: Map<string, Tensor<'float32'>>;
}

export interface BackwardResult {
  /** float32 gradients by Hugging Face name. */
  grads: Map<string, Tensor<'float32'>>;
  /** Gradient of inputsEmbeds [B, T, D] (model dtype) when the forward was given inputsEmbeds. */
  dInputsEmbeds?: Tensor<FloatDType>;
}

/** Every parameter a backward can fill: model.parameters() and, with adapters on, loraParameters(). */
function namedParams(model: LlamaModel): Map<Tensor, string> {
  const m = new Map<Tensor, string>();
  for (const [n, t] of model.parameters()) m.set(t, n);
  if (model._activeLora) for (const [n, t] of model.loraParameters()) m.set(t, n);
  return m;
}

/**
 * The names `backward` computes gradients for by default: the adapters when the model has LoRA
 * adapters switched on (the base weights are frozen, as PEFT does), else every parameter.
 */
export function trainableNames(model: LlamaModel): string[] {
  return model._activeLora ? model.loraParameters().map(([n]) => n) : model.parameters().map(([n]) => n);
}

const TARGET_WEIGHT: Record<LoraTarget, 'wq' | 'wk' | 'wv' | 'wo' | 'wGate' | 'wUp' | 'wDown'> = {
  q_proj: 'wq', k_proj: 'wk', v_proj: 'wv', o_proj: 'wo', gate_proj: 'wGate', up_proj: 'wUp', down_proj: 'wDown',
};
const TARGET_BIAS: Partial<Record<LoraTarget, 'bq' | 'bk' | 'bv' | 'bo'>> = { q_proj: 'bq', k_proj: 'bk', v_proj: 'bv', o_proj: 'bo' };

/** y = x W^T (+ b) (+ scale (x A^T) B^T); keeps x A^T for the backward. */
function project(lora: LoraState | undefined, l: number, L: LlamaLayer, t: LoraTarget, x: Tensor<FloatDType>, keep: LayerSaved | undefined): Tensor<FloatDType> {
  const b = TARGET_BIAS[t] ? L[TARGET_BIAS[t]!] : undefined;
  const y = linear(x, L[TARGET_WEIGHT[t]], b ? { bias: b } : {}) as Tensor<FloatDType>;
  const ad = lora?.adapters[l]?.get(t);
  if (ad) {
    const xa = linear(x, ad.a) as Tensor<FloatDType>;
    const d = linear(xa, ad.b);
    add(y, d, { alpha: lora!.scale, out: y });
    d.dispose();
    if (keep) (keep.xa ??= new Map()).set(t, xa);
    else xa.dispose();
  }
  return y;
}

function defaultPositions(mask: Tensor<'bool'> | undefined, B: number, T: number): Tensor<'int32'> {
  // Hugging Face: position_ids = cumsum(attention_mask) - 1, and 1 where the mask is 0 (never attended)
  const p = new Int32Array(B * T);
  const m = mask?.toArray(); // copies from a GPU
  for (let b = 0; b < B; b++)
    for (let t = 0, n = 0; t < T; t++) {
      const real = !m || m[b * T + t] !== 0;
      p[b * T + t] = real ? n++ : 1;
    }
  return tensor(p, [B, T]);
}

/** Runs decoder layer l on x [B, T, D]; returns the output and what the backward keeps. */
function layerForward(model: LlamaModel, l: number, x: Tensor<FloatDType>, s: SavedActivations, keep: boolean): { y: Tensor<FloatDType>; saved: LayerSaved } {
  const c = model.config;
  const L = model.layers[l]!;
  const [B, T] = s.shape;
  const { numHeads: H, numKvHeads: Hkv, headDim: d } = c;
  const saved: LayerSaved = { x };
  const kept = keep ? saved : undefined;
  const heads = (t: Tensor<FloatDType>, n: number): Tensor<FloatDType> => {
    const r = permute(t.reshape([B, T, n, d]), [0, 2, 1, 3]) as Tensor<FloatDType>;
    t.dispose();
    return r;
  };
  const n1 = rmsNorm(x, L.attnNorm, { eps: c.rmsNormEps }) as Tensor<FloatDType>;
  const q = heads(project(s.lora, l, L, 'q_proj', n1, kept), H);
  const k = heads(project(s.lora, l, L, 'k_proj', n1, kept), Hkv);
  const v = heads(project(s.lora, l, L, 'v_proj', n1, kept), Hkv);
  n1.dispose();
  rotary(q, { positions: s.positions, theta: c.ropeTheta, inPlace: true });
  rotary(k, { positions: s.positions, theta: c.ropeTheta, inPlace: true });
  const r = masked(q, k, v, { causal: true, returnLse: true, ...(s.keyMask ? { keyMask: s.keyMask } : {}) });
  const att = r.out as Tensor<FloatDType>;
  const merged = permute(att, [0, 2, 1, 3]).reshape([B, T, H * d]) as Tensor<FloatDType>;
  const proj = project(s.lora, l, L, 'o_proj', merged, kept);
  merged.dispose();
  const h1 = add(x, proj) as Tensor<FloatDType>;
  proj.dispose();
  const n2 = rmsNorm(h1, L.mlpNorm, { eps: c.rmsNormEps }) as Tensor<FloatDType>;
  const gate = project(s.lora, l, L, 'gate_proj', n2, kept);
  const up = project(s.lora, l, L, 'up_proj', n2, kept);
  n2.dispose();
  const act = swiglu(gate, up) as Tensor<FloatDType>;
  const down = project(s.lora, l, L, 'down_proj', act, kept);
  act.dispose();
  const y = add(h1, down) as Tensor<FloatDType>;
  down.dispose();
  if (keep) return { y, saved: Object.assign(saved, { q, k, v, att, lse: r.lse, h1, gate, up }) };
  for (const t of [q, k, v, att, r.lse, h1, gate, up] as Tensor[]) t.dispose();
  return { y, saved };
}

/** LLaVA's projector forward: h = linear_1(vf), a = GELU(h) (exact), p = linear_2(a); h and a are what the backward needs. */
export function projectorForward(pr: LlavaProjector, vf: Tensor<FloatDType>): { h: Tensor<FloatDType>; a: Tensor<FloatDType>; p: Tensor<FloatDType> } {
  const h = linear(vf, pr.w1, pr.b1 ? { bias: pr.b1 } : {}) as Tensor<FloatDType>;
  const a = gelu(h) as Tensor<FloatDType>;
  return { h, a, p: linear(a, pr.w2, pr.b2 ? { bias: pr.b2 } : {}) as Tensor<FloatDType> };
}

/** Projector forward (Linear, exact GELU, Linear) and the splice of its rows into x (CPU). */
function splice(op: string, model: LlamaModel, s: SavedActivations, x: Tensor<FloatDType>, features: TensorLike, startsIn: ArrayLike<number> | undefined): void {
  const pr = model.projector;
  if (!pr) fail('ERR_ARGUMENT', op, 'expected a model with a multi_modal_projector (a LLaVA checkpoint, or random({ visionHiddenSize })) for visualFeatures');
  const [B, T] = s.shape;
  const D = model.config.hiddenSize;
  const vf = tensorArg(op, 'visualFeatures', features, [model.dtype], 3) as Tensor<FloatDType>;
  expectShape(op, 'visualFeatures', vf, [B, vf.shape[1]!, pr.w1.shape[1]!]);
  const nv = vf.shape[1]!;
  if (startsIn === undefined || typeof startsIn.length !== 'number' || startsIn.length !== B)
    fail('ERR_ARGUMENT', op, `expected imageStarts, ${B} integers, but received ${startsIn === undefined ? 'none' : String(startsIn)}`);
  const starts = Array.from(startsIn, (v, i) => {
    if (!Number.isInteger(v) || v < 0 || v + nv > T) fail('ERR_RANGE', op, `expected imageStarts[${i}] an integer in [0, ${T - nv}] but received ${v}`);
    return v;
  });
  sameDevice(op, { weights: model.embed, visualFeatures: vf });
  const { h, a, p } = projectorForward(pr, vf);
  for (let b = 0; b < B; b++) x._copyRange(p, (b * T + starts[b]!) * D, b * nv * D, nv * D);
  p.dispose();
  s.visual = { vf: vf.clone() as Tensor<FloatDType>, h, a, starts, nv };
}

/**
 * The training forward: logits (or only hidden states) of a whole batch, and the activations the
 * backward needs. Inputs are not modified.
 */
export function forwardTrain(model: LlamaModel, batch: TrainBatch, options: TrainForwardOptions = {}): TrainForwardResult {
  const op = 'LlamaModel.forwardTrain';
  const o = checkOptions(op, options, ['logits', 'checkpoint', 'noise']);
  const b = checkOptions(op, batch, ['tokens', 'inputsEmbeds', 'attentionMask', 'positions', 'visualFeatures', 'imageStarts']);
  const which = enumOpt(op, 'logits', o.logits, ['all', 'none'] as const, 'all');
  const checkpoint = boolOpt(op, 'checkpoint', o.checkpoint, false);
  const c = model.config;
  if ((b.tokens === undefined) === (b.inputsEmbeds === undefined)) fail('ERR_ARGUMENT', op, 'expected exactly one of tokens and inputsEmbeds but received ' + (b.tokens === undefined ? 'neither' : 'both'));
  const s = new SavedActivations();
  s.model = model;
  s.checkpoint = checkpoint;
  let x: Tensor<FloatDType>;
  if (b.tokens !== undefined) {
    const tok = tensorArg(op, 'tokens', b.tokens, ['int32', 'int64'], 2);
    sameDevice(op, { weights: model.embed, tokens: tok });
    s.shape = [tok.shape[0]!, tok.shape[1]!];
    s.tokens = tok.clone();
    x = embedding(model.embed, tok) as Tensor<FloatDType>;
  } else {
    const e = tensorArg(op, 'inputsEmbeds', b.inputsEmbeds!, [model.dtype], 3);
    sameDevice(op, { weights: model.embed, inputsEmbeds: e });
    expectShape(op, 'inputsEmbeds', e, [e.shape[0]!, e.shape[1]!, c.hiddenSize]);
    s.shape = [e.shape[0]!, e.shape[1]!];
    x = e.clone() as Tensor<FloatDType>;
  }
  const [B, T] = s.shape;
  if (b.attentionMask !== undefined) {
    const m = tensorArg(op, 'attentionMask', b.attentionMask, ['bool'], 2) as Tensor<'bool'>;
    expectShape(op, 'attentionMask', m, [B, T]);
    sameDevice(op, { weights: model.embed, attentionMask: m });
    s.keyMask = m.clone();
  }
  if (b.positions !== undefined) {
    const p = tensorArg(op, 'positions', b.positions, ['int32'], 2) as Tensor<'int32'>;
    expectShape(op, 'positions', p, [B, T]);
    s.positions = p.clone();
  } else {
    const p = defaultPositions(s.keyMask, B, T);
    s.positions = model.device === 'cpu' ? p : (p.to(model.embed.device) as Tensor<'int32'>);
  }
  if (b.visualFeatures !== undefined) splice(op, model, s, x, b.visualFeatures, b.imageStarts);
  else if (b.imageStarts !== undefined) fail('ERR_ARGUMENT', op, 'expected imageStarts only with visualFeatures');
  if (o.noise !== undefined) {
    if (!s.visual) fail('ERR_ARGUMENT', op, 'expected noise (NoiseBoost) only with visualFeatures');
    const { nv, starts } = s.visual;
    const n = checkOptions(op, o.noise, ['sigma', 'scale', 'prob', 'rows', 'seed', 'offset']);
    visualTokens(x, { ...n, spans: starts.map((st) => [[st, nv] as const]), inPlace: true });
  }
  s.lora = model._activeLora;
  for (let l = 0; l < model.layers.length; l++) {
    const { y, saved } = layerForward(model, l, x, s, !checkpoint);
    s.layers.push(saved);
    x = y;
  }
  s.xFinal = x;
  const hidden = rmsNorm(x, model.finalNorm, { eps: c.rmsNormEps }) as Tensor<FloatDType>;
  if (which === 'none') return { hidden, saved: s };
  return { hidden, logits: linear(hidden, model.lmHead) as Tensor<FloatDType>, saved: s };
}

/**
 * The backward of forwardTrain: from dLogits [B, T, V] (or dHidden [B, T, D], the gradient of the
 * final normalised hidden states, e.g. from a fused head loss) to float32 gradients of the named
 * parameters. Disposes `saved`.
 */
export function backward(
  model: LlamaModel,
  saved: SavedActivations,
  grad: { dLogits: TensorLike; dHidden?: undefined } | { dHidden: TensorLike; dLogits?: undefined },
  options: BackwardOptions = {},
): BackwardResult {
  const op = 'LlamaModel.backward';
  const o = checkOptions(op, options, ['params', 'grads']);
  if (saved.disposed) fail('ERR_DETACHED', op, 'expected saved activations but received ones already used or disposed');
  if (saved.model !== model) fail('ERR_ARGUMENT', op, 'expected the activations of this model but received those of another');
  const c = model.config;
  const [B, T] = saved.shape;
  const D = c.hiddenSize;
  const { numHeads: H, numKvHeads: Hkv, headDim: d } = c;
  if (saved.lora !== model._activeLora) fail('ERR_ARGUMENT', op, 'expected the adapters of the forward, but they were changed or switched since');
  const names = namedParams(model);
  const known = new Set(names.values());
  const want = new Set(o.params ? [...o.params] : trainableNames(model));
  for (const n of want) if (!known.has(n)) fail('ERR_ARGUMENT', op, `expected a parameter name of this model (parameters() or loraParameters()) but received '${n}'`);
  const grads = o.grads ?? new Map<string, Tensor<'float32'>>();
  const nameOf = (t: Tensor | undefined) => (t ? names.get(t) : undefined);
  const wants = (t: Tensor | undefined) => {
    const n = nameOf(t);
    return n !== undefined && want.has(n);
  };
  /** dx of y = x W^T (+ b); dW, db (+)= into grads by name when wanted. */
  const lin = (dy: Tensor, x: Tensor, w: Tensor, b?: Tensor, needInput = true): Tensor<FloatDType> | undefined => {
    const needWeight = wants(w);
    const needBias = wants(b);
    if (!needInput && !needWeight && !needBias) return undefined;
    const pw = needWeight ? grads.get(nameOf(w)!) : undefined;
    const pb = needBias ? grads.get(nameOf(b)!) : undefined;
    const r = linearBackward(dy as Tensor<FloatDType>, x as Tensor<FloatDType>, w as Tensor<FloatDType>, {
      needInput, needWeight, needBias,
      ...(pw ? { dWeightOut: pw } : {}), ...(pb ? { dBiasOut: pb } : {}),
      ...((pw || pb) && !((needWeight && !pw) || (needBias && !pb)) ? { accumulate: true } : {}),
    });
    if (needWeight && !pw) grads.set(nameOf(w)!, r.dWeight as Tensor<'float32'>);
    if (needBias && !pb) grads.set(nameOf(b)!, r.dBias as Tensor<'float32'>);
    return r.dx as Tensor<FloatDType> | undefined;
  };
  /** backward of project(): base weight/bias, then the adapter (y += s (x A^T) B^T) */
  const proj = (dy: Tensor, x: Tensor, l: number, t: LoraTarget, s: LayerSaved): Tensor<FloatDType> => {
    const L = model.layers[l]!;
    const dx = lin(dy, x, L[TARGET_WEIGHT[t]], TARGET_BIAS[t] ? L[TARGET_BIAS[t]!] : undefined)!;
    const ad = saved.lora?.adapters[l]?.get(t);
    if (ad) {
      const ds = add(zeros(dy.shape, dy.dtype as FloatDType, { device: deviceOf(dy) }), dy, { alpha: saved.lora!.scale });
      const dxa = lin(ds, s.xa!.get(t)!, ad.b)!;
      ds.dispose();
      addInto(dx, lin(dxa, x, ad.a)!);
      dxa.dispose();
    }
    return dx;
  };
  const norm = (dy: Tensor, x: Tensor, w: Tensor) => {
    const n = nameOf(w)!;
    const prev = want.has(n) ? grads.get(n) : undefined;
    const r = rmsNormBackward(dy, x, w, { eps: c.rmsNormEps, ...(prev ? { dWeightOut: prev, accumulate: true } : {}) });
    if (want.has(n) && !prev) grads.set(n, r.dWeight as Tensor<'float32'>);
    else if (!want.has(n)) r.dWeight.dispose();
    return r.dx as Tensor<FloatDType>;
  };
  const addInto = (a: Tensor, b: Tensor) => {
    add(a, b, { out: a });
    b.dispose();
  };

  // head: logits = linear(rmsNorm(xFinal), lmHead)
  let dh: Tensor<FloatDType>;
  if (grad.dLogits !== undefined) {
    const dl = tensorArg(op, 'dLogits', grad.dLogits, [model.dtype], 3);
    expectShape(op, 'dLogits', dl, [B, T, c.vocabSize]);
    const hidden = rmsNorm(saved.xFinal, model.finalNorm, { eps: c.rmsNormEps });
    dh = lin(dl, hidden, model.lmHead)!;
    hidden.dispose();
  } else {
    const dg = tensorArg(op, 'dHidden', grad.dHidden!, [model.dtype], 3);
    expectShape(op, 'dHidden', dg, [B, T, D]);
    dh = dg.clone() as Tensor<FloatDType>;
  }
  const dx = norm(dh, saved.xFinal, model.finalNorm);
  dh.dispose();

  for (let l = model.layers.length - 1; l >= 0; l--) {
    const L = model.layers[l]!;
    let s = saved.layers[l]!;
    if (saved.checkpoint) {
      const r = layerForward(model, l, s.x, saved, true);
      r.y.dispose();
      s = r.saved;
    }
    // MLP block: y = h1 + down(swiglu(gate(n2), up(n2))), n2 = rmsNorm(h1); dx holds dL/dy
    const act = swiglu(s.gate!, s.up!);
    const dAct = proj(dx, act, l, 'down_proj', s);
    act.dispose();
    const { dGate, dUp } = swigluBackward(dAct, s.gate!, s.up!);
    dAct.dispose();
    const n2 = rmsNorm(s.h1!, L.mlpNorm, { eps: c.rmsNormEps });
    const dn2 = proj(dGate, n2, l, 'gate_proj', s);
    addInto(dn2, proj(dUp, n2, l, 'up_proj', s));
    for (const t of [n2, dGate, dUp]) t.dispose();
    addInto(dx, norm(dn2, s.h1!, L.mlpNorm)); // dx is now dL/dh1
    dn2.dispose();
    // attention block: h1 = x + o_proj(merge(attn(rot(q), rot(k), v))), q/k/v = proj(rmsNorm(x))
    const merged = permute(s.att!, [0, 2, 1, 3]).reshape([B, T, H * d]);
    const dMerged = proj(dx, merged, l, 'o_proj', s);
    merged.dispose();
    const dAtt = permute(dMerged.reshape([B, T, H, d]), [0, 2, 1, 3]);
    dMerged.dispose();
    const r = maskedBackward(dAtt, s.q!, s.k!, s.v!, s.att!, s.lse!, { causal: true, ...(saved.keyMask ? { keyMask: saved.keyMask } : {}) });
    dAtt.dispose();
    rotaryBackward(r.dq, { positions: saved.positions, theta: c.ropeTheta, inPlace: true });
    rotaryBackward(r.dk, { positions: saved.positions, theta: c.ropeTheta, inPlace: true });
    const flat = (t: Tensor, n: number) => {
      const f = permute(t, [0, 2, 1, 3]).reshape([B, T, n * d]);
      t.dispose();
      return f;
    };
    const dq = flat(r.dq, H), dk = flat(r.dk, Hkv), dv = flat(r.dv, Hkv);
    const n1 = rmsNorm(s.x, L.attnNorm, { eps: c.rmsNormEps });
    const dn1 = proj(dq, n1, l, 'q_proj', s);
    addInto(dn1, proj(dk, n1, l, 'k_proj', s));
    addInto(dn1, proj(dv, n1, l, 'v_proj', s));
    for (const t of [n1, dq, dk, dv]) t.dispose();
    addInto(dx, norm(dn1, s.x, L.attnNorm)); // dx is now dL/dx of layer l
    dn1.dispose();
    if (saved.checkpoint) for (const t of layerTensors(s)) if (t !== s.x) t.dispose();
  }

  if (saved.visual && model.projector) {
    // the visual rows of dx go to the projector; the placeholder tokens under them get no gradient
    const { vf, h, a, starts, nv } = saved.visual;
    const pr = model.projector;
    const dP = zeros([B, nv, D], model.dtype, { device: deviceOf(dx) }) as Tensor<FloatDType>;
    for (let b = 0; b < B; b++) {
      const at = (b * T + starts[b]!) * D;
      dP._copyRange(dx, b * nv * D, at, nv * D);
      dx._copyRange(null, at, 0, nv * D);
    }
    if (wants(pr.w1) || wants(pr.b1)) {
      const da = lin(dP, a, pr.w2, pr.b2)!;
      geluBackward(da, h, { out: da });
      lin(da, vf, pr.w1, pr.b1, false);
      da.dispose();
    } else lin(dP, a, pr.w2, pr.b2, false);
    dP.dispose();
  }

  let dInputsEmbeds: Tensor<FloatDType> | undefined;
  if (saved.tokens) {
    if (wants(model.embed)) {
      const n = nameOf(model.embed)!;
      const prev = grads.get(n);
      const dE = embeddingBackward(dx, saved.tokens, { vocabSize: c.vocabSize, ...(prev ? { out: prev, accumulate: true } : {}) });
      if (!prev) grads.set(n, dE as Tensor<'float32'>);
    }
    dx.dispose();
  } else dInputsEmbeds = dx;
  saved.dispose();
  return dInputsEmbeds ? { grads, dInputsEmbeds } : { grads };
}

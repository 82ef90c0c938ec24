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
import type { FloatDType } from '../dtype';
import { fail } from '../errors';
import { Tensor, tensor, type TensorLike } from '../tensor';
import { checkOptions, enumOpt, expectShape, sameDevice, tensorArg, boolOpt } from '../validate';
import type { LlamaLayer, LlamaModel } from './llama';

export interface TrainBatch {
  /** Token ids, int32/int64 [B, T] (or give inputsEmbeds). */
  tokens?: TensorLike;
  /** Input embeddings [B, T, D] in the model's dtype instead of tokens (e.g. visual tokens spliced in). */
  inputsEmbeds?: TensorLike;
  /** Which positions are real tokens, bool [B, T] (false = padding, left or right): padded keys are never attended. */
  attentionMask?: TensorLike<'bool'>;
  /** Rotary positions, int32 [B, T]; default: with attentionMask, the count of real tokens before t (HF); else t. */
  positions?: TensorLike<'int32'>;
}

export interface TrainForwardOptions {
  /** 'all' (default): logits [B, T, V]; 'none': only the final hidden states (a fused head computes the loss). */
  logits?: 'all' | 'none';
  /** Keep only each layer's input and recompute the layer in the backward (default false). */
  checkpoint?: boolean;
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
}

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
  /** @internal */ model!: LlamaModel;
  private freed = false;

  /** Bytes of the tensors held (activations only; the weights are not counted). */
  get bytes(): number {
    let n = this.xFinal.byteLength + (this.positions?.byteLength ?? 0) + (this.keyMask?.byteLength ?? 0);
    for (const l of this.layers) for (const t of Object.values(l) as Tensor[]) n += t.byteLength;
    return n;
  }

  get disposed(): boolean {
    return this.freed;
  }

  dispose(): void {
    if (this.freed) return;
    this.freed = true;
    for (const l of this.layers) for (const t of Object.values(l) as Tensor[]) t.dispose();
    this.xFinal.dispose();
    this.positions.dispose();
    this.keyMask?.dispose();
    this.tokens?.dispose();
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

const hfLayer = (l: number) => `model.layers.${l}.`;
const LAYER_NAMES: Record<keyof LlamaLayer, string> = {
  attnNorm: 'input_layernorm.weight',
  wq: 'self_attn.q_proj.weight',
  wk: 'self_attn.k_proj.weight',
  wv: 'self_attn.v_proj.weight',
  wo: 'self_attn.o_proj.weight',
  mlpNorm: 'post_attention_layernorm.weight',
  wGate: 'mlp.gate_proj.weight',
  wUp: 'mlp.up_proj.weight',
  wDown: 'mlp.down_proj.weight',
};
/** Hugging Face name of a layer weight. */
export const layerParamName = (l: number, k: keyof LlamaLayer): string => hfLayer(l) + LAYER_NAMES[k];

/** Every trainable parameter name of a model, in Hugging Face order. */
export function parameterNames(model: LlamaModel): string[] {
  const names = ['model.embed_tokens.weight'];
  model.layers.forEach((_, l) => {
    for (const k of Object.keys(LAYER_NAMES) as (keyof LlamaLayer)[]) names.push(layerParamName(l, k));
  });
  names.push('model.norm.weight');
  if (model.lmHead !== model.embed) names.push('lm_head.weight');
  return names;
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

/** Runs one decoder layer on x [B, T, D]; returns the output and what the backward keeps. */
function layerForward(model: LlamaModel, L: LlamaLayer, x: Tensor<FloatDType>, s: SavedActivations, keep: boolean): { y: Tensor<FloatDType>; saved: LayerSaved } {
  const c = model.config;
  const [B, T] = s.shape;
  const { numHeads: H, numKvHeads: Hkv, headDim: d } = c;
  const heads = (t: Tensor<FloatDType>, n: number): Tensor<FloatDType> => {
    const r = permute(t.reshape([B, T, n, d]), [0, 2, 1, 3]) as Tensor<FloatDType>;
    t.dispose();
    return r;
  };
  const n1 = rmsNorm(x, L.attnNorm, { eps: c.rmsNormEps }) as Tensor<FloatDType>;
  const q = heads(linear(n1, L.wq) as Tensor<FloatDType>, H);
  const k = heads(linear(n1, L.wk) as Tensor<FloatDType>, Hkv);
  const v = heads(linear(n1, L.wv) as Tensor<FloatDType>, Hkv);
  n1.dispose();
  rotary(q, { positions: s.positions, theta: c.ropeTheta, inPlace: true });
  rotary(k, { positions: s.positions, theta: c.ropeTheta, inPlace: true });
  const { out: att, lse } = masked(q, k, v, { causal: true, returnLse: true, ...(s.keyMask ? { keyMask: s.keyMask } : {}) });
  const merged = permute(att, [0, 2, 1, 3]).reshape([B, T, H * d]);
  const proj = linear(merged, L.wo) as Tensor<FloatDType>;
  merged.dispose();
  const h1 = add(x, proj) as Tensor<FloatDType>;
  proj.dispose();
  const n2 = rmsNorm(h1, L.mlpNorm, { eps: c.rmsNormEps }) as Tensor<FloatDType>;
  const gate = linear(n2, L.wGate) as Tensor<FloatDType>;
  const up = linear(n2, L.wUp) as Tensor<FloatDType>;
  n2.dispose();
  const act = swiglu(gate, up) as Tensor<FloatDType>;
  const down = linear(act, L.wDown) as Tensor<FloatDType>;
  act.dispose();
  const y = add(h1, down) as Tensor<FloatDType>;
  down.dispose();
  if (keep) return { y, saved: { x, q, k, v, att: att as Tensor<FloatDType>, lse, h1, gate, up } };
  for (const t of [q, k, v, att, lse, h1, gate, up] as Tensor[]) t.dispose();
  return { y, saved: { x } };
}

/**
 * The training forward: logits (or only hidden states) of a whole batch, and the activations the
 * backward needs. Inputs are not modified.
 */
export function forwardTrain(model: LlamaModel, batch: TrainBatch, options: TrainForwardOptions = {}): TrainForwardResult {
  const op = 'LlamaModel.forwardTrain';
  const o = checkOptions(op, options, ['logits', 'checkpoint']);
  const b = checkOptions(op, batch, ['tokens', 'inputsEmbeds', 'attentionMask', 'positions']);
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
  for (const L of model.layers) {
    const { y, saved } = layerForward(model, L, x, s, !checkpoint);
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
  const all = parameterNames(model);
  const want = new Set(o.params ? [...o.params] : all);
  for (const n of want) if (!all.includes(n)) fail('ERR_ARGUMENT', op, `expected a parameter name of this model but received '${n}'`);
  const grads = o.grads ?? new Map<string, Tensor<'float32'>>();
  /** dW (+)= for a linear weight; accumulate when a gradient of that name exists already. */
  const lin = (dy: Tensor, x: Tensor, w: Tensor, name: string, needInput = true) => {
    const needWeight = want.has(name);
    const prev = grads.get(name);
    const r = linearBackward(dy, x, w, { needInput, needWeight, ...(needWeight && prev ? { dWeightOut: prev, accumulate: true } : {}) });
    if (needWeight && !prev) grads.set(name, r.dWeight as Tensor<'float32'>);
    return r.dx as Tensor<FloatDType> | undefined;
  };
  const norm = (dy: Tensor, x: Tensor, w: Tensor, name: string) => {
    const prev = grads.get(name);
    const r = rmsNormBackward(dy, x, w, { eps: c.rmsNormEps, ...(want.has(name) && prev ? { dWeightOut: prev, accumulate: true } : {}) });
    if (want.has(name) && !prev) grads.set(name, r.dWeight as Tensor<'float32'>);
    else if (!want.has(name)) r.dWeight.dispose();
    return r.dx as Tensor<FloatDType>;
  };
  const addInto = (a: Tensor, b: Tensor) => {
    add(a, b, { out: a });
    b.dispose();
  };

  // head
  let dh: Tensor<FloatDType>;
  if (grad.dLogits !== undefined) {
    const dl = tensorArg(op, 'dLogits', grad.dLogits, [model.dtype], 3);
    expectShape(op, 'dLogits', dl, [B, T, c.vocabSize]);
    const hidden = rmsNorm(saved.xFinal, model.finalNorm, { eps: c.rmsNormEps });
    const headName = model.lmHead === model.embed ? 'model.embed_tokens.weight' : 'lm_head.weight';
    dh = lin(dl, hidden, model.lmHead, headName)!;
    hidden.dispose();
  } else {
    const dg = tensorArg(op, 'dHidden', grad.dHidden!, [model.dtype], 3);
    expectShape(op, 'dHidden', dg, [B, T, D]);
    dh = dg.clone() as Tensor<FloatDType>;
  }
  let dx = norm(dh, saved.xFinal, model.finalNorm, 'model.norm.weight');
  dh.dispose();

  for (let l = model.layers.length - 1; l >= 0; l--) {
    const L = model.layers[l]!;
    let s = saved.layers[l]!;
    if (saved.checkpoint) {
      const r = layerForward(model, L, s.x, saved, true);
      r.y.dispose();
      s = r.saved;
    }
    const name = (k: keyof LlamaLayer) => layerParamName(l, k);
    // MLP block: y = h1 + down(swiglu(gate(n2), up(n2))), n2 = rmsNorm(h1)
    const act = swiglu(s.gate!, s.up!);
    const dAct = lin(dx, act, L.wDown, name('wDown'))!;
    act.dispose();
    const { dGate, dUp } = swigluBackward(dAct, s.gate!, s.up!);
    dAct.dispose();
    const n2 = rmsNorm(s.h1!, L.mlpNorm, { eps: c.rmsNormEps });
    const dn2 = lin(dGate, n2, L.wGate, name('wGate'))!;
    addInto(dn2, lin(dUp, n2, L.wUp, name('wUp'))!);
    n2.dispose();
    dGate.dispose();
    dUp.dispose();
    addInto(dx, norm(dn2, s.h1!, L.mlpNorm, name('mlpNorm'))); // dx is now dh1
    dn2.dispose();
    // attention block: h1 = x + o_proj(merge(attn(rot(q), rot(k), v))), q/k/v = proj(rmsNorm(x))
    const merged = permute(s.att!, [0, 2, 1, 3]).reshape([B, T, H * d]);
    const dMerged = lin(dx, merged, L.wo, name('wo'))!;
    merged.dispose();
    const dAtt = permute(dMerged.reshape([B, T, H, d]), [0, 2, 1, 3]);
    dMerged.dispose();
    const r = maskedBackward(dAtt, s.q!, s.k!, s.v!, s.att!, s.lse!, { causal: true, ...(saved.keyMask ? { keyMask: saved.keyMask } : {}) });
    dAtt.dispose();
    const unrot = (t: Tensor) => rotaryBackward(t, { positions: saved.positions, theta: c.ropeTheta, out: t });
    unrot(r.dq);
    unrot(r.dk);
    const flat = (t: Tensor, n: number) => {
      const f = permute(t, [0, 2, 1, 3]).reshape([B, T, n * d]);
      t.dispose();
      return f;
    };
    const dq = flat(r.dq, H), dk = flat(r.dk, Hkv), dv = flat(r.dv, Hkv);
    const n1 = rmsNorm(s.x, L.attnNorm, { eps: c.rmsNormEps });
    const dn1 = lin(dq, n1, L.wq, name('wq'))!;
    addInto(dn1, lin(dk, n1, L.wk, name('wk'))!);
    addInto(dn1, lin(dv, n1, L.wv, name('wv'))!);
    for (const t of [n1, dq, dk, dv]) t.dispose();
    addInto(dx, norm(dn1, s.x, L.attnNorm, name('attnNorm'))); // dx is now dx_l
    dn1.dispose();
    if (saved.checkpoint) for (const [k, t] of Object.entries(s) as [string, Tensor][]) if (k !== 'x') t.dispose();
  }

  let dInputsEmbeds: Tensor<FloatDType> | undefined;
  if (saved.tokens) {
    const name = 'model.embed_tokens.weight';
    if (want.has(name)) {
      const prev = grads.get(name);
      const dE = embeddingBackward(dx, saved.tokens, { vocabSize: c.vocabSize, ...(prev ? { out: prev, accumulate: true } : {}) });
      if (!prev) grads.set(name, dE as Tensor<'float32'>);
    }
    dx.dispose();
  } else dInputsEmbeds = dx;
  saved.dispose();
  return dInputsEmbeds ? { grads, dInputsEmbeds } : { grads };
}

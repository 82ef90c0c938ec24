/**
 * One training step of a LlamaModel, end to end on mmpref kernels:
 * - dpoStep: reference log-probs (given, from a frozen `reference` model, or the same model with its
 *   LoRA adapters switched off: no second copy of the weights; no activations kept), the policy forward of the concatenated
 *   chosen + rejected rows (NoiseBoost on the chosen rows' visual tokens when asked), dpo.step
 *   (any loss type), the backward and, unless accumulating, the optimizer update.
 * - sftStep: the same with the token-mean cross-entropy.
 * By default the head is fused (`fusedHead: true`): the forward stops at the final hidden states and
 * dpo.linearStep / ops.linearCrossEntropy compute the loss, dHidden and dLmHead in chunks, so no
 * [rows, T, V] logits are ever held (issue 16). `fusedHead: false` materialises the logits and uses
 * dpo.step / ops.crossEntropy (the two agree within float32 rounding; test/train_steps.test.ts).
 * Gradient accumulation: pass `grads` (a Map the steps add into) and no optimizer, then call
 * optimizer.update(grads) yourself after the last micro-batch.
 */
import { fail } from '../errors';
import type { FloatDType } from '../dtype';
import { LlamaModel } from '../models/llama';
import { trainableNames, type TrainBatch, type TrainNoiseOptions } from '../models/train';
import { crossEntropy } from '../ops/cross_entropy';
import { linearCrossEntropy, linearLogps } from '../ops/linear_logps';
import { linearStep } from '../ops/linear_step';
import type { DpoLossOptions } from '../ops/dpo_loss';
import { step as dpoLossStep } from '../ops/dpo_step';
import { sequenceLogps } from '../ops/sequence_logps';
import { deviceOf, moveTo, tensor, type Tensor, type TensorLike } from '../tensor';
import { boolOpt, checkOptions, numberOpt, tensorArg } from '../validate';
import type { AdamW } from './optimizer';

export interface StepBatch extends TrainBatch {
  /** Labels like tokens ([rows, T], int32/int64): the token each position is scored against; ignoreIndex on prompt, padding and image positions. */
  labels: TensorLike;
}

export interface DpoStepBatch extends StepBatch {
  /** float32 [B] reference log-probs of the chosen rows (default: computed with the adapters off). */
  refChosen?: TensorLike;
  /** float32 [B] reference log-probs of the rejected rows. */
  refRejected?: TensorLike;
}

interface CommonStepOptions {
  /** Labels not scored (default -100). */
  ignoreIndex?: number;
  /** Causal shift: position t predicts labels[t + 1] (default true). */
  shift?: boolean;
  /** NoiseBoost on the visual tokens (needs visualFeatures). dpoStep default rows: the chosen rows only. */
  noise?: TrainNoiseOptions;
  /** Activation checkpointing (forwardTrain). */
  checkpoint?: boolean;
  /** Update with this optimizer after the backward (omit when accumulating). */
  optimizer?: AdamW;
  /** Add the gradients into this Map (micro-batch accumulation); returned as `grads`. */
  grads?: Map<string, Tensor<'float32'>>;
  /** Names to compute gradients for (default: the optimizer's parameters, else trainableNames(model)). */
  params?: Iterable<string>;
  /** Compute the head's loss from the hidden states in chunks, never holding the logits (default true). */
  fusedHead?: boolean;
  /** Extra memory of the fused head's logits chunk in bytes (default 128 MiB). */
  memoryBudget?: number;
}

export type DpoStepOptions = DpoLossOptions &
  CommonStepOptions & {
    /** A frozen reference model for the reference log-probs (full fine-tuning); default: this model with its adapters off. */
    reference?: LlamaModel;
  };
export type SftStepOptions = CommonStepOptions;

export interface StepMetrics {
  loss: number;
  /** Scored tokens in the step. */
  tokens: number;
  /** Global gradient norm before clipping (NaN unless the optimizer clips). */
  gradNorm: number;
  /** The gradients (the optimizer has already used them; disposed unless `grads` was passed). */
  grads?: Map<string, Tensor<'float32'>>;
}

export interface DpoStepMetrics extends StepMetrics {
  /** Fraction of pairs whose chosen reward beats the rejected one. */
  rewardAccuracy: number;
  /** Means over the batch of beta * (policy - reference) log-ratios and their difference. */
  chosenReward: number;
  rejectedReward: number;
  margin: number;
  /** float32 [B] reference log-probs used (pass them back to reuse them). */
  refChosen: Tensor<'float32'>;
  refRejected: Tensor<'float32'>;
}

const LOSS_KEYS = ['beta', 'type', 'labelSmoothing', 'referenceFree', 'gamma', 'tau', 'average', 'weights'] as const;
const COMMON_KEYS = ['ignoreIndex', 'shift', 'noise', 'checkpoint', 'optimizer', 'grads', 'params', 'fusedHead', 'memoryBudget'] as const;

const mean = (t: Tensor) => {
  const a = t.toFloat32Array();
  return a.reduce((s, v) => s + v, 0) / Math.max(1, a.length);
};

/** The gradient names of this step and the name of the head's weight. */
function gradPlan(model: LlamaModel, o: CommonStepOptions): { params: string[]; head: string; headWanted: boolean } {
  const params = o.params ? [...o.params] : o.optimizer ? [...o.optimizer.params.keys()] : trainableNames(model);
  const head = model.parameters().find(([, t]) => t === model.lmHead)![0];
  return { params, head, headWanted: params.includes(head) };
}

function finish(
  model: LlamaModel,
  saved: Parameters<LlamaModel['backward']>[0],
  grad: { dLogits: Tensor } | { dHidden: Tensor },
  o: CommonStepOptions,
  grads: Map<string, Tensor<'float32'>>,
): { gradNorm: number; grads?: Map<string, Tensor<'float32'>> } {
  const { params } = gradPlan(model, o);
  model.backward(saved, grad as { dLogits: Tensor }, { params, grads });
  let gradNorm = NaN;
  if (o.optimizer) gradNorm = o.optimizer.update(grads).gradNorm;
  if (o.grads) return { gradNorm, grads };
  for (const g of grads.values()) g.dispose();
  return { gradNorm };
}

function rowsOf(op: string, model: LlamaModel, b: StepBatch): number {
  const t = b.tokens ?? b.inputsEmbeds;
  if (t === undefined) fail('ERR_ARGUMENT', op, 'expected tokens or inputsEmbeds');
  const rows = tensorArg(op, b.tokens !== undefined ? 'tokens' : 'inputsEmbeds', t).shape[0];
  if (rows === undefined) fail('ERR_SHAPE', op, 'expected a batch dimension');
  void model;
  return rows;
}

/**
 * Reference log-probs of every row, no activations kept: from `reference` (a frozen model), else
 * the model itself with its adapters off.
 */
function referenceLogps(op: string, model: LlamaModel, reference: LlamaModel | undefined, batch: StepBatch, rowOpts: { ignoreIndex?: number; shift: boolean; average?: boolean }, fused: boolean, memoryBudget?: number): Tensor<'float32'> {
  if (!reference && !model._activeLora)
    fail('ERR_ARGUMENT', op, 'expected refChosen and refRejected, a reference model, LoRA adapters on the model (its base weights are the reference), or referenceFree: true');
  const ref = reference ?? model;
  if (!reference) model.setAdaptersEnabled(false);
  try {
    const { labels: _l, refChosen: _c, refRejected: _r, ...inputs } = batch as DpoStepBatch;
    const { logits, hidden, saved } = ref.forwardTrain(inputs, { checkpoint: true, logits: fused ? 'none' : 'all' });
    saved.dispose();
    const r = fused ? linearLogps(hidden, ref.lmHead, batch.labels, { ...rowOpts, ...(memoryBudget ? { memoryBudget } : {}) }) : sequenceLogps(logits!, batch.labels, rowOpts);
    hidden.dispose();
    logits?.dispose();
    r.counts.dispose();
    return r.logps;
  } finally {
    if (!reference) model.setAdaptersEnabled(true);
  }
}

/** One DPO step (chosen rows first, then rejected: 2B rows). */
export function dpoStep(model: LlamaModel, batch: DpoStepBatch, options: DpoStepOptions = {}): DpoStepMetrics {
  const op = 'train.dpoStep';
  const o = checkOptions(op, options, [...LOSS_KEYS, ...COMMON_KEYS, 'reference']);
  const b = checkOptions(op, batch, ['tokens', 'inputsEmbeds', 'attentionMask', 'positions', 'visualFeatures', 'imageStarts', 'labels', 'refChosen', 'refRejected']);
  if (o.reference !== undefined && !(o.reference instanceof LlamaModel)) fail('ERR_ARGUMENT', op, `expected reference as a models.LlamaModel but received ${typeof o.reference}`);
  const rows = rowsOf(op, model, b);
  if (rows % 2 || rows < 2) fail('ERR_SHAPE', op, `expected an even number of rows (chosen, then rejected) but received ${rows}`);
  const B = rows / 2;
  const shift = boolOpt(op, 'shift', o.shift, true);
  const fused = boolOpt(op, 'fusedHead', o.fusedHead, true);
  const ignoreIndex = o.ignoreIndex === undefined ? -100 : numberOpt(op, 'ignoreIndex', o.ignoreIndex, -100, { integer: true });
  const loss: DpoLossOptions = {};
  for (const k of LOSS_KEYS) if (o[k] !== undefined) (loss as Record<string, unknown>)[k] = o[k];
  const average = o.average ?? o.type === 'simpo';
  let refC: Tensor<'float32'>, refR: Tensor<'float32'>;
  if (o.referenceFree || o.type === 'simpo') {
    refC = tensor(new Float32Array(B), [B]);
    refR = tensor(new Float32Array(B), [B]);
  } else if (b.refChosen !== undefined || b.refRejected !== undefined) {
    if (b.refChosen === undefined || b.refRejected === undefined) fail('ERR_ARGUMENT', op, 'expected both refChosen and refRejected, or neither');
    refC = tensorArg(op, 'refChosen', b.refChosen, ['float32'], 1) as Tensor<'float32'>;
    refR = tensorArg(op, 'refRejected', b.refRejected, ['float32'], 1) as Tensor<'float32'>;
  } else {
    const all = referenceLogps(op, model, o.reference, b, { ignoreIndex, shift, average }, fused, o.memoryBudget);
    const a = all.toFloat32Array();
    refC = tensor(a.slice(0, B), [B]);
    refR = tensor(a.slice(B), [B]);
    all.dispose();
  }
  // the reference log-probs are B floats: they go where the model is (given ones are copied, not moved)
  const dev = deviceOf(model.embed);
  [refC, refR] = b.refChosen === undefined ? [moveTo(refC, dev), moveTo(refR, dev)] : [refC.to(dev), refR.to(dev)];
  const noise = o.noise === undefined ? undefined : { rows: Array.from({ length: rows }, (_, i) => (i < B ? 1 : 0)), ...o.noise };
  const { labels, refChosen: _c, refRejected: _r, ...inputs } = b;
  const fwd = { ...(noise ? { noise } : {}), ...(o.checkpoint !== undefined ? { checkpoint: o.checkpoint } : {}) };
  const grads = o.grads ?? new Map<string, Tensor<'float32'>>();
  let r: ReturnType<typeof dpoLossStep> | ReturnType<typeof linearStep>;
  let f: { gradNorm: number; grads?: Map<string, Tensor<'float32'>> };
  if (fused) {
    const { hidden, saved } = model.forwardTrain(inputs, { ...fwd, logits: 'none' });
    const { head, headWanted } = gradPlan(model, o);
    const prev = grads.get(head);
    r = linearStep({ hidden, lmHead: model.lmHead, labels, refChosen: refC, refRejected: refR },
      { ...loss, ignoreIndex, shift, lmHeadGrad: headWanted, ...(headWanted && prev ? { dLmHead: prev } : {}), ...(o.memoryBudget ? { memoryBudget: o.memoryBudget } : {}) });
    hidden.dispose();
    if (headWanted && !prev) grads.set(head, r.dLmHead!);
    f = finish(model, saved, { dHidden: r.dHidden }, o, grads);
    r.dHidden.dispose();
  } else {
    const { logits, hidden, saved } = model.forwardTrain(inputs, fwd);
    hidden.dispose();
    r = dpoLossStep({ logits: logits!, labels, refChosen: refC, refRejected: refR }, { ...loss, ignoreIndex, shift, inPlace: true });
    f = finish(model, saved, { dLogits: r.gradLogits as Tensor<FloatDType> }, o, grads);
    logits!.dispose();
  }
  const counts = r.counts.toArray() as number[];
  const metrics: DpoStepMetrics = {
    loss: r.loss,
    tokens: counts.reduce((s, v) => s + v, 0),
    gradNorm: f.gradNorm,
    rewardAccuracy: r.accuracy,
    chosenReward: mean(r.chosenRewards),
    rejectedReward: mean(r.rejectedRewards),
    margin: mean(r.margins),
    refChosen: refC,
    refRejected: refR,
    ...(f.grads ? { grads: f.grads } : {}),
  };
  for (const t of [r.losses, r.chosenRewards, r.rejectedRewards, r.margins, r.policyChosen, r.policyRejected, r.counts, r.grad.policyChosen, r.grad.policyRejected]) t.dispose();
  return metrics;
}

/** One SFT step: token-mean cross-entropy of the labels (ops.crossEntropy with its fused gradient). */
export function sftStep(model: LlamaModel, batch: StepBatch, options: SftStepOptions = {}): StepMetrics {
  const op = 'train.sftStep';
  const o = checkOptions(op, options, COMMON_KEYS);
  const b = checkOptions(op, batch, ['tokens', 'inputsEmbeds', 'attentionMask', 'positions', 'visualFeatures', 'imageStarts', 'labels']);
  rowsOf(op, model, b);
  const shift = boolOpt(op, 'shift', o.shift, true);
  const fused = boolOpt(op, 'fusedHead', o.fusedHead, true);
  const { labels, ...inputs } = b;
  const fwd = { ...(o.noise ? { noise: o.noise } : {}), ...(o.checkpoint !== undefined ? { checkpoint: o.checkpoint } : {}) };
  const grads = o.grads ?? new Map<string, Tensor<'float32'>>();
  const ignore = o.ignoreIndex !== undefined ? { ignoreIndex: o.ignoreIndex } : {};
  if (fused) {
    const { hidden, saved } = model.forwardTrain(inputs, { ...fwd, logits: 'none' });
    const { head, headWanted } = gradPlan(model, o);
    const prev = grads.get(head);
    const ce = linearCrossEntropy(hidden, model.lmHead, labels, { ...ignore, shift, lmHeadGrad: headWanted, ...(headWanted && prev ? { dLmHead: prev } : {}), ...(o.memoryBudget ? { memoryBudget: o.memoryBudget } : {}) });
    hidden.dispose();
    if (headWanted && !prev) grads.set(head, ce.dLmHead!);
    const f = finish(model, saved, { dHidden: ce.dHidden }, o, grads);
    ce.dHidden.dispose();
    return { loss: ce.loss, tokens: ce.count, gradNorm: f.gradNorm, ...(f.grads ? { grads: f.grads } : {}) };
  }
  const { logits, hidden, saved } = model.forwardTrain(inputs, fwd);
  hidden.dispose();
  const ce = crossEntropy(logits!, labels, { ...ignore, shift, grad: true, inPlace: true });
  const f = finish(model, saved, { dLogits: logits! }, o, grads);
  logits!.dispose();
  return { loss: ce.loss, tokens: ce.count, gradNorm: f.gradNorm, ...(f.grads ? { grads: f.grads } : {}) };
}

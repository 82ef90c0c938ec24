/**
 * dpo.linearLogps and ops.linearCrossEntropy: per-sequence log-probs of the label tokens (and the
 * SFT token-mean NLL with its gradients) straight from hidden states and the lm_head, never
 * materialising the logits [N, V]: the rows go through the GEMM in chunks whose float32 logits
 * fit a memory budget (native/cpp/ops/linear_logps.h).
 *
 *   logits = hidden lmHead^T (float32 accumulation, never rounded to the inputs' dtype),
 *   then exactly dpo.sequenceLogps on them (same options and results);
 *   linearCrossEntropy: loss = -sum_t lp_t / n (mean over scored tokens) or -sum_t lp_t (sum),
 *   dHidden = G lmHead, dLmHead = G^T hidden with G = dloss/dlogits = g (onehot - softmax).
 * Extra memory: chunk x V float32 (+ chunk x V in the inputs' dtype for half gradients) + O(N).
 */
import type { FloatDType } from '../dtype';
import { fail } from '../errors';
import { withCallerStack } from '../native';
import { empty, full, zeros, type Tensor, type TensorLike } from '../tensor';
import { type NativeFn, dtypesOf } from '../op_decl';
import { callOp } from '../op_call';
import { LINEAR_LOGPS, LINEAR_LOGPS_SCALE } from './linear_logps.args';
import { type SequenceLogpsOptions, type SequenceLogpsResult, sequencesOf } from './sequence_logps';
import { boolOpt, checkOptions, enumOpt, numberOpt, outputTensor, sameDevice, tensorArg } from '../validate';

declare module '../native' {
  interface NativeAddon {
    linearLogps: NativeFn<typeof LINEAR_LOGPS>;
    linearLogpsScale: NativeFn<typeof LINEAR_LOGPS_SCALE>;
  }
}

/** How the token rows are chunked (shared by linearLogps, linearCrossEntropy and linearStep). */
export interface LinearChunkOptions {
  /** Bytes for one chunk's logits (float32 chunk x V, plus chunk x V in the inputs' dtype for float16/bfloat16 gradients): chunk rows = max(1, floor(memoryBudget / bytes per row)). A number >= 1; default 134217728 (128 MiB: at V = 128256, 261 float32 rows or 174 half rows with a gradient). */
  memoryBudget?: number;
  /** Rows per chunk, an integer >= 1 (overrides memoryBudget). Only dLmHead depends on it (its sum over rows is split at chunk boundaries). */
  chunkSize?: number;
}

export interface LinearLogpsOptions extends SequenceLogpsOptions, LinearChunkOptions {}

export const DEFAULT_MEMORY_BUDGET = 128 * 1024 * 1024;
/** @internal */
export const CHUNK_KEYS = ['memoryBudget', 'chunkSize'] as const;
/** @internal */
export const ROW_KEYS = ['ignoreIndex', 'shift', 'average', 'cuSeqlens'] as const;

/** @internal validated inputs of the fused ops */
export interface LinearRows {
  hidden: Tensor;
  lmHead: Tensor;
  labels: Tensor;
  cuSeqlens: Tensor | null;
  seqs: number;
  vocab: number;
  ignoreIndex: number;
  shift: boolean;
  average: boolean;
  memoryBudget: number;
  chunkSize: number | null;
  device: 'cpu' | `cuda:${number}`;
}

/** @internal hidden [B, T, H] + labels [B, T] (or packed [N, H] + [N] + cuSeqlens [B + 1]), lmHead [V, H]. */
export function linearRows(
  op: string,
  hidden: TensorLike,
  lmHead: TensorLike,
  labels: TensorLike,
  o: { ignoreIndex?: number; shift?: boolean; average?: boolean; cuSeqlens?: TensorLike } & LinearChunkOptions,
): LinearRows {
  // 1. tensors (hidden [..., H], lmHead [V, H], labels [...], cuSeqlens' rank: declared, checked with the call)
  const h = tensorArg(op, 'hidden', hidden, dtypesOf(LINEAR_LOGPS, 'hidden'));
  const w = tensorArg(op, 'lmHead', lmHead, [h.dtype]);
  const lb = tensorArg(op, 'labels', labels, dtypesOf(LINEAR_LOGPS, 'labels'));
  const cu = o.cuSeqlens === undefined ? null : tensorArg(op, 'cuSeqlens', o.cuSeqlens, dtypesOf(LINEAR_LOGPS, 'cuSeqlens'));
  // 2. the rank and B: padded [B, T, H], or packed [N, H] + cuSeqlens [B + 1]
  const seqs = sequencesOf(op, 'hidden', 'H', h, cu);
  sameDevice(op, { hidden: h, lmHead: w, labels: lb, cuSeqlens: cu ?? undefined });
  // 3. options
  const ignoreIndex = numberOpt(op, 'ignoreIndex', o.ignoreIndex, -100, { integer: true, min: -Number.MAX_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER });
  const shift = boolOpt(op, 'shift', o.shift, true);
  const average = boolOpt(op, 'average', o.average, false);
  const memoryBudget = numberOpt(op, 'memoryBudget', o.memoryBudget, DEFAULT_MEMORY_BUDGET, { min: 1 });
  const chunkSize = o.chunkSize === undefined ? null : numberOpt(op, 'chunkSize', o.chunkSize, 1, { integer: true, min: 1, max: 2 ** 31 - 1 });
  const device = h._device < 0 ? 'cpu' : (`cuda:${h._device}` as const);
  return { hidden: h, lmHead: w, labels: lb, cuSeqlens: cu, seqs, vocab: w.ndim === 2 ? w.shape[0]! : 0, ignoreIndex, shift, average, memoryBudget, chunkSize, device };
}

/** @internal rows per chunk: the explicit chunkSize, or what the budget allows (>= 1). */
export function chunkRows(r: LinearRows, withGrad: boolean): number {
  if (r.chunkSize !== null) return r.chunkSize;
  const perRow = Math.max(1, r.vocab) * (4 + (withGrad && r.hidden.dtype !== 'float32' ? 2 : 0));
  return Math.max(1, Math.min(2 ** 31 - 1, Math.floor(r.memoryBudget / perRow)));
}

/** @internal the dLmHead the native op accumulates into: the given float32 tensor, or new zeros. */
export function gradBuffer(op: string, given: TensorLike | undefined, r: LinearRows): Tensor<'float32'> {
  if (given === undefined) return zeros(r.lmHead.shape, 'float32', { device: r.device });
  return outputTensor(op, given, r.lmHead.shape, 'float32', r.hidden, 'dLmHead');
}

/** @internal one native call; gradients when `grad` is given. */
export interface LinearCall {
  rows: LinearRows;
  logps: Tensor<'float32'>;
  counts: Tensor<'int32'>;
  perToken: Tensor<'float32'>;
  lse: Tensor<'float32'> | null;
  gradLogps: Tensor<'float32'> | null;
  dHidden: Tensor | null;
  dLmHead: Tensor<'float32'> | null;
  tokenMean: boolean;
}

/** @internal */
export function linearCall(
  r: LinearRows,
  g: { gradLogps?: Tensor<'float32'>; dHidden?: Tensor; dLmHead?: Tensor<'float32'>; tokenMean?: boolean; lse?: boolean } = {},
): LinearCall {
  const lshape = r.labels.shape;
  return {
    rows: r,
    logps: empty([r.seqs], 'float32', { device: r.device }),
    counts: empty([r.seqs], 'int32', { device: r.device }),
    perToken: empty(lshape, 'float32', { device: r.device }),
    lse: g.lse ? empty(lshape, 'float32', { device: r.device }) : null,
    gradLogps: g.gradLogps ?? null,
    dHidden: g.dHidden ?? null,
    dLmHead: g.dLmHead ?? null,
    tokenMean: g.tokenMean ?? false,
  };
}

/** @internal */
export function runLinear(c: LinearCall, async: false): void;
/** @internal */
export function runLinear(c: LinearCall, async: true): Promise<void>;
/** @internal */
export function runLinear(c: LinearCall, async: boolean): void | Promise<void> {
  const r = c.rows;
  const args = {
    hidden: r.hidden, lmHead: r.lmHead, labels: r.labels, cuSeqlens: r.cuSeqlens, gradLogps: c.gradLogps,
    logps: c.logps, counts: c.counts, perToken: c.perToken, lse: c.lse, dHidden: c.dHidden, dLmHead: c.dLmHead,
    ignoreIndex: r.ignoreIndex, shift: r.shift, average: r.average, tokenMean: c.tokenMean,
    chunk: chunkRows(r, c.gradLogps !== null),
  };
  return async ? callOp(LINEAR_LOGPS, args, true) : callOp(LINEAR_LOGPS, args, false);
}

/** @internal out[r] = scale[seq(r)] * u[r] in out's dtype (u float32, hidden's shape). */
export function runScale(r: LinearRows, u: Tensor, scale: Tensor, out: Tensor, async: boolean): void | Promise<void> {
  const args = { u, cuSeqlens: r.cuSeqlens, scale, out };
  return async ? callOp(LINEAR_LOGPS_SCALE, args, true) : callOp(LINEAR_LOGPS_SCALE, args, false);
}

// ---- dpo.linearLogps --------------------------------------------------------------------------

function prepareLogps(hidden: TensorLike, lmHead: TensorLike, labels: TensorLike, options: LinearLogpsOptions | undefined) {
  const op = 'linearLogps';
  const o = checkOptions(op, options, [...ROW_KEYS, ...CHUNK_KEYS, 'perToken', 'returnLse']);
  const rows = linearRows(op, hidden, lmHead, labels, o);
  const wantPerToken = boolOpt(op, 'perToken', o.perToken, false);
  const returnLse = boolOpt(op, 'returnLse', o.returnLse, false);
  return { call: linearCall(rows, { lse: returnLse }), wantPerToken };
}

function logpsResult(p: ReturnType<typeof prepareLogps>): SequenceLogpsResult {
  const c = p.call;
  const r: SequenceLogpsResult = { logps: c.logps, counts: c.counts };
  if (p.wantPerToken) r.perToken = c.perToken;
  else c.perToken.dispose();
  if (c.lse) r.lse = c.lse;
  return r;
}

/**
 * What `ops.linear(hidden, lmHead)` followed by `dpo.sequenceLogps` returns (logits kept in
 * float32), without the [N, V] logits: hidden float32/float16/bfloat16 [B, T, H] (or packed
 * [N, H] with `cuSeqlens`), lmHead [V, H] of hidden's dtype, labels int32/int64 [B, T] (or [N]).
 */
export function linearLogps(hidden: TensorLike, lmHead: TensorLike, labels: TensorLike, options: LinearLogpsOptions & { perToken: true; returnLse: true }): SequenceLogpsResult & { perToken: Tensor<'float32'>; lse: Tensor<'float32'> };
export function linearLogps(hidden: TensorLike, lmHead: TensorLike, labels: TensorLike, options: LinearLogpsOptions & { perToken: true }): SequenceLogpsResult & { perToken: Tensor<'float32'> };
export function linearLogps(hidden: TensorLike, lmHead: TensorLike, labels: TensorLike, options: LinearLogpsOptions & { returnLse: true }): SequenceLogpsResult & { lse: Tensor<'float32'> };
export function linearLogps(hidden: TensorLike, lmHead: TensorLike, labels: TensorLike, options?: LinearLogpsOptions): SequenceLogpsResult;
export function linearLogps(hidden: TensorLike, lmHead: TensorLike, labels: TensorLike, options?: LinearLogpsOptions): SequenceLogpsResult {
  const p = prepareLogps(hidden, lmHead, labels, options);
  runLinear(p.call, false);
  return logpsResult(p);
}

/** {@link linearLogps} off the main thread; bit-identical results. */
export async function linearLogpsAsync(hidden: TensorLike, lmHead: TensorLike, labels: TensorLike, options?: LinearLogpsOptions): Promise<SequenceLogpsResult> {
  const stack = new Error().stack;
  const p = prepareLogps(hidden, lmHead, labels, options);
  await withCallerStack(runLinear(p.call, true), stack);
  return logpsResult(p);
}

// ---- ops.linearCrossEntropy -----------------------------------------------------------------------

export const CE_REDUCTIONS = ['mean', 'sum'] as const;

export interface LinearCrossEntropyOptions extends LinearChunkOptions {
  /** Label value of positions that are not scored: any safe integer, default -100. */
  ignoreIndex?: number;
  /** true (default): hidden row t scores labels[t + 1] within its sequence (causal LM); false: labels[t]. */
  shift?: boolean;
  /** 'mean' (default): NLL averaged over all scored tokens of the batch (0 when none); 'sum': summed. */
  reduction?: (typeof CE_REDUCTIONS)[number];
  /** Compute dLmHead (default true); false for a frozen head (LoRA): only dHidden. */
  lmHeadGrad?: boolean;
  /** Accumulate dLmHead into this float32 tensor of lmHead's shape (same device) instead of a new one. */
  dLmHead?: TensorLike;
  /** Packed input: int32 [B + 1] offsets of the sequences in hidden [N, H] / labels [N]. */
  cuSeqlens?: TensorLike;
}

export interface LinearCrossEntropyResult {
  /** The NLL (mean or sum over scored tokens). */
  loss: number;
  /** Scored tokens in the batch. */
  count: number;
  /** dloss/dhidden, hidden's shape and dtype. */
  dHidden: Tensor;
  /** dloss/dlmHead float32 [V, H] (the given tensor, accumulated into); absent with lmHeadGrad: false. */
  dLmHead?: Tensor<'float32'>;
}

function prepareCe(hidden: TensorLike, lmHead: TensorLike, labels: TensorLike, options: LinearCrossEntropyOptions | undefined) {
  const op = 'linearCrossEntropy';
  const o = checkOptions(op, options, ['ignoreIndex', 'shift', 'cuSeqlens', 'reduction', 'lmHeadGrad', 'dLmHead', ...CHUNK_KEYS]);
  const rows = linearRows(op, hidden, lmHead, labels, o);
  const reduction = enumOpt(op, 'reduction', o.reduction, CE_REDUCTIONS, 'mean');
  const lmHeadGrad = boolOpt(op, 'lmHeadGrad', o.lmHeadGrad, true);
  if (!lmHeadGrad && o.dLmHead !== undefined) fail('ERR_ARGUMENT', op, 'expected dLmHead only with lmHeadGrad: true');
  const dLmHead = lmHeadGrad ? gradBuffer(op, o.dLmHead, rows) : undefined;
  const dHidden = empty(rows.hidden.shape, rows.hidden.dtype, { device: rows.device });
  const gradLogps = full([rows.seqs], -1, 'float32', { device: rows.device });
  const call = linearCall(rows, { gradLogps, dHidden, dLmHead, tokenMean: reduction === 'mean' });
  return { call, reduction };
}

function ceResult(p: ReturnType<typeof prepareCe>): LinearCrossEntropyResult {
  const c = p.call;
  const lp = c.logps.toFloat32Array();
  const n = c.counts.to('cpu').data as Int32Array;
  let sum = 0;
  let count = 0;
  for (let b = 0; b < lp.length; ++b) {
    sum += lp[b]!;
    count += n[b]!;
  }
  const loss = p.reduction === 'mean' ? (count > 0 ? -sum / count : 0) : -sum;
  for (const t of [c.logps, c.counts, c.perToken, c.gradLogps!]) t.dispose();
  const r: LinearCrossEntropyResult = { loss, count, dHidden: c.dHidden! };
  if (c.dLmHead) r.dLmHead = c.dLmHead;
  return r;
}

/**
 * SFT cross-entropy (token-mean NLL of the label tokens) from hidden states and the lm_head, with
 * dHidden and dLmHead, in one pass over chunks of rows (the 1/n scale is known from the labels).
 * Same inputs as {@link linearLogps}.
 */
export function linearCrossEntropy<D extends FloatDType>(hidden: TensorLike<D>, lmHead: TensorLike<D>, labels: TensorLike, options?: LinearCrossEntropyOptions): LinearCrossEntropyResult {
  const p = prepareCe(hidden, lmHead, labels, options);
  runLinear(p.call, false);
  return ceResult(p);
}

/** {@link linearCrossEntropy} off the main thread; bit-identical results. */
export async function linearCrossEntropyAsync<D extends FloatDType>(hidden: TensorLike<D>, lmHead: TensorLike<D>, labels: TensorLike, options?: LinearCrossEntropyOptions): Promise<LinearCrossEntropyResult> {
  const stack = new Error().stack;
  const p = prepareCe(hidden, lmHead, labels, options);
  await withCallerStack(runLinear(p.call, true), stack);
  return ceResult(p);
}

/**
 * dpo.sequenceLogps and dpo.logpsBackward: per-sequence log-probabilities of label tokens under
 * the logits, and the gradient of any loss of them with respect to the logits, fused (one pass
 * over the logits each, never a softmax [rows, V] in memory: extra memory O(B*T)).
 *
 *   lp[b, t]  = logits[b, t - 1, y] - logsumexp(logits[b, t - 1, :]),  y = labels[b, t]   (shift)
 *   logps[b]  = sum_t lp[b, t] over scored t (average: / count), counts[b] = #scored t
 *   dL/dlogits[b, t - 1, j] = g[b] * (1[j == y] - softmax(logits[b, t - 1])_j)   (average: g / count)
 *
 * A position is scored when its label is not `ignoreIndex` (and, with shift, it is not the first of
 * its sequence). CPU: thread pool + SIMD; CUDA: a block per row. Accumulation in float32 or better.
 */
import { fail } from '../errors';
import { withCallerStack } from '../native';
import { empty, type Tensor, type TensorLike } from '../tensor';
import { type NativeFn, dtypesOf } from '../op_decl';
import { callOp } from '../op_call';
import { LOGPS_BACKWARD, SEQUENCE_LOGPS } from './sequence_logps.args';
import { boolOpt, checkOptions, expectShape, numberOpt, outputTensor, sameDevice, shapeStr, tensorArg } from '../validate';

declare module '../native' {
  interface NativeAddon {
    sequenceLogps: NativeFn<typeof SEQUENCE_LOGPS>;
    logpsBackward: NativeFn<typeof LOGPS_BACKWARD>;
  }
}

/** How positions are scored (shared by sequenceLogps, logpsBackward and step). */
export interface LogpsRowOptions {
  /** Label value of positions that are not scored (prompt, padding, image tokens): any safe integer, default -100. May also be a real token id, which is then never scored. */
  ignoreIndex?: number;
  /** true (default): logits at position t score labels[t + 1] within the sequence (causal LM, as TRL); false: logits[t] scores labels[t]. */
  shift?: boolean;
  /** false (default): logps is the sum over scored tokens; true: their mean (0 for a sequence with none). */
  average?: boolean;
  /** Packed (padding-free) input: int32 [B + 1] offsets of B sequences in logits [N, V] / labels [N]; must start at 0, never decrease and end at N. */
  cuSeqlens?: TensorLike;
}

export interface SequenceLogpsOptions extends LogpsRowOptions {
  /** Also return `perToken`: float32 log-probs shaped like labels, perToken[b, t] for labels[b, t], 0 where nothing is scored. Default false. */
  perToken?: boolean;
  /** Also return `lse`: float32 log-sum-exp of every logits row that scores a token, shaped like labels (0 for other rows), for logpsBackward. Default false. */
  returnLse?: boolean;
}

export interface SequenceLogpsResult {
  /** float32 [B]: sum (or mean) of the scored tokens' log-probs; 0 for a sequence with none. */
  logps: Tensor<'float32'>;
  /** int32 [B]: scored tokens per sequence. */
  counts: Tensor<'int32'>;
  /** float32, shaped like labels (with `perToken: true`). */
  perToken?: Tensor<'float32'>;
  /** float32, shaped like labels: per logits row (with `returnLse: true`). */
  lse?: Tensor<'float32'>;
}

export interface LogpsBackwardOptions extends LogpsRowOptions {
  /** The forward's `lse` (sequenceLogps with `returnLse: true`): makes the backward one pass over the logits; results are identical without it. */
  lse?: TensorLike;
  /** Overwrite the logits with the gradient (no extra [rows, V] memory). Default false. */
  inPlace?: boolean;
  /** Write the gradient into this tensor (logits' shape, dtype and device) instead of a new one. Not with inPlace. */
  out?: TensorLike;
}

const ROW_KEYS = ['ignoreIndex', 'shift', 'average', 'cuSeqlens'] as const;

/** @internal validated inputs shared by both ops */
export interface LogpsRows {
  logits: Tensor;
  labels: Tensor;
  cuSeqlens: Tensor | null;
  /** sequences */
  seqs: number;
  ignoreIndex: number;
  shift: boolean;
  average: boolean;
}

/** @internal */
export function logpsRows(op: string, logits: TensorLike, labels: TensorLike, o: LogpsRowOptions): LogpsRows {
  // 1. tensors
  const lg = tensorArg(op, 'logits', logits, dtypesOf(SEQUENCE_LOGPS, 'logits'));
  const lb = tensorArg(op, 'labels', labels, dtypesOf(SEQUENCE_LOGPS, 'labels'));
  const cu = o.cuSeqlens === undefined ? null : tensorArg(op, 'cuSeqlens', o.cuSeqlens, dtypesOf(SEQUENCE_LOGPS, 'cuSeqlens'));
  // 2. the rank and B (labels [B, T] / [N] and cuSeqlens' rank: declared, checked with the call)
  const seqs = sequencesOf(op, 'logits', 'V', lg, cu);
  sameDevice(op, { logits: lg, labels: lb, cuSeqlens: cu ?? undefined });
  // 3. options
  const ignoreIndex = numberOpt(op, 'ignoreIndex', o.ignoreIndex, -100, { integer: true, min: -Number.MAX_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER });
  const shift = boolOpt(op, 'shift', o.shift, true);
  const average = boolOpt(op, 'average', o.average, false);
  return { logits: lg, labels: lb, cuSeqlens: cu, seqs, ignoreIndex, shift, average };
}

/**
 * @internal B, the sequences, of padded x [B, T, X] (no cuSeqlens) or packed x [N, X] with cuSeqlens
 * [B + 1]: the rank rule a pattern cannot state, in native/cpp/binding/logps_rows.h's words. A
 * cuSeqlens of another rank gives 0 here; the declared check rejects it with the call.
 */
export function sequencesOf(op: string, name: string, last: string, x: Tensor, cu: Tensor | null): number {
  if (!cu) {
    if (x.ndim !== 3) fail('ERR_SHAPE', op, `expected ${name} of shape [B, T, ${last}] (or [N, ${last}] with cuSeqlens) but received ${shapeStr(x.shape)}`);
    return x.shape[0]!;
  }
  if (x.ndim !== 2) fail('ERR_SHAPE', op, `expected packed ${name} of shape [N, ${last}] (with cuSeqlens) but received ${shapeStr(x.shape)}`);
  if (cu.ndim === 1 && cu.shape[0]! < 1) fail('ERR_SHAPE', op, `expected cuSeqlens of shape [B + 1] (at least one element) but received ${shapeStr(cu.shape)}`);
  return cu.ndim === 1 ? cu.shape[0]! - 1 : 0;
}

const devOf = (t: Tensor) => (t._device < 0 ? 'cpu' : (`cuda:${t._device}` as const));

interface ForwardPlan {
  rows: LogpsRows;
  logps: Tensor<'float32'>;
  counts: Tensor<'int32'>;
  perToken: Tensor<'float32'>;
  lse: Tensor<'float32'> | null;
  wantPerToken: boolean;
}

function prepareForward(logits: TensorLike, labels: TensorLike, options: SequenceLogpsOptions | undefined): ForwardPlan {
  const op = 'sequenceLogps';
  const o = checkOptions(op, options, [...ROW_KEYS, 'perToken', 'returnLse']);
  const rows = logpsRows(op, logits, labels, o);
  const wantPerToken = boolOpt(op, 'perToken', o.perToken, false);
  const returnLse = boolOpt(op, 'returnLse', o.returnLse, false);
  const device = devOf(rows.logits);
  const lshape = rows.labels.shape;
  return {
    rows,
    logps: empty([rows.seqs], 'float32', { device }),
    counts: empty([rows.seqs], 'int32', { device }),
    // always computed (it is the op's O(B*T) scratch); returned when asked for
    perToken: empty(lshape, 'float32', { device }),
    lse: returnLse ? empty(lshape, 'float32', { device }) : null,
    wantPerToken,
  };
}

function forwardResult(p: ForwardPlan): SequenceLogpsResult {
  const r: SequenceLogpsResult = { logps: p.logps, counts: p.counts };
  if (p.wantPerToken) r.perToken = p.perToken;
  else p.perToken.dispose();
  if (p.lse) r.lse = p.lse;
  return r;
}

function callForward(p: ForwardPlan, async: boolean): void | Promise<void> {
  const r = p.rows;
  const args = { logits: r.logits, labels: r.labels, cuSeqlens: r.cuSeqlens, logps: p.logps, counts: p.counts, perToken: p.perToken, lse: p.lse, ignoreIndex: r.ignoreIndex, shift: r.shift, average: r.average };
  return async ? callOp(SEQUENCE_LOGPS, args, true) : callOp(SEQUENCE_LOGPS, args, false);
}

/**
 * Per-sequence log-probabilities of the label tokens: logits float32/float16/bfloat16 [B, T, V]
 * and labels int32/int64 [B, T] (or packed [N, V] / [N] with `cuSeqlens`).
 * A label outside [0, V) that is not `ignoreIndex` is an ERR_RANGE error.
 */
export function sequenceLogps(logits: TensorLike, labels: TensorLike, options: SequenceLogpsOptions & { perToken: true; returnLse: true }): SequenceLogpsResult & { perToken: Tensor<'float32'>; lse: Tensor<'float32'> };
export function sequenceLogps(logits: TensorLike, labels: TensorLike, options: SequenceLogpsOptions & { returnLse: true }): SequenceLogpsResult & { lse: Tensor<'float32'> };
export function sequenceLogps(logits: TensorLike, labels: TensorLike, options: SequenceLogpsOptions & { perToken: true }): SequenceLogpsResult & { perToken: Tensor<'float32'> };
export function sequenceLogps(logits: TensorLike, labels: TensorLike, options?: SequenceLogpsOptions): SequenceLogpsResult;
export function sequenceLogps(logits: TensorLike, labels: TensorLike, options?: SequenceLogpsOptions): SequenceLogpsResult {
  const p = prepareForward(logits, labels, options);
  callForward(p, false);
  return forwardResult(p);
}

/** {@link sequenceLogps} off the main thread; bit-identical results. */
export async function sequenceLogpsAsync(logits: TensorLike, labels: TensorLike, options: SequenceLogpsOptions & { perToken: true; returnLse: true }): Promise<SequenceLogpsResult & { perToken: Tensor<'float32'>; lse: Tensor<'float32'> }>;
export async function sequenceLogpsAsync(logits: TensorLike, labels: TensorLike, options: SequenceLogpsOptions & { returnLse: true }): Promise<SequenceLogpsResult & { lse: Tensor<'float32'> }>;
export async function sequenceLogpsAsync(logits: TensorLike, labels: TensorLike, options: SequenceLogpsOptions & { perToken: true }): Promise<SequenceLogpsResult & { perToken: Tensor<'float32'> }>;
export async function sequenceLogpsAsync(logits: TensorLike, labels: TensorLike, options?: SequenceLogpsOptions): Promise<SequenceLogpsResult>;
export async function sequenceLogpsAsync(logits: TensorLike, labels: TensorLike, options?: SequenceLogpsOptions): Promise<SequenceLogpsResult> {
  const stack = new Error().stack;
  const p = prepareForward(logits, labels, options);
  await withCallerStack(callForward(p, true) as Promise<void>, stack);
  return forwardResult(p);
}

interface BackwardPlan {
  rows: LogpsRows;
  grad: Tensor;
  lse: Tensor | null;
  out: Tensor;
}

function prepareBackward(logits: TensorLike, labels: TensorLike, gradLogps: TensorLike, options: LogpsBackwardOptions | undefined): BackwardPlan {
  const op = 'logpsBackward';
  const o = checkOptions(op, options, [...ROW_KEYS, 'lse', 'inPlace', 'out']);
  const rows = logpsRows(op, logits, labels, o);
  const grad = tensorArg(op, 'gradLogps', gradLogps, dtypesOf(LOGPS_BACKWARD, 'gradLogps'));
  if (grad.ndim === 1) expectShape(op, 'gradLogps', grad, [rows.seqs], 'one per sequence'); // B's value; its rank and lse [...]: declared
  const lse = o.lse === undefined ? null : tensorArg(op, 'lse', o.lse, dtypesOf(LOGPS_BACKWARD, 'lse'));
  sameDevice(op, { logits: rows.logits, gradLogps: grad, lse: lse ?? undefined });
  const inPlace = boolOpt(op, 'inPlace', o.inPlace, false);
  if (inPlace && o.out !== undefined) fail('ERR_ARGUMENT', op, 'expected either inPlace or out but received both');
  const out = inPlace ? rows.logits : outputTensor(op, o.out, rows.logits.shape, rows.logits.dtype, rows.logits);
  return { rows, grad, lse, out };
}

function callBackward(p: BackwardPlan, async: boolean): void | Promise<void> {
  const r = p.rows;
  const args = { logits: r.logits, labels: r.labels, cuSeqlens: r.cuSeqlens, gradLogps: p.grad, lse: p.lse, out: p.out, ignoreIndex: r.ignoreIndex, shift: r.shift, average: r.average };
  return async ? callOp(LOGPS_BACKWARD, args, true) : callOp(LOGPS_BACKWARD, args, false);
}

/**
 * Gradient of a loss L(logps) with respect to the logits, given gradLogps = dL/dlogps (float32
 * [B]): g * (onehot(label) - softmax) on scored rows, 0 on every other row, in the logits' dtype.
 * Returns the gradient tensor (the logits themselves with `inPlace: true`).
 */
export function logpsBackward(logits: TensorLike, labels: TensorLike, gradLogps: TensorLike, options?: LogpsBackwardOptions): Tensor {
  const p = prepareBackward(logits, labels, gradLogps, options);
  callBackward(p, false);
  return p.out;
}

/** {@link logpsBackward} off the main thread; bit-identical results. */
export async function logpsBackwardAsync(logits: TensorLike, labels: TensorLike, gradLogps: TensorLike, options?: LogpsBackwardOptions): Promise<Tensor> {
  const stack = new Error().stack;
  const p = prepareBackward(logits, labels, gradLogps, options);
  await withCallerStack(callBackward(p, true) as Promise<void>, stack);
  return p.out;
}

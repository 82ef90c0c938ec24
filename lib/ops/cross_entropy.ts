/**
 * ops.crossEntropy: the SFT loss (negative log-likelihood of the label tokens) with PyTorch
 * F.cross_entropy semantics (ignore_index, reduction 'mean' | 'sum' | 'none') and Hugging Face's
 * causal shift, and its gradient with respect to the logits fused into the same pass over each
 * row (as Liger-Kernel's fused cross-entropy): never a softmax [rows, V] in memory.
 *
 *   loss_r = logsumexp(z_r) - z_r[y_r]   for scored rows (label != ignoreIndex), else 0
 *   'sum': sum_r loss_r     'mean': sum_r loss_r / n  (n scored rows; 0 when n = 0)   'none': loss_r
 *   grad_r = gradOut * (softmax(z_r) - onehot(y_r))   ('mean': / n), 0 on rows that score nothing
 *
 * Formula and numerics: native/cpp/ops/cross_entropy.h.
 */
import { fail } from '../errors';
import { F32_MAX, type NativeFn, dtypesOf } from '../op_decl';
import { type Prepared, prepared, syncAsync } from '../op_call';
import { empty, type Tensor, type TensorLike } from '../tensor';
import { boolOpt, checkOptions, enumOpt, numberOpt, outputTensor, sameDevice, shapeStr, tensorArg } from '../validate';
import { CROSS_ENTROPY } from './cross_entropy.args';

declare module '../native' {
  interface NativeAddon {
    crossEntropy: NativeFn<typeof CROSS_ENTROPY>;
  }
}

export const CROSS_ENTROPY_REDUCTIONS = ['mean', 'sum', 'none'] as const;
export type CrossEntropyReduction = (typeof CROSS_ENTROPY_REDUCTIONS)[number];

export interface CrossEntropyOptions {
  /** Label value of positions that are not scored (prompt, padding, image tokens): any safe integer, default -100. May also be a real token id, which is then never scored. */
  ignoreIndex?: number;
  /** false (default): logits row t scores labels[t] (F.cross_entropy); true: row t scores labels[t + 1] of the same sequence and the last row of each sequence scores nothing (Hugging Face's causal-LM loss). */
  shift?: boolean;
  /** 'mean' (default): sum of the scored tokens' losses / their count (0, not NaN, when none is scored); 'sum'; 'none': float32 per-row losses shaped like labels. */
  reduction?: CrossEntropyReduction;
  /** Also return `grad`, d(loss)/d(logits) in the logits' dtype and shape. Default false. */
  grad?: boolean;
  /** Write the gradient over the logits (no extra [rows, V] memory); needs grad: true. Default false. */
  inPlace?: boolean;
  /** Write the gradient into this tensor (logits' shape, dtype and device); needs grad: true, not with inPlace. */
  out?: TensorLike;
  /** Upstream gradient: for 'mean'/'sum' a finite number (default 1) multiplying the gradient; for 'none' a finite number or a float32 tensor shaped like labels (one per row, on the logits' device), default 1. */
  gradOut?: number | TensorLike;
  /** Only 0 (the default) is supported: label smoothing is not implemented. */
  labelSmoothing?: number;
}

export interface CrossEntropyResult {
  /** The reduced loss ('mean' or 'sum'), a float32 value as a number. */
  loss: number;
  /** Scored tokens (labels not ignoreIndex, and with shift not the first of a sequence). */
  count: number;
  /** d(loss)/d(logits) (with grad: true): the logits themselves with inPlace, `out` when given. */
  grad?: Tensor;
}

export interface CrossEntropyNoneResult {
  /** float32 per-row losses shaped like labels (0 where nothing is scored), on the logits' device. */
  loss: Tensor<'float32'>;
  count: number;
  grad?: Tensor;
}

const OP = 'ops.crossEntropy';
const KEYS = ['ignoreIndex', 'shift', 'reduction', 'grad', 'inPlace', 'out', 'gradOut', 'labelSmoothing'] as const;

function prepare(logits: TensorLike, labels: TensorLike, options?: CrossEntropyOptions): Prepared<CrossEntropyResult | CrossEntropyNoneResult> {
  // 1. tensors: [B, T, V] + [B, T] or [N, V] + [N] (the rank here; labels' shape declared)
  const o = checkOptions(OP, options, KEYS);
  const lg = tensorArg(OP, 'logits', logits, dtypesOf(CROSS_ENTROPY, 'logits'));
  const lb = tensorArg(OP, 'labels', labels, dtypesOf(CROSS_ENTROPY, 'labels'));
  if (lg.ndim !== 2 && lg.ndim !== 3) fail('ERR_SHAPE', OP, `expected logits of shape [B, T, V] or [N, V] but received ${shapeStr(lg.shape)}`);
  const rowShape = lg.shape.slice(0, -1);
  sameDevice(OP, { logits: lg, labels: lb });
  // 2. options
  const ignoreIndex = numberOpt(OP, 'ignoreIndex', o.ignoreIndex, -100, { integer: true, min: -Number.MAX_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER });
  const shift = boolOpt(OP, 'shift', o.shift, false);
  const reduction = enumOpt(OP, 'reduction', o.reduction, CROSS_ENTROPY_REDUCTIONS, 'mean');
  const wantGrad = boolOpt(OP, 'grad', o.grad, false);
  const inPlace = boolOpt(OP, 'inPlace', o.inPlace, false);
  const smoothing = numberOpt(OP, 'labelSmoothing', o.labelSmoothing, 0);
  if (smoothing !== 0) fail('ERR_RANGE', OP, `expected labelSmoothing 0 (label smoothing is not implemented) but received ${smoothing}`);
  // 3. combinations
  if (!wantGrad && (inPlace || o.out !== undefined || o.gradOut !== undefined))
    fail('ERR_ARGUMENT', OP, `expected grad: true with ${inPlace ? 'inPlace' : o.out !== undefined ? 'out' : 'gradOut'} but received grad: false`);
  if (inPlace && o.out !== undefined) fail('ERR_ARGUMENT', OP, 'expected either inPlace or out but received both');
  let gradScale = 1;
  let gradOut: Tensor | null = null;
  if (o.gradOut !== undefined) {
    if (typeof o.gradOut === 'number' || reduction !== 'none') {
      gradScale = numberOpt(OP, 'gradOut', o.gradOut, 1, { min: -F32_MAX, max: F32_MAX });
    } else {
      gradOut = tensorArg(OP, 'gradOut', o.gradOut, dtypesOf(CROSS_ENTROPY, 'gradOut')); // one per logits row: declared
      sameDevice(OP, { logits: lg, gradOut });
    }
  }
  const device = lg._device < 0 ? 'cpu' : (`cuda:${lg._device}` as const);
  const grad = !wantGrad ? null : inPlace ? lg : outputTensor(OP, o.out, lg.shape, lg.dtype, lg);
  // 4. outputs (losses is the op's O(rows) scratch unless reduction is 'none')
  const losses = empty(rowShape, 'float32', { device });
  const loss = empty([1], 'float32', { device });
  const count = empty([1], 'int32', { device });
  const call = prepared(CROSS_ENTROPY, { logits: lg, labels: lb, gradOut, losses, loss, count, grad, ignoreIndex, shift, mean: reduction === 'mean', gradScale }, null);
  return {
    run: (async: boolean) => call.run(async),
    result: () => {
      const host = (t: Tensor) => (t._device < 0 ? t : t.to('cpu'));
      const n = host(count).data[0] as number;
      const total = host(loss).data[0] as number;
      loss.dispose();
      count.dispose();
      const r: CrossEntropyResult | CrossEntropyNoneResult = reduction === 'none' ? { loss: losses, count: n } : { loss: total, count: n };
      if (reduction !== 'none') losses.dispose();
      if (grad) r.grad = grad;
      return r;
    },
  };
}

const [crossEntropySync, crossEntropyAsyncImpl] = syncAsync(prepare);

type NoneOpts = CrossEntropyOptions & { reduction: 'none' };
type WithGrad = { grad: true };

/**
 * Cross-entropy of logits float32/float16/bfloat16 [B, T, V] (labels int32/int64 [B, T]) or
 * [N, V] (labels [N]), and with `grad: true` its gradient w.r.t. the logits in the same pass.
 * A label outside [0, V) that is not `ignoreIndex` is an ERR_RANGE error (nothing is written).
 */
export function crossEntropy(logits: TensorLike, labels: TensorLike, options: NoneOpts & WithGrad): CrossEntropyNoneResult & { grad: Tensor };
export function crossEntropy(logits: TensorLike, labels: TensorLike, options: NoneOpts): CrossEntropyNoneResult;
export function crossEntropy(logits: TensorLike, labels: TensorLike, options: CrossEntropyOptions & WithGrad): CrossEntropyResult & { grad: Tensor };
export function crossEntropy(logits: TensorLike, labels: TensorLike, options?: CrossEntropyOptions): CrossEntropyResult;
export function crossEntropy(logits: TensorLike, labels: TensorLike, options?: CrossEntropyOptions): CrossEntropyResult | CrossEntropyNoneResult {
  return crossEntropySync(logits, labels, options);
}

/** {@link crossEntropy} off the main thread; bit-identical results. */
export function crossEntropyAsync(logits: TensorLike, labels: TensorLike, options: NoneOpts & WithGrad): Promise<CrossEntropyNoneResult & { grad: Tensor }>;
export function crossEntropyAsync(logits: TensorLike, labels: TensorLike, options: NoneOpts): Promise<CrossEntropyNoneResult>;
export function crossEntropyAsync(logits: TensorLike, labels: TensorLike, options: CrossEntropyOptions & WithGrad): Promise<CrossEntropyResult & { grad: Tensor }>;
export function crossEntropyAsync(logits: TensorLike, labels: TensorLike, options?: CrossEntropyOptions): Promise<CrossEntropyResult>;
export function crossEntropyAsync(logits: TensorLike, labels: TensorLike, options?: CrossEntropyOptions): Promise<CrossEntropyResult | CrossEntropyNoneResult> {
  return crossEntropyAsyncImpl(logits, labels, options);
}

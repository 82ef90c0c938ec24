/**
 * RMSNorm (LLaMA): y = x * rsqrt(mean(x^2) + eps) * weight over the last dimension, on the CPU and
 * CUDA, float32 math with one rounding into x's dtype. Formula: native/cpp/ops/rms_norm.h.
 */
import type { FloatDType } from '../dtype';
import { fail } from '../errors';
import type { NativeFn } from '../op_decl';
import { prepared, syncAsync } from '../op_call';
import type { Tensor, TensorLike } from '../tensor';
import { boolOpt, checkOptions, outputTensor, sameDevice, tensorArg } from '../validate';
import { RMS_NORM, RMS_NORM_BACKWARD } from './rms_norm.args';

declare module '../native' {
  interface NativeAddon {
    rmsNorm: NativeFn<typeof RMS_NORM>;
    rmsNormBackward: NativeFn<typeof RMS_NORM_BACKWARD>;
  }
}

export interface RmsNormOptions {
  /** Added to the mean square before the square root (default 1e-6, >= 0). */
  eps?: number;
  /** Write here (same shape and dtype as x) instead of a new tensor; may be x itself. */
  out?: Tensor;
}

function prepare(x: TensorLike, weight: TensorLike, options?: RmsNormOptions) {
  const op = 'rmsNorm';
  const o = checkOptions(op, options, ['eps', 'out']);
  const t = tensorArg(op, 'x', x, RMS_NORM.args[0].dtypes);
  const w = tensorArg(op, 'weight', weight, t.dtype === 'float32' ? ['float32'] : [t.dtype, 'float32']);
  sameDevice(op, { x: t, weight: w });
  const out = outputTensor(op, o.out, t.shape, t.dtype as FloatDType, t);
  // shapes [..., D] / [D] and eps's range: checked from the declaration (rms_norm.args.ts)
  return prepared(RMS_NORM, { x: t, weight: w, out, eps: o.eps === undefined ? 1e-6 : o.eps }, out);
}

/** y = x * rsqrt(mean(x^2) + eps) * weight over the last dimension (LLaMA RMSNorm). */
export const [rmsNorm, rmsNormAsync] = syncAsync(prepare);

export interface RmsNormBackwardOptions {
  /** The forward's eps (default 1e-6, >= 0). */
  eps?: number;
  /** Write dx here (same shape and dtype as x) instead of a new tensor; may be dy itself. */
  out?: Tensor;
  /** Write dWeight here (float32 [D]) instead of a new tensor. */
  dWeightOut?: Tensor<'float32'>;
  /** Add the weight gradient into dWeightOut instead of overwriting it (gradient accumulation; needs dWeightOut). Default false. */
  accumulate?: boolean;
}

/** Gradients of {@link rmsNorm}: dx (x's dtype and shape) and dWeight (float32 [D], summed over all rows). */
export interface RmsNormGrads {
  dx: Tensor;
  dWeight: Tensor<'float32'>;
}

function prepareBackward(dy: TensorLike, x: TensorLike, weight: TensorLike, options?: RmsNormBackwardOptions) {
  const op = 'rmsNormBackward';
  const o = checkOptions(op, options, ['eps', 'out', 'dWeightOut', 'accumulate']);
  const t = tensorArg(op, 'x', x, RMS_NORM_BACKWARD.args[1].dtypes);
  const g = tensorArg(op, 'dy', dy, RMS_NORM_BACKWARD.args[0].dtypes);
  const w = tensorArg(op, 'weight', weight, t.dtype === 'float32' ? ['float32'] : [t.dtype, 'float32']);
  sameDevice(op, { dy: g, x: t, weight: w });
  const D = t.ndim ? t.shape[t.ndim - 1]! : 0;
  const accumulate = boolOpt(op, 'accumulate', o.accumulate, false);
  if (accumulate && o.dWeightOut === undefined) fail('ERR_ARGUMENT', op, 'expected dWeightOut with accumulate: true but received none');
  const dx = outputTensor(op, o.out, t.shape, t.dtype as FloatDType, t);
  const dWeight = outputTensor(op, o.dWeightOut, [D], 'float32', t, 'dWeightOut');
  return prepared(RMS_NORM_BACKWARD, { dy: g, x: t, weight: w, dx, dWeight, eps: o.eps === undefined ? 1e-6 : o.eps, accumulate }, { dx, dWeight } as RmsNormGrads);
}

/**
 * Gradients of {@link rmsNorm} from dy: dx = r (dy w - x^ mean(dy w x^)) and dWeight (+)= sum over rows of
 * dy x^ (x^ = x r, r recomputed from x), float32 math; dWeight has the same bits at any thread count.
 */
export const [rmsNormBackward, rmsNormBackwardAsync] = syncAsync(prepareBackward);

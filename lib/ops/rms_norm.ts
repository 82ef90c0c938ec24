/**
 * RMSNorm (LLaMA): y = x * rsqrt(mean(x^2) + eps) * weight over the last dimension, on the CPU and
 * CUDA, float32 math with one rounding into x's dtype. Formula: native/cpp/ops/rms_norm.h.
 */
import type { FloatDType } from '../dtype';
import { fail } from '../errors';
import type { NativeFn } from '../op_decl';
import { prepared, syncAsync } from '../op_call';
import type { Tensor, TensorLike } from '../tensor';
import { checkOptions, expectShape, numberOpt, outputTensor, sameDevice, shapeStr, tensorArg } from '../validate';
import { RMS_NORM } from './rms_norm.args';

declare module '../native' {
  interface NativeAddon {
    rmsNorm: NativeFn<typeof RMS_NORM>;
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
  if (t.ndim < 1) fail('ERR_SHAPE', op, 'expected x with at least 1 dimension but received a scalar');
  const w = tensorArg(op, 'weight', weight, t.dtype === 'float32' ? ['float32'] : [t.dtype, 'float32'], 1);
  expectShape(op, 'weight', w, [t.shape[t.ndim - 1]!], `x ${shapeStr(t.shape)}`);
  sameDevice(op, { x: t, weight: w });
  const eps = numberOpt(op, 'eps', o.eps, 1e-6, { min: 0 });
  const out = outputTensor(op, o.out, t.shape, t.dtype as FloatDType, t);
  return prepared(RMS_NORM, { x: t, weight: w, out, eps }, out);
}

/** y = x * rsqrt(mean(x^2) + eps) * weight over the last dimension (LLaMA RMSNorm). */
export const [rmsNorm, rmsNormAsync] = syncAsync(prepare);

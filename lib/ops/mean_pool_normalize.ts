/**
 * similarity.meanPoolNormalize: sentence-transformers mean pooling over the tokens a mask selects,
 * then L2 normalisation (F.normalize, eps 1e-12): the sentence embedding BDHS compares.
 */
import { FLOAT_DTYPES, type DType, type FloatDType } from '../dtype';
import { withCallerStack } from '../native';
import type { Tensor, TensorLike } from '../tensor';
import type { NativeFn } from '../op_decl';
import { callOp } from '../op_call';
import { MEAN_POOL_NORMALIZE } from './mean_pool_normalize.args';
import { boolOpt, checkOptions, expectShape, outputTensor, sameDevice, shapeStr, tensorArg } from '../validate';

declare module '../native' {
  interface NativeAddon {
    meanPoolNormalize: NativeFn<typeof MEAN_POOL_NORMALIZE>;
  }
}

export interface MeanPoolNormalizeOptions {
  /** [M, T] bool/uint8/int32/int64 (an HF attention_mask): nonzero tokens are averaged. Default: all tokens. */
  mask?: TensorLike;
  /** L2-normalise the mean (default true); false returns the plain masked mean. */
  normalize?: boolean;
  /** Write into this float32 [M, E] tensor (same device) instead of a new one. */
  out?: Tensor<'float32'>;
}

const OP = 'meanPoolNormalize';
const FLOATS = FLOAT_DTYPES;
const MASKS: readonly DType[] = ['bool', 'uint8', 'int32', 'int64'];

function prepare(tokens: TensorLike, options?: MeanPoolNormalizeOptions) {
  const o = checkOptions(OP, options, ['mask', 'normalize', 'out']);
  const x = tensorArg(OP, 'tokens', tokens, FLOATS, 3);
  const [m, t, e] = x.shape as [number, number, number];
  let mask: Tensor | null = null;
  if (o.mask !== undefined) {
    mask = tensorArg(OP, 'mask', o.mask, MASKS);
    expectShape(OP, 'mask', mask, [m, t], `tokens ${shapeStr(x.shape)}`);
    sameDevice(OP, { tokens: x, mask });
  }
  const normalize = boolOpt(OP, 'normalize', o.normalize, true);
  const out = outputTensor(OP, o.out, [m, e], 'float32', x);
  return { x, mask, normalize, out };
}

/** Masked mean over T then L2 normalisation: tokens [M, T, E] -> float32 [M, E]; a row with no token gives zeros. */
export function meanPoolNormalize(tokens: TensorLike, options?: MeanPoolNormalizeOptions): Tensor<'float32'> {
  const p = prepare(tokens, options);
  callOp(MEAN_POOL_NORMALIZE, { x: p.x, mask: p.mask, normalize: p.normalize, out: p.out }, false);
  return p.out;
}

/** {@link meanPoolNormalize} off the main thread; bit-identical results. */
export async function meanPoolNormalizeAsync(tokens: TensorLike, options?: MeanPoolNormalizeOptions): Promise<Tensor<'float32'>> {
  const stack = new Error().stack;
  const p = prepare(tokens, options);
  await withCallerStack(callOp(MEAN_POOL_NORMALIZE, { x: p.x, mask: p.mask, normalize: p.normalize, out: p.out }, true), stack);
  return p.out;
}

/**
 * similarity.meanPoolNormalize: sentence-transformers mean pooling over the tokens a mask selects,
 * then L2 normalisation (F.normalize, eps 1e-12): the sentence embedding BDHS compares.
 */
import type { Tensor, TensorLike } from '../tensor';
import type { NativeFn } from '../op_decl';
import { declaredOutput, prepared, syncAsync } from '../op_call';
import { MEAN_POOL_NORMALIZE } from './mean_pool_normalize.args';
import { boolOpt, checkOptions, sameDevice, tensorArg } from '../validate';

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

function prepare(tokens: TensorLike, options?: MeanPoolNormalizeOptions) {
  const o = checkOptions(OP, options, ['mask', 'normalize', 'out']);
  const x = tensorArg(OP, 'tokens', tokens, MEAN_POOL_NORMALIZE.args[0].dtypes);
  const mask = o.mask === undefined ? null : tensorArg(OP, 'mask', o.mask, MEAN_POOL_NORMALIZE.args[1].dtypes);
  if (mask) sameDevice(OP, { tokens: x, mask });
  const normalize = boolOpt(OP, 'normalize', o.normalize, true);
  // shapes tokens [M, T, E], mask [M, T], out [M, E]: checked from the declaration (mean_pool_normalize.args.ts)
  const out = declaredOutput(OP, o.out, () => (x.ndim === 3 ? [x.shape[0]!, x.shape[2]!] : null), 'float32', x);
  return prepared(MEAN_POOL_NORMALIZE, { tokens: x, mask, normalize, out }, out);
}

/** Masked mean over T then L2 normalisation: tokens [M, T, E] -> float32 [M, E]; a row with no token gives zeros. */
export const [meanPoolNormalize, meanPoolNormalizeAsync] = syncAsync(prepare);

/**
 * noise.neftune (NEFTune, Jain et al. 2023, as TRL enables it with `neftune_noise_alpha`):
 * uniform noise on the input embeddings of the non-padding positions of x [B, L, D]:
 *
 *   x'[b, n, :] = x[b, n, :] + alpha / sqrt(L_b * D) * v[b, n, :],   v ~ U(-1, 1)
 *
 * L_b: with norm 'length' (default) the number of non-padding positions of row b (the NEFTune
 * reference training code: lengths from the attention mask); with 'padded' the padded length L
 * (the transformers forward hook behind TRL's neftune_noise_alpha). Padding positions are never
 * touched. v[b, n, d] is the symmetric uniform of Philox word (b L + n) D + d of stream
 * (seed, offset): exactly mean 0, in (-1, 1). Backward: identity.
 */
import { FLOAT_DTYPES, type DType, type FloatDType } from '../dtype';
import { fail } from '../errors';
import type { Tensor, TensorLike } from '../tensor';
import { boolOpt, checkOptions, enumOpt, shapeStr, tensorArg } from '../validate';
import type { NativeFn } from '../op_decl';
import { callOp } from '../op_call';
import { NEFTUNE } from './neftune.args';
import { type Seed, type StreamOptions, Temps, inPlaceOrOut, resolveStream, runNative, runNativeAsync, sideTensor } from '../op_args';

declare module '../native' {
  interface NativeAddon {
    neftune: NativeFn<typeof NEFTUNE>;
  }
}

export interface NeftuneOptions extends StreamOptions {
  /** Noise scale alpha, finite and >= 0; default 5 (the NEFTune paper uses 5, 10, 15). */
  alpha?: number;
  /** int32 [B] (tensor or array): real tokens are positions n < lengths[b] (right padding); each in [0, L]. */
  lengths?: TensorLike | ArrayLike<number>;
  /** bool [B, L] (tensor or flat array): true at real tokens (any padding side). Default (no lengths, no mask): every position is real. */
  mask?: TensorLike | ArrayLike<boolean | number>;
  /** L in alpha / sqrt(L D): 'length' (default, each row's real length) or 'padded' (the padded length L, transformers/TRL hook). */
  norm?: 'length' | 'padded';
  /** Write into x itself (default false). */
  inPlace?: boolean;
  /** Write into this tensor (same shape, dtype and device as x; not with inPlace). */
  out?: Tensor;
}

export interface NeftuneResult<D extends DType = DType> {
  /** The noised embeddings (x itself with inPlace). */
  out: Tensor<D>;
  seed: Seed;
  offset: Seed;
}

const OP = 'noise.neftune';
const FLOATS = FLOAT_DTYPES;
const NORMS = ['length', 'padded'] as const;

interface Prepared {
  x: Tensor;
  out: Tensor;
  lengths: Tensor | null;
  mask: Tensor | null;
  alpha: number;
  padded: boolean;
  seed: Seed;
  offset: Seed;
  temps: Temps;
}

function prepare(x: TensorLike, options: NeftuneOptions | undefined): Prepared {
  const o = checkOptions(OP, options, ['alpha', 'lengths', 'mask', 'norm', 'inPlace', 'out', 'seed', 'offset']);
  // embeds [B, L, D] (its rank first: B and L shape the lengths and mask arrays), lengths [B], mask [B, L], out like embeds and alpha's range: declared (neftune.args.ts)
  const t = tensorArg(OP, 'embeds', x, FLOATS, 3);
  const [B, L] = t.shape as [number, number, number];
  const alpha = o.alpha === undefined ? 5 : o.alpha;
  const padded = enumOpt(OP, 'norm', o.norm, NORMS, 'length') === 'padded';
  const inPlace = boolOpt(OP, 'inPlace', o.inPlace, false);
  if (o.lengths !== undefined && o.mask !== undefined) fail('ERR_ARGUMENT', OP, 'expected lengths or mask, not both');
  const s = resolveStream(OP, o);
  const temps = new Temps();
  try {
    const from = `embeds ${shapeStr(t.shape)}`;
    const lengths = o.lengths === undefined ? null : sideTensor(OP, 'lengths', o.lengths, [B], ['int32'], 'int32', t, temps, from);
    const mask = o.mask === undefined ? null : sideTensor(OP, 'mask', o.mask, [B, L], ['bool', 'uint8'], 'bool', t, temps, from);
    const out = inPlaceOrOut(OP, t, inPlace, o.out, 'embeds');
    return { x: t, out, lengths, mask, alpha, padded, ...s, temps };
  } catch (e) {
    temps.dispose();
    throw e;
  }
}

/** NEFTune: embeds + alpha / sqrt(L D) * U(-1, 1) on the non-padding positions; returns the tensor and the seed/offset used. */
export function neftune<D extends DType>(embeds: TensorLike<D>, options?: NeftuneOptions): NeftuneResult<D> {
  const p = prepare(embeds, options);
  runNative(p.temps, () => callOp(NEFTUNE, { embeds: p.x, out: p.out, lengths: p.lengths, mask: p.mask, alpha: p.alpha, paddedNorm: p.padded, seed: p.seed, offset: p.offset }, false));
  return { out: p.out as Tensor<D>, seed: p.seed, offset: p.offset };
}

/** {@link neftune} off the main thread; bit-identical results. */
export async function neftuneAsync<D extends DType>(embeds: TensorLike<D>, options?: NeftuneOptions): Promise<NeftuneResult<D>> {
  const stack = new Error().stack;
  const p = prepare(embeds, options);
  await runNativeAsync(p.temps, () => callOp(NEFTUNE, { embeds: p.x, out: p.out, lengths: p.lengths, mask: p.mask, alpha: p.alpha, paddedNorm: p.padded, seed: p.seed, offset: p.offset }, true), stack);
  return { out: p.out as Tensor<D>, seed: p.seed, offset: p.offset };
}

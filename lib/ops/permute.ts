/** permute: a contiguous copy of x with its dimensions reordered (x.permute(perm) in PyTorch). */
import type { DType } from '../dtype';
import { fail } from '../errors';
import { describe, type Tensor, type TensorLike } from '../tensor';
import type { NativeFn } from '../op_decl';
import { prepared, syncAsync } from '../op_call';
import { PERMUTE } from './permute.args';
import { checkOptions, outputTensor, shapeStr, tensorArg } from '../validate';

declare module '../native' {
  interface NativeAddon {
    permute: NativeFn<typeof PERMUTE>;
  }
}

export interface PermuteOptions {
  /** Write here (the permuted shape, x's dtype, not x itself) instead of a new tensor. */
  out?: Tensor;
}

function prepare<D extends DType>(x: TensorLike<D>, perm: readonly number[], options?: PermuteOptions) {
  const op = 'permute';
  const o = checkOptions(op, options, ['out']);
  const t = tensorArg(op, 'x', x) as Tensor<D>;
  const shown = () => (Array.isArray(perm) ? `[${perm.map((v) => (typeof v === 'bigint' ? `${v}n` : String(v))).join(', ')}]` : describe(perm));
  if (!Array.isArray(perm) || !perm.every((v) => typeof v === 'number'))
    fail('ERR_ARGUMENT', op, `expected perm to be an array of numbers (a permutation of 0..${t.ndim - 1}) but received ${shown()}`);
  if (perm.length !== t.ndim || [...perm].sort((a, b) => a - b).some((v, i) => v !== i))
    fail('ERR_RANGE', op, `expected perm to be a permutation of 0..${t.ndim - 1} (x is ${shapeStr(t.shape)}) but received ${Array.isArray(perm) ? `[${perm.map((v) => (typeof v === 'bigint' ? `${v}n` : String(v))).join(', ')}]` : describe(perm)}`);
  const shape = perm.map((p) => t.shape[p]!);
  const out = outputTensor(op, o.out, shape, t.dtype, t);
  if (out === (t as Tensor)) fail('ERR_ARGUMENT', op, 'out must not be x');
  return prepared(PERMUTE, { x: t, out, perm: [...perm] }, out);
}

/** y = x.permute(perm), contiguous; e.g. permute(q, [0, 2, 1, 3]) turns [B, T, H, d] into [B, H, T, d]. */
export const [permute, permuteAsync] = syncAsync(prepare) as [
  <D extends DType>(x: TensorLike<D>, perm: readonly number[], options?: PermuteOptions) => Tensor<D>,
  <D extends DType>(x: TensorLike<D>, perm: readonly number[], options?: PermuteOptions) => Promise<Tensor<D>>,
];

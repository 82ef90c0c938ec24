/** permute: a contiguous copy of x with its dimensions reordered (x.permute(perm) in PyTorch). */
import type { DType } from '../dtype';
import { fail } from '../errors';
import { withCallerStack } from '../native';
import { describe, type Tensor, type TensorLike } from '../tensor';
import type { NativeFn } from '../op_decl';
import { callOp } from '../op_call';
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
  return { t, out, perm: [...perm] };
}

/** y = x.permute(perm), contiguous; e.g. permute(q, [0, 2, 1, 3]) turns [B, T, H, d] into [B, H, T, d]. */
export function permute<D extends DType>(x: TensorLike<D>, perm: readonly number[], options?: PermuteOptions): Tensor<D> {
  const p = prepare(x, perm, options);
  callOp(PERMUTE, { x: p.t, out: p.out, perm: p.perm }, false);
  return p.out;
}

export async function permuteAsync<D extends DType>(x: TensorLike<D>, perm: readonly number[], options?: PermuteOptions): Promise<Tensor<D>> {
  const stack = new Error().stack;
  const p = prepare(x, perm, options);
  await withCallerStack(callOp(PERMUTE, { x: p.t, out: p.out, perm: p.perm }, true) as Promise<void>, stack);
  return p.out;
}

/**
 * logSumExp over the last dimension: y = log(sum exp(x)), computed as m + log(sum exp(x - m)) with
 * m the row max, in float32, one pass over the data (CPU: threads + SIMD; CUDA: a warp or block per
 * row). A row of all -Infinity (or an empty last dimension) gives -Infinity, +Infinity gives
 * +Infinity, NaN gives NaN; |x| up to 3.4e38 is safe.
 */
import type { FloatDType } from '../dtype';
import { fail } from '../errors';
import { native, withCallerStack } from '../native';
import type { Tensor, TensorLike } from '../tensor';
import { checkOptions, outputTensor, tensorArg } from '../validate';

export interface LogSumExpOptions {
  /** Write into this float32 tensor of shape x.shape[:-1] (same device) instead of a new one. */
  out?: Tensor<'float32'>;
}

const OP = 'logSumExp';
const FLOATS: readonly FloatDType[] = ['float32', 'float16', 'bfloat16'];

function prepare(x: TensorLike, options?: LogSumExpOptions): { x: Tensor; out: Tensor<'float32'> } {
  const o = checkOptions(OP, options, ['out']);
  const t = tensorArg(OP, 'x', x, FLOATS);
  if (t.ndim < 1) fail('ERR_SHAPE', OP, 'expected x with at least 1 dimension but received a scalar (shape [])');
  const out = outputTensor(OP, o.out, t.shape.slice(0, -1), 'float32', t);
  return { x: t, out };
}

/** logSumExp(x) over the last dimension: float32/float16/bfloat16 [..., C] -> float32 [...]. */
export function logSumExp(x: TensorLike, options?: LogSumExpOptions): Tensor<'float32'> {
  const p = prepare(x, options);
  native.logSumExp(p.x, p.out, false);
  return p.out;
}

/** {@link logSumExp} off the main thread; bit-identical results. */
export async function logSumExpAsync(x: TensorLike, options?: LogSumExpOptions): Promise<Tensor<'float32'>> {
  const stack = new Error().stack;
  const p = prepare(x, options);
  await withCallerStack(native.logSumExp(p.x, p.out, true), stack);
  return p.out;
}

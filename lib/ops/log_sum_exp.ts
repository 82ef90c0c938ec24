/**
 * logSumExp over the last dimension: y = log(sum exp(x)), computed as m + log(sum exp(x - m)) with
 * m the row max, in float32, one pass over the data (CPU: threads + SIMD; CUDA: a warp or block per
 * row). A row of all -Infinity (or an empty last dimension) gives -Infinity, +Infinity gives
 * +Infinity, NaN gives NaN; |x| up to 3.4e38 is safe.
 */
import type { NativeFn } from '../op_decl';
import { prepared, syncAsync } from '../op_call';
import type { Tensor, TensorLike } from '../tensor';
import { checkOptions, outputTensor, tensorArg } from '../validate';
import { LOG_SUM_EXP } from './log_sum_exp.args';

declare module '../native' {
  interface NativeAddon {
    logSumExp: NativeFn<typeof LOG_SUM_EXP>;
  }
}

export interface LogSumExpOptions {
  /** Write into this float32 tensor of shape x.shape[:-1] (same device) instead of a new one. */
  out?: Tensor<'float32'>;
}

const OP = 'logSumExp';

function prepare(x: TensorLike, options?: LogSumExpOptions) {
  const o = checkOptions(OP, options, ['out']);
  const t = tensorArg(OP, 'x', x, LOG_SUM_EXP.args[0].dtypes);
  const out = outputTensor(OP, o.out, t.shape.slice(0, -1), 'float32', t); // x [..., C] -> out [...]: declared
  return prepared(LOG_SUM_EXP, { x: t, out }, out);
}

/**
 * logSumExp(x) over the last dimension: float32/float16/bfloat16 [..., C] -> float32 [...];
 * logSumExpAsync runs it off the main thread with bit-identical results.
 */
export const [logSumExp, logSumExpAsync] = syncAsync(prepare);

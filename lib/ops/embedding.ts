/** Embedding lookup: rows of table [V, D] for tokens [...] -> [..., D]. Formula: native/cpp/ops/embedding.h. */
import type { FloatDType } from '../dtype';
import type { NativeFn } from '../op_decl';
import { prepared, syncAsync } from '../op_call';
import type { TensorLike } from '../tensor';
import { checkOptions, outputTensor, sameDevice, tensorArg } from '../validate';
import { EMBEDDING } from './embedding.args';
import type { ElementwiseOptions } from './swiglu';

declare module '../native' {
  interface NativeAddon {
    embedding: NativeFn<typeof EMBEDDING>;
  }
}

function prepare(table: TensorLike, tokens: TensorLike, options?: ElementwiseOptions) {
  const op = 'embedding';
  const o = checkOptions(op, options, ['out']);
  const t = tensorArg(op, 'table', table, EMBEDDING.args[0].dtypes, 2);
  const k = tensorArg(op, 'tokens', tokens, EMBEDDING.args[1].dtypes);
  sameDevice(op, { table: t, tokens: k });
  const out = outputTensor(op, o.out, [...k.shape, t.shape[1]!], t.dtype as FloatDType, t);
  return prepared(EMBEDDING, { table: t, tokens: k, out }, out);
}

/** Rows of table [V, D] for tokens [...] -> [..., D]; a token outside [0, V) is ERR_RANGE. */
export const [embedding, embeddingAsync] = syncAsync(prepare);

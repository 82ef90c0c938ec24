/**
 * Embedding lookup: rows of table [V, D] for tokens [...] -> [..., D], and its backward, the
 * scatter-add dTable[tokens[i]] += dy[i] (deterministic: same bits at any thread count, on any
 * CUDA launch shape, CPU == CUDA). Formulas: native/cpp/ops/embedding.h.
 */
import type { FloatDType } from '../dtype';
import { fail } from '../errors';
import type { NativeFn } from '../op_decl';
import { prepared, syncAsync } from '../op_call';
import type { Tensor, TensorLike } from '../tensor';
import { boolOpt, checkOptions, numberOpt, outputTensor, sameDevice, tensorArg } from '../validate';
import { EMBEDDING, EMBEDDING_BACKWARD } from './embedding.args';
import type { ElementwiseOptions } from './swiglu';

declare module '../native' {
  interface NativeAddon {
    embedding: NativeFn<typeof EMBEDDING>;
    embeddingBackward: NativeFn<typeof EMBEDDING_BACKWARD>;
  }
}

function prepare(table: TensorLike, tokens: TensorLike, options?: ElementwiseOptions) {
  const op = 'embedding';
  const o = checkOptions(op, options, ['out']);
  const t = tensorArg(op, 'table', table, EMBEDDING.args[0].dtypes);
  const k = tensorArg(op, 'tokens', tokens, EMBEDDING.args[1].dtypes);
  sameDevice(op, { table: t, tokens: k });
  const out = outputTensor(op, o.out, [...k.shape, t.ndim === 2 ? t.shape[1]! : 0], t.dtype as FloatDType, t); // table [V, D], tokens [...], out [..., D]: declared
  return prepared(EMBEDDING, { table: t, tokens: k, out }, out);
}

/** Rows of table [V, D] for tokens [...] -> [..., D]; a token outside [0, V) is ERR_RANGE. */
export const [embedding, embeddingAsync] = syncAsync(prepare);

export interface EmbeddingBackwardOptions {
  /** Rows V of the table's gradient: a positive integer; may be left out when `out` is given (then out's rows). */
  vocabSize?: number;
  /** Write the gradient into this float32 [V, D] tensor (on dy's device) instead of a new one. */
  out?: Tensor;
  /** true: add into `out` (required then), e.g. over micro-batches; false (default): overwrite it (rows of absent tokens become 0). */
  accumulate?: boolean;
}

function prepareBackward(dy: TensorLike, tokens: TensorLike, options?: EmbeddingBackwardOptions) {
  const op = 'embeddingBackward';
  const o = checkOptions(op, options, ['vocabSize', 'out', 'accumulate']);
  // 1. tensors: dy [..., D] and tokens [...]
  const g = tensorArg(op, 'dy', dy, EMBEDDING_BACKWARD.args[0].dtypes);
  const k = tensorArg(op, 'tokens', tokens, EMBEDDING_BACKWARD.args[1].dtypes);
  sameDevice(op, { dy: g, tokens: k });
  // 2. options: vocabSize (or out's rows), accumulate needs out
  const accumulate = boolOpt(op, 'accumulate', o.accumulate, false);
  if (accumulate && o.out === undefined) fail('ERR_ARGUMENT', op, 'expected out (the float32 gradient to add into) with accumulate: true but received none');
  const given = o.out === undefined ? undefined : tensorArg(op, 'out', o.out, ['float32'], 2);
  const V = numberOpt(op, 'vocabSize', o.vocabSize, given ? given.shape[0]! : NaN, { integer: true, min: 1, max: Number.MAX_SAFE_INTEGER });
  if (Number.isNaN(V)) fail('ERR_ARGUMENT', op, 'expected vocabSize (the table rows) or out but received neither');
  const out = outputTensor(op, given, [V, g.ndim ? g.shape[g.ndim - 1]! : 0], 'float32', g); // dy [..., D], tokens [...], out [V, D]: declared
  return prepared(EMBEDDING_BACKWARD, { dy: g, tokens: k, out, accumulate }, out);
}

/**
 * Gradient of {@link embedding} with respect to the table: float32 [vocabSize, D] with
 * dTable[v] = sum of dy[i] over the rows i whose token is v, summed in float32 in increasing i
 * (the same bits at any thread count and launch shape). dy float32/float16/bfloat16 [..., D],
 * tokens int32/int64 [...]; a token outside [0, vocabSize) is ERR_RANGE naming its index, and
 * nothing is written.
 */
export const [embeddingBackward, embeddingBackwardAsync] = syncAsync(prepareBackward);

/** Arguments of the native sample (see lib/op_decl.ts). */
import { FLOATS, defineOp, index, input, integer, number, output, u64, u64Array } from '../op_decl';

export const SAMPLE = defineOp('sample', [
  input('logits', FLOATS),
  index('history', ['int32'], { optional: true }),
  number('repetitionPenalty'),
  number('temperature'),
  integer('topK', 0, 2 ** 53),
  number('topP'),
  number('minP'),
  u64('seed'),
  u64Array('seeds'),
  u64('step'),
  output('tokens', ['int32']),
  output('logprobs', ['float32']),
]);

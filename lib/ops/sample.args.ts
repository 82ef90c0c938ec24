/** Arguments of the native sample (see lib/op_decl.ts). */
import { FLOATS, defineOp, index, input, integer, number, output, u64, u64Array } from '../op_decl';

// V in [1, 2^23], temperature and repetitionPenalty as float32 (not 0 or infinite), one seed per row: checked in prepare
export const SAMPLE = defineOp('sample', [
  input('logits', FLOATS, { shape: ['B', 'V'] }),
  index('history', ['int32'], { optional: true, shape: ['B', 'H'] }),
  number('repetitionPenalty', { gt: 0 }),
  number('temperature', { min: 0 }),
  integer('topK', 0, 2 ** 53),
  number('topP', { min: 0, max: 1 }),
  number('minP', { min: 0, max: 1 }),
  u64('seed'),
  u64Array('seeds'),
  u64('step'),
  output('tokens', ['int32'], { shape: ['B'] }),
  output('logprobs', ['float32'], { shape: ['B'] }),
]);

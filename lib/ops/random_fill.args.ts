/** Arguments of the native randomFill (see lib/op_decl.ts). */
import { FLOATS, defineOp, integer, number, output, u64 } from '../op_decl';

export const RANDOM_FILL = defineOp(
  'randomFill',
  [
    output('out', [...FLOATS, 'int32']),
    integer('kind', 0, 2),
    number('a'),
    number('b'),
    u64('seed'),
    u64('offset'),
    u64('startBlock'),
    integer('startSkip', 0, 3),
  ],
  'random',
);

/** Arguments of the native randomFill (see lib/op_decl.ts). */
import { F32_MAX, FLOATS, defineOp, integer, number, output, u64 } from '../op_decl';

// out's dtype follows kind (0 bits: int32, else a float dtype): checked in prepare; the wrapper checks the
// user's names (mean, std, low, high) before a = mean or low, b = std or high - low reach the declared ranges
export const RANDOM_FILL = defineOp(
  'randomFill',
  [
    output('out', [...FLOATS, 'int32']),
    integer('kind', 0, 2),
    number('a', { min: -F32_MAX, max: F32_MAX }),
    number('b', { min: -F32_MAX, max: F32_MAX }),
    u64('seed'),
    u64('offset'),
    u64('startBlock'),
    integer('startSkip', 0, 3),
  ],
  'random',
);

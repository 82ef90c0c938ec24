/** Arguments of the native visualTokens (see lib/op_decl.ts). */
import { FLOATS, MASKS, defineOp, input, integer, number, output, u64 } from '../op_decl';

export const VISUAL_TOKENS = defineOp(
  'visualTokens',
  [
    input('x', FLOATS),
    output('out', FLOATS, { inPlace: ['x'] }),
    input('mask', MASKS),
    input('rows', MASKS, { optional: true }),
    number('sigma'),
    integer('scale', 0, 2),
    number('prob'),
    u64('seed'),
    u64('offset'),
  ],
  'noise.visualTokens',
);

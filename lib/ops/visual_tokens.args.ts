/** Arguments of the native visualTokens (see lib/op_decl.ts). */
import { F32_MAX, FLOATS, MASKS, defineOp, input, integer, number, output, u64 } from '../op_decl';

export const VISUAL_TOKENS = defineOp(
  'visualTokens',
  [
    input('x', FLOATS, { shape: ['B', 'N', 'D'] }),
    output('out', FLOATS, { inPlace: ['x'], shape: 'like x' }),
    input('mask', MASKS, { shape: ['B', 'N'] }),
    input('rows', MASKS, { optional: true, shape: ['B'] }),
    number('sigma', { min: 0, max: F32_MAX }),
    integer('scale', 0, 2),
    number('prob', { min: 0, max: 1 }),
    u64('seed'),
    u64('offset'),
  ],
  'noise.visualTokens',
);

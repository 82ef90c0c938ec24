/** Arguments of the native neftune (see lib/op_decl.ts). */
import { FLOATS, MASKS, boolean, defineOp, index, input, number, output, u64 } from '../op_decl';

export const NEFTUNE = defineOp(
  'neftune',
  [
    input('embeds', FLOATS),
    output('out', FLOATS, { inPlace: ['embeds'] }),
    index('lengths', ['int32'], { optional: true }),
    input('mask', MASKS, { optional: true }),
    number('alpha'),
    boolean('paddedNorm'),
    u64('seed'),
    u64('offset'),
  ],
  'noise.neftune',
);

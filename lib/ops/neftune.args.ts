/** Arguments of the native neftune (see lib/op_decl.ts). */
import { F32_MAX, FLOATS, MASKS, boolean, defineOp, index, input, number, output, u64 } from '../op_decl';

// lengths or mask, not both: checked in prepare
export const NEFTUNE = defineOp(
  'neftune',
  [
    input('embeds', FLOATS, { shape: ['B', 'L', 'D'] }),
    output('out', FLOATS, { inPlace: ['embeds'], shape: 'like embeds' }),
    index('lengths', ['int32'], { optional: true, shape: ['B'] }),
    input('mask', MASKS, { optional: true, shape: ['B', 'L'] }),
    number('alpha', { min: 0, max: F32_MAX }),
    boolean('paddedNorm'),
    u64('seed'),
    u64('offset'),
  ],
  'noise.neftune',
);

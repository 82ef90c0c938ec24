/** Arguments of the native imageKeyMask (see lib/op_decl.ts). */
import { MASKS, defineOp, index, input, number, output, u64 } from '../op_decl';

export const IMAGE_KEY_MASK = defineOp('imageKeyMask', [
  index('spans', ['int32']),
  input('keyMask', MASKS, { optional: true }),
  output('out', ['bool']),
  number('maskRatio'),
  u64('seed'),
  u64('offset'),
]);

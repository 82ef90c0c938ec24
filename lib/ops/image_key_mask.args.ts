/** Arguments of the native imageKeyMask (see lib/op_decl.ts). */
import { MASKS, defineOp, index, input, number, output, u64 } from '../op_decl';

// keyMask of out's shape (named from out: a pattern would bind it from keyMask, the earlier argument), spans'
// values (rows in [0, B), inside [0, L), no overlaps) and B, L <= 2^32: checked in prepare
export const IMAGE_KEY_MASK = defineOp('imageKeyMask', [
  index('spans', ['int32'], { shape: ['S', 3] }),
  input('keyMask', MASKS, { optional: true }),
  output('out', ['bool'], { shape: ['B', 'L'] }),
  number('maskRatio', { min: 0, max: 1 }),
  u64('seed'),
  u64('offset'),
]);

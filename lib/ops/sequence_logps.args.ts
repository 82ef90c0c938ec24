/** Arguments of the native sequenceLogps and logpsBackward (see lib/op_decl.ts). */
import { FLOATS, LABELS, boolean, defineOp, index, input, integer, output } from '../op_decl';

const MAX_SAFE = Number.MAX_SAFE_INTEGER;

// Padded logits [B, T, V] with labels [B, T], or packed [N, V] with labels [N] and cuSeqlens
// [B + 1]: the '...' group is the rows. The rank (3 padded, 2 packed), cuSeqlens' B + 1 and B's
// value (the first dim, or cuSeqlens' length - 1) are checked by the wrappers and prepare, and the
// forward's perToken and lse hold one value per logits row in any shape (the raw binding always
// took them flat), so prepare checks their element counts.
export const SEQUENCE_LOGPS = defineOp('sequenceLogps', [
  input('logits', FLOATS, { shape: ['...', 'V'] }),
  index('labels', LABELS, { shape: ['...'] }),
  index('cuSeqlens', ['int32'], { optional: true, shape: ['C'] }),
  output('logps', ['float32'], { shape: ['B'] }),
  output('counts', ['int32'], { shape: ['B'] }),
  output('perToken', ['float32']),
  output('lse', ['float32'], { optional: true }),
  integer('ignoreIndex', -MAX_SAFE, MAX_SAFE),
  boolean('shift'),
  boolean('average'),
]);

export const LOGPS_BACKWARD = defineOp('logpsBackward', [
  input('logits', FLOATS, { shape: ['...', 'V'] }),
  index('labels', LABELS, { shape: ['...'] }),
  index('cuSeqlens', ['int32'], { optional: true, shape: ['C'] }),
  input('gradLogps', ['float32'], { shape: ['B'] }),
  input('lse', ['float32'], { optional: true, shape: ['...'] }),
  output('out', FLOATS, { inPlace: ['logits'], shape: 'like logits' }),
  integer('ignoreIndex', -MAX_SAFE, MAX_SAFE),
  boolean('shift'),
  boolean('average'),
]);

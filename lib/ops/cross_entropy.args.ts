/** Arguments of the native ops.crossEntropy (see lib/op_decl.ts). */
import { F32_MAX, FLOATS, LABELS, boolean, defineOp, index, input, integer, number, output } from '../op_decl';

const MAX_SAFE = Number.MAX_SAFE_INTEGER;

// logits [B, T, V] (labels [B, T]) or [N, V] (labels [N]): the '...' group is the rows; the rank
// (2 or 3) is checked by the wrapper and prepare
export const CROSS_ENTROPY = defineOp(
  'crossEntropy',
  [
    input('logits', FLOATS, { shape: ['...', 'V'] }),
    index('labels', LABELS, { shape: ['...'] }),
    input('gradOut', ['float32'], { optional: true, shape: ['...'] }),
    output('losses', ['float32'], { shape: ['...'] }),
    output('loss', ['float32'], { shape: [1] }),
    output('count', ['int32'], { shape: [1] }),
    output('grad', FLOATS, { optional: true, inPlace: ['logits'], shape: 'like logits' }),
    integer('ignoreIndex', -MAX_SAFE, MAX_SAFE),
    boolean('shift'),
    boolean('mean'),
    number('gradScale', { min: -F32_MAX, max: F32_MAX }),
  ],
  'ops.crossEntropy',
);

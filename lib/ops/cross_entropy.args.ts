/** Arguments of the native ops.crossEntropy (see lib/op_decl.ts). */
import { FLOATS, LABELS, boolean, defineOp, index, input, integer, number, output } from '../op_decl';

const MAX_SAFE = Number.MAX_SAFE_INTEGER;

export const CROSS_ENTROPY = defineOp(
  'crossEntropy',
  [
    input('logits', FLOATS),
    index('labels', LABELS),
    input('gradOut', ['float32'], { optional: true }),
    output('losses', ['float32']),
    output('loss', ['float32']),
    output('count', ['int32']),
    output('grad', FLOATS, { optional: true, inPlace: ['logits'] }),
    integer('ignoreIndex', -MAX_SAFE, MAX_SAFE),
    boolean('shift'),
    boolean('mean'),
    number('gradScale'),
  ],
  'ops.crossEntropy',
);

/** Arguments of the native sequenceLogps and logpsBackward (see lib/op_decl.ts). */
import { FLOATS, LABELS, boolean, defineOp, index, input, integer, output } from '../op_decl';

const MAX_SAFE = Number.MAX_SAFE_INTEGER;

export const SEQUENCE_LOGPS = defineOp('sequenceLogps', [
  input('logits', FLOATS),
  index('labels', LABELS),
  index('cuSeqlens', ['int32'], { optional: true }),
  output('logps', ['float32']),
  output('counts', ['int32']),
  output('perToken', ['float32']),
  output('lse', ['float32'], { optional: true }),
  integer('ignoreIndex', -MAX_SAFE, MAX_SAFE),
  boolean('shift'),
  boolean('average'),
]);

export const LOGPS_BACKWARD = defineOp('logpsBackward', [
  input('logits', FLOATS),
  index('labels', LABELS),
  index('cuSeqlens', ['int32'], { optional: true }),
  input('gradLogps', ['float32']),
  input('lse', ['float32'], { optional: true }),
  output('out', FLOATS, { inPlace: ['logits'] }),
  integer('ignoreIndex', -MAX_SAFE, MAX_SAFE),
  boolean('shift'),
  boolean('average'),
]);

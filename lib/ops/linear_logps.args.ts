/** Arguments of the native linearLogps and linearLogpsScale (see lib/op_decl.ts). */
import { FLOATS, LABELS, boolean, defineOp, index, input, integer, output } from '../op_decl';

const MAX_SAFE = Number.MAX_SAFE_INTEGER;

export const LINEAR_LOGPS = defineOp('linearLogps', [
  input('hidden', FLOATS),
  input('lmHead', FLOATS),
  index('labels', LABELS),
  index('cuSeqlens', ['int32'], { optional: true }),
  input('gradLogps', ['float32'], { optional: true }),
  output('logps', ['float32']),
  output('counts', ['int32']),
  output('perToken', ['float32']),
  output('lse', ['float32'], { optional: true }),
  output('dHidden', FLOATS, { optional: true }),
  output('dLmHead', ['float32'], { optional: true }), // accumulated into (+=)
  integer('ignoreIndex', -MAX_SAFE, MAX_SAFE),
  boolean('shift'),
  boolean('average'),
  boolean('tokenMean'),
  integer('chunk', 1, 2 ** 31 - 1),
]);

export const LINEAR_LOGPS_SCALE = defineOp('linearLogpsScale', [
  input('u', ['float32']),
  index('cuSeqlens', ['int32'], { optional: true }),
  input('scale', ['float32']),
  output('out', FLOATS),
]);

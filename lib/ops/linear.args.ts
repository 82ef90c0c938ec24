/** Arguments of the native linear (see lib/op_decl.ts). */
import { FLOATS, boolean, defineOp, input, output } from '../op_decl';

export const LINEAR = defineOp('linear', [input('x', FLOATS), input('weight', FLOATS), input('bias', FLOATS, { optional: true }), output('out', FLOATS)]);

export const LINEAR_BACKWARD = defineOp('linearBackward', [
  input('dy', FLOATS),
  input('x', FLOATS),
  input('weight', FLOATS),
  output('dx', FLOATS, { optional: true }),
  output('dWeight', ['float32'], { optional: true }),
  output('dBias', ['float32'], { optional: true }),
  boolean('accumulate'),
]);

/** Arguments of the native linear and linearBackward (see lib/op_decl.ts). */
import { FLOATS, boolean, defineOp, input, output } from '../op_decl';

// One dtype for x, weight, bias, out (dx, dy): a relation prepare checks.
export const LINEAR = defineOp('linear', [
  input('x', FLOATS, { shape: ['...', 'K'] }),
  input('weight', FLOATS, { shape: ['N', 'K'] }),
  input('bias', FLOATS, { optional: true, shape: ['N'] }),
  output('out', FLOATS, { shape: ['...', 'N'] }),
]);

// dy [..., N] is checked by prepare (after these), so that a wrong dy is named as such rather
// than binding N and the leading dims before x and weight.
export const LINEAR_BACKWARD = defineOp('linearBackward', [
  input('dy', FLOATS),
  input('x', FLOATS, { shape: ['...', 'K'] }),
  input('weight', FLOATS, { shape: ['N', 'K'] }),
  output('dx', FLOATS, { optional: true, shape: 'like x' }),
  output('dWeight', ['float32'], { optional: true, shape: ['N', 'K'] }),
  output('dBias', ['float32'], { optional: true, shape: ['N'] }),
  boolean('accumulate'),
]);

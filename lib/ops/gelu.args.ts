/** Arguments of the native gelu and geluBackward (see lib/op_decl.ts). */
import { FLOATS, boolean, defineOp, input, output } from '../op_decl';

export const GELU = defineOp('gelu', [input('x', FLOATS), output('out', FLOATS, { inPlace: ['x'], shape: 'like x' }), boolean('tanh')]);

export const GELU_BACKWARD = defineOp('geluBackward', [
  input('dy', FLOATS),
  input('x', FLOATS, { shape: 'like dy' }),
  output('out', FLOATS, { inPlace: ['dy', 'x'], shape: 'like dy' }),
  boolean('tanh'),
]);

/** Arguments of the native add (see lib/op_decl.ts). */
import { F32_MAX, FLOATS, defineOp, input, number, output } from '../op_decl';

export const ADD = defineOp('add', [
  input('a', FLOATS),
  input('b', FLOATS, { shape: 'like a' }),
  output('out', FLOATS, { inPlace: ['a', 'b'], shape: 'like a' }),
  number('alpha', { min: -F32_MAX, max: F32_MAX }),
]);

/** Arguments of the native rotary (see lib/op_decl.ts). */
import { FLOATS, defineOp, input, integer, number, output } from '../op_decl';

export const ROTARY = defineOp('rotary', [
  input('x', FLOATS),
  output('out', FLOATS, { inPlace: ['x'] }),
  input('positions', ['int32'], { optional: true }),
  integer('offset', 0, 2 ** 40),
  number('theta'),
]);

export const ROTARY_BACKWARD = defineOp('rotaryBackward', [
  input('dy', FLOATS),
  output('dx', FLOATS, { inPlace: ['dy'] }),
  input('positions', ['int32'], { optional: true }),
  integer('offset', 0, 2 ** 40),
  number('theta'),
]);

/** Arguments of the native rotary (see lib/op_decl.ts). */
import { FLOATS, defineOp, input, integer, number, output } from '../op_decl';

export const ROTARY = defineOp('rotary', [
  input('x', FLOATS, { shape: ['B', 'H', 'T', 'd'] }),
  output('out', FLOATS, { inPlace: ['x'], shape: 'like x' }),
  input('positions', ['int32'], { optional: true, shape: ['B', 'T'] }),
  integer('offset', 0, 2 ** 40),
  number('theta', { gt: 0 }),
]);

export const ROTARY_BACKWARD = defineOp('rotaryBackward', [
  input('dy', FLOATS, { shape: ['B', 'H', 'T', 'd'] }),
  output('dx', FLOATS, { inPlace: ['dy'], shape: 'like dy' }),
  input('positions', ['int32'], { optional: true, shape: ['B', 'T'] }),
  integer('offset', 0, 2 ** 40),
  number('theta', { gt: 0 }),
]);

/** Arguments of the native swiglu (see lib/op_decl.ts). */
import { FLOATS, defineOp, input, output } from '../op_decl';

export const SWIGLU = defineOp('swiglu', [
  input('gate', FLOATS),
  input('up', FLOATS, { shape: 'like gate' }),
  output('out', FLOATS, { inPlace: ['gate', 'up'], shape: 'like gate' }),
]);

export const SWIGLU_BACKWARD = defineOp('swigluBackward', [
  input('dy', FLOATS, { shape: 'like gate' }),
  input('gate', FLOATS),
  input('up', FLOATS, { shape: 'like gate' }),
  output('dGate', FLOATS, { inPlace: ['gate', 'dy'], shape: 'like gate' }),
  output('dUp', FLOATS, { inPlace: ['up'], shape: 'like gate' }),
]);

/** Arguments of the native swiglu (see lib/op_decl.ts). */
import { FLOATS, defineOp, input, output } from '../op_decl';

export const SWIGLU = defineOp('swiglu', [input('gate', FLOATS), input('up', FLOATS), output('out', FLOATS, { inPlace: ['gate', 'up'] })]);

export const SWIGLU_BACKWARD = defineOp('swigluBackward', [
  input('dy', FLOATS),
  input('gate', FLOATS),
  input('up', FLOATS),
  output('dGate', FLOATS, { inPlace: ['gate', 'dy'] }),
  output('dUp', FLOATS, { inPlace: ['up'] }),
]);

/** Arguments of the native rmsNorm (see lib/op_decl.ts). */
import { FLOATS, boolean, defineOp, input, number, output } from '../op_decl';

export const RMS_NORM = defineOp('rmsNorm', [input('x', FLOATS), input('weight', FLOATS), output('out', FLOATS, { inPlace: ['x'] }), number('eps')]);

export const RMS_NORM_BACKWARD = defineOp('rmsNormBackward', [
  input('dy', FLOATS),
  input('x', FLOATS),
  input('weight', FLOATS),
  output('dx', FLOATS, { inPlace: ['dy'] }),
  output('dWeight', ['float32']),
  number('eps'),
  boolean('accumulate'),
]);

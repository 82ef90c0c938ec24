/** Arguments of the native rmsNorm (see lib/op_decl.ts). */
import { F32_MAX, FLOATS, boolean, defineOp, input, number, output } from '../op_decl';

export const RMS_NORM = defineOp('rmsNorm', [
  input('x', FLOATS, { shape: ['...', 'D'] }),
  input('weight', FLOATS, { shape: ['D'] }),
  output('out', FLOATS, { inPlace: ['x'], shape: 'like x' }),
  number('eps', { min: 0, max: F32_MAX }),
]);

export const RMS_NORM_BACKWARD = defineOp('rmsNormBackward', [
  input('dy', FLOATS, { shape: 'like x' }),
  input('x', FLOATS, { shape: ['...', 'D'] }),
  input('weight', FLOATS, { shape: ['D'] }),
  output('dx', FLOATS, { inPlace: ['dy'], shape: 'like x' }),
  output('dWeight', ['float32'], { shape: ['D'] }),
  number('eps', { min: 0, max: F32_MAX }),
  boolean('accumulate'),
]);

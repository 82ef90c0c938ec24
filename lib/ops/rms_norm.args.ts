/** Arguments of the native rmsNorm (see lib/op_decl.ts). */
import { FLOATS, defineOp, input, number, output } from '../op_decl';

export const RMS_NORM = defineOp('rmsNorm', [input('x', FLOATS), input('weight', FLOATS), output('out', FLOATS, { inPlace: ['x'] }), number('eps')]);

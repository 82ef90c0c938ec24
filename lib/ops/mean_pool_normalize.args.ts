/** Arguments of the native meanPoolNormalize (see lib/op_decl.ts). */
import { FLOATS, boolean, defineOp, input, output } from '../op_decl';

export const MEAN_POOL_NORMALIZE = defineOp('meanPoolNormalize', [
  input('tokens', FLOATS, { shape: ['M', 'T', 'E'] }),
  input('mask', ['bool', 'uint8', 'int32', 'int64'], { optional: true, shape: ['M', 'T'] }),
  boolean('normalize'),
  output('out', ['float32'], { shape: ['M', 'E'] }),
]);

/** Arguments of the native predictionLoss (see lib/op_decl.ts). */
import { FLOATS, defineOp, index, input, integer, number, output } from '../op_decl';

export const PREDICTION_LOSS = defineOp(
  'predictionLoss',
  [
    input('epsPred', FLOATS),
    input('eps', FLOATS),
    output('grad', FLOATS, { optional: true }),
    output('perSample', ['float32']),
    output('weightsOut', ['float32']),
    output('loss', ['float32']),
    input('weights', ['float32'], { optional: true }),
    input('weightTable', ['float32'], { optional: true }),
    index('t', ['int32'], { optional: true }),
    integer('tScalar', -(2 ** 31), 2 ** 31 - 1),
    number('gradScale'),
  ],
  'noise.predictionLoss',
);

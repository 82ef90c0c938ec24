/** Arguments of the native predictionLoss (see lib/op_decl.ts). */
import { F32_MAX, FLOATS, defineOp, index, input, integer, number, output } from '../op_decl';

// epsPred [B, ...] with eps of its shape (named "(from epsPred)" as the wrapper does), the [B] tensors, a
// 1-element loss, weights or weightTable, a table of at least 1 step: checked in prepare
export const PREDICTION_LOSS = defineOp(
  'predictionLoss',
  [
    input('epsPred', FLOATS),
    input('eps', FLOATS),
    output('grad', FLOATS, { optional: true, shape: 'like epsPred' }),
    output('perSample', ['float32']),
    output('weightsOut', ['float32']),
    output('loss', ['float32']),
    input('weights', ['float32'], { optional: true }),
    input('weightTable', ['float32'], { optional: true, shape: ['T'] }),
    index('t', ['int32'], { optional: true }),
    integer('tScalar', -(2 ** 31), 2 ** 31 - 1),
    number('gradScale', { min: -F32_MAX, max: F32_MAX }),
  ],
  'noise.predictionLoss',
);

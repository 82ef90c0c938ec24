/** Arguments of the native halves of optim.clipGradNorm (see lib/op_decl.ts). */
import { FLOATS, defineOp, input, number, output } from '../op_decl';

/** Sum of squares of one tensor in float64, written as a float32 (hi, lo) pair. */
export const GRAD_SUM_SQUARES = defineOp('_gradSumSquares', [input('x', FLOATS), output('out', ['float32'])], 'optim.clipGradNorm');
/** x * coef in place. */
export const GRAD_SCALE = defineOp('_gradScale', [input('x', FLOATS), output('out', FLOATS, { inPlace: ['x'] }), number('coef')], 'optim.clipGradNorm');

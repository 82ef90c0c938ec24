/** Arguments of the native halves of optim.clipGradNorm (see lib/op_decl.ts). */
import { FLOATS, defineOp, input, number, output } from '../op_decl';

/** Sum of squares of one tensor in float64, written as a float32 (hi, lo) pair. */
export const GRAD_SUM_SQUARES = defineOp('_gradSumSquares', [input('x', FLOATS), output('out', ['float32'], { shape: [2] })], 'optim.clipGradNorm');
/** x * coef in place; coef in [0, 1] or NaN (a non-finite norm), which a declared range cannot say: checked in prepare. */
export const GRAD_SCALE = defineOp('_gradScale', [input('x', FLOATS), output('out', FLOATS, { inPlace: ['x'], shape: 'like x' }), number('coef')], 'optim.clipGradNorm');

/** Arguments of the native logSumExp (see lib/op_decl.ts). */
import { FLOATS, defineOp, input, output } from '../op_decl';

export const LOG_SUM_EXP = defineOp('logSumExp', [input('x', FLOATS, { shape: ['...', 'C'] }), output('out', ['float32'], { shape: ['...'] })]);

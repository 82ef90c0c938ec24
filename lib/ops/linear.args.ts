/** Arguments of the native linear (see lib/op_decl.ts). */
import { FLOATS, defineOp, input, output } from '../op_decl';

export const LINEAR = defineOp('linear', [input('x', FLOATS), input('weight', FLOATS), input('bias', FLOATS, { optional: true }), output('out', FLOATS)]);

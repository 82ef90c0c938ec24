/** Arguments of the native add (see lib/op_decl.ts). */
import { FLOATS, defineOp, input, number, output } from '../op_decl';

export const ADD = defineOp('add', [input('a', FLOATS), input('b', FLOATS), output('out', FLOATS, { inPlace: ['a', 'b'] }), number('alpha')]);

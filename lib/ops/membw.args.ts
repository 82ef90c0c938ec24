/** Arguments of the native _membw (bench ceilings; see lib/op_decl.ts). */
import { defineOp, input, integer, output } from '../op_decl';

export const MEMBW = defineOp('_membw', [integer('kind', 0, 4), input('x', ['float32']), output('y', ['float32'], { optional: true }), integer('reps', 0, 1000)]);

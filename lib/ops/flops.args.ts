/** Arguments of the native _flops (bench compute ceilings; see lib/op_decl.ts and native/cpp/binding/membw.cc). */
import { defineOp, integer } from '../op_decl';

export const FLOPS = defineOp('_flops', [integer('kind', 0, 1), integer('iters', 1, 2 ** 40), integer('reps', 1, 1000)]);

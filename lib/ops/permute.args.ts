/** Arguments of the native permute (see lib/op_decl.ts). */
import { defineOp, dims, input, output } from '../op_decl';

export const PERMUTE = defineOp('permute', [input('x'), output('out'), dims('perm')]);

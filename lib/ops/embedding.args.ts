/** Arguments of the native embedding (see lib/op_decl.ts). */
import { FLOATS, LABELS, defineOp, index, input, output } from '../op_decl';

export const EMBEDDING = defineOp('embedding', [input('table', FLOATS), index('tokens', LABELS), output('out', FLOATS)]);

/** Arguments of the native embedding and embeddingBackward (see lib/op_decl.ts). */
import { FLOATS, LABELS, boolean, defineOp, index, input, output } from '../op_decl';

export const EMBEDDING = defineOp('embedding', [input('table', FLOATS), index('tokens', LABELS), output('out', FLOATS)]);

export const EMBEDDING_BACKWARD = defineOp('embeddingBackward', [input('dy', FLOATS), index('tokens', LABELS), output('out', ['float32']), boolean('accumulate')]);

/** Arguments of the native embedding and embeddingBackward (see lib/op_decl.ts). */
import { FLOATS, LABELS, boolean, defineOp, index, input, output } from '../op_decl';

export const EMBEDDING = defineOp('embedding', [
  input('table', FLOATS, { shape: ['V', 'D'] }),
  index('tokens', LABELS, { shape: ['...'] }),
  output('out', FLOATS, { shape: ['...', 'D'] }),
]);

export const EMBEDDING_BACKWARD = defineOp('embeddingBackward', [
  input('dy', FLOATS, { shape: ['...', 'D'] }),
  index('tokens', LABELS, { shape: ['...'] }),
  output('out', ['float32'], { shape: ['V', 'D'] }),
  boolean('accumulate'),
]);

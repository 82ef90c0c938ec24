/** Arguments of the native contrastive (see lib/op_decl.ts). */
import { F32_MAX, FLOATS, defineOp, input, number, output } from '../op_decl';

// distortedLogits of logits' dtype: checked in prepare
export const CONTRASTIVE = defineOp('contrastive', [
  input('logits', FLOATS, { shape: ['...', 'V'] }),
  input('distortedLogits', FLOATS, { shape: ['...', 'V'] }),
  input('rowActive', ['bool'], { optional: true, shape: ['...'] }),
  number('alpha', { min: -F32_MAX, max: F32_MAX }),
  number('beta', { min: 0, max: 1 }),
  output('out', ['float32'], { shape: ['...', 'V'] }),
]);

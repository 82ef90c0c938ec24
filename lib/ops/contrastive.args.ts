/** Arguments of the native contrastive (see lib/op_decl.ts). */
import { FLOATS, defineOp, input, number, output } from '../op_decl';

export const CONTRASTIVE = defineOp('contrastive', [
  input('logits', FLOATS),
  input('distortedLogits', FLOATS),
  input('rowActive', ['bool'], { optional: true }),
  number('alpha'),
  number('beta'),
  output('out', ['float32']),
]);

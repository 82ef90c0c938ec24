/** Arguments of the native per-tensor AdamW step behind optim.adamw (see lib/op_decl.ts). */
import { FLOATS, defineOp, input, integer, number, output } from '../op_decl';

export const ADAMW = defineOp(
  '_adamw',
  [
    output('param', FLOATS),
    input('grad', FLOATS),
    output('m', ['float32']),
    output('v', ['float32']),
    output('master', ['float32'], { optional: true }),
    number('lr'),
    number('beta1'),
    number('beta2'),
    number('eps'),
    number('weightDecay'),
    integer('step', 1, 2 ** 53),
  ],
  'optim.adamw',
);

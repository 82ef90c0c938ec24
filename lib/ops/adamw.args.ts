/** Arguments of the native per-tensor AdamW step behind optim.adamw (see lib/op_decl.ts). */
import { F32_MAX, FLOATS, defineOp, input, integer, number, output } from '../op_decl';

// grad, m, v and master of param's shape (the leading group, all of it); grad float32 or param's dtype: checked in prepare
export const ADAMW = defineOp(
  '_adamw',
  [
    output('param', FLOATS, { shape: ['...'] }),
    input('grad', FLOATS, { shape: ['...'] }),
    output('m', ['float32'], { shape: ['...'] }),
    output('v', ['float32'], { shape: ['...'] }),
    output('master', ['float32'], { optional: true, shape: ['...'] }),
    number('lr', { min: 0, max: F32_MAX }),
    number('beta1', { min: 0, lt: 1 }),
    number('beta2', { min: 0, lt: 1 }),
    number('eps', { min: 0, max: F32_MAX }),
    number('weightDecay', { min: 0, max: F32_MAX }),
    integer('step', 1, 2 ** 53),
  ],
  'optim.adamw',
);

/** Arguments of the native attentionMasked (see lib/op_decl.ts). */
import { FLOATS, MASKS, boolean, defineOp, input, integer, number, output } from '../op_decl';

export const ATTENTION_MASKED = defineOp(
  'attentionMasked',
  [
    input('q', FLOATS),
    input('k', FLOATS),
    input('v', FLOATS),
    output('out', FLOATS),
    output('lse', ['float32'], { optional: true }),
    input('keyMask', MASKS, { optional: true }),
    number('scale'),
    boolean('causal'),
    integer('queryOffset', -(2 ** 53), 2 ** 53),
    integer('kvLength', 0, 2 ** 53),
  ],
  'attention.masked',
);

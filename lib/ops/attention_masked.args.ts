/** Arguments of the native attentionMasked and attentionMaskedBackward (see lib/op_decl.ts). */
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

export const ATTENTION_MASKED_BACKWARD = defineOp(
  'attentionMaskedBackward',
  [
    input('dOut', FLOATS),
    input('q', FLOATS),
    input('k', FLOATS),
    input('v', FLOATS),
    input('out', FLOATS),
    input('lse', ['float32']),
    output('dq', FLOATS),
    output('dk', FLOATS),
    output('dv', FLOATS),
    input('keyMask', MASKS, { optional: true }),
    number('scale'),
    boolean('causal'),
    integer('queryOffset', -(2 ** 53), 2 ** 53),
    integer('kvLength', 0, 2 ** 53),
  ],
  'attention.maskedBackward',
);

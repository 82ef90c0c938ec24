/** Arguments of the native attentionMasked and attentionMaskedBackward (see lib/op_decl.ts). */
import { FLOATS, MASKS, boolean, defineOp, input, integer, number, output } from '../op_decl';

// q/out [B, Hq, Tq, D], k/v [B, Hkv, T, D], lse float32 [B, Hq, Tq], keyMask [B, L]. Checked by
// the wrapper and prepare: one dtype for q, k, v, out; Hq a multiple of Hkv; D in [1, 256];
// kvLength <= T <= ... and L >= kvLength; a finite scale (as float32).
export const ATTENTION_MASKED = defineOp(
  'attentionMasked',
  [
    input('q', FLOATS, { shape: ['B', 'Hq', 'Tq', 'D'] }),
    input('k', FLOATS, { shape: ['B', 'Hkv', 'T', 'D'] }),
    input('v', FLOATS, { shape: ['B', 'Hkv', 'T', 'D'] }),
    output('out', FLOATS, { shape: ['B', 'Hq', 'Tq', 'D'] }),
    output('lse', ['float32'], { optional: true, shape: ['B', 'Hq', 'Tq'] }),
    input('keyMask', MASKS, { optional: true, shape: ['B', 'L'] }),
    number('scale'),
    boolean('causal'),
    integer('queryOffset', -(2 ** 53), 2 ** 53),
    integer('kvLength', 0, 2 ** 53),
  ],
  'attention.masked',
);

// dOut and the forward's out like q (shape and dtype), the gradients like q / k.
export const ATTENTION_MASKED_BACKWARD = defineOp(
  'attentionMaskedBackward',
  [
    input('dOut', FLOATS, { shape: 'like q' }),
    input('q', FLOATS, { shape: ['B', 'Hq', 'Tq', 'D'] }),
    input('k', FLOATS, { shape: ['B', 'Hkv', 'T', 'D'] }),
    input('v', FLOATS, { shape: ['B', 'Hkv', 'T', 'D'] }),
    input('out', FLOATS, { shape: 'like q' }),
    input('lse', ['float32'], { shape: ['B', 'Hq', 'Tq'] }),
    output('dq', FLOATS, { shape: 'like q' }),
    output('dk', FLOATS, { shape: 'like k' }),
    output('dv', FLOATS, { shape: 'like k' }),
    input('keyMask', MASKS, { optional: true, shape: ['B', 'L'] }),
    number('scale'),
    boolean('causal'),
    integer('queryOffset', -(2 ** 53), 2 ** 53),
    integer('kvLength', 0, 2 ** 53),
  ],
  'attention.maskedBackward',
);

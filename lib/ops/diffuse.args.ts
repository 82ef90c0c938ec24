/** Arguments of the native diffuse (see lib/op_decl.ts). */
import { FLOATS, defineOp, index, input, integer, output, u64 } from '../op_decl';

// x0, out and eps of one shape (the '...' group: all of it); x0 [B, ...] with t [B], out of x0's dtype
// for a float x0, normSub/normDiv for uint8 x0 only, tiling them, at least 1 step: checked in prepare
export const DIFFUSE = defineOp(
  'diffuse',
  [
    input('x0', [...FLOATS, 'uint8'], { shape: ['...'] }),
    output('out', FLOATS, { inPlace: ['x0'], shape: ['...'] }),
    output('eps', ['float32'], { optional: true, shape: ['...'] }),
    index('t', ['int32'], { optional: true }),
    integer('tScalar', -(2 ** 31), 2 ** 31 - 1),
    input('sqrtAlphasCumprod', ['float32'], { shape: ['T'] }),
    input('sqrtOneMinusAlphasCumprod', ['float32'], { shape: 'like sqrtAlphasCumprod' }),
    input('normSub', ['float32'], { optional: true, shape: ['C'] }),
    input('normDiv', ['float32'], { optional: true, shape: 'like normSub' }),
    integer('inner', 1, 2 ** 53),
    u64('seed'),
    u64('offset'),
  ],
  'noise.diffuse',
);

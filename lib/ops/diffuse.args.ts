/** Arguments of the native diffuse (see lib/op_decl.ts). */
import { FLOATS, defineOp, index, input, integer, output, u64 } from '../op_decl';

export const DIFFUSE = defineOp(
  'diffuse',
  [
    input('x0', [...FLOATS, 'uint8']),
    output('out', FLOATS, { inPlace: ['x0'] }),
    output('eps', ['float32'], { optional: true }),
    index('t', ['int32'], { optional: true }),
    integer('tScalar', -(2 ** 31), 2 ** 31 - 1),
    input('sqrtAlphasCumprod', ['float32']),
    input('sqrtOneMinusAlphasCumprod', ['float32']),
    input('normSub', ['float32'], { optional: true }),
    input('normDiv', ['float32'], { optional: true }),
    integer('inner', 1, 2 ** 53),
    u64('seed'),
    u64('offset'),
  ],
  'noise.diffuse',
);

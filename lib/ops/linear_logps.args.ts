/** Arguments of the native linearLogps and linearLogpsScale (see lib/op_decl.ts). */
import { FLOATS, LABELS, boolean, defineOp, index, input, integer, output } from '../op_decl';

const MAX_SAFE = Number.MAX_SAFE_INTEGER;

// Padded hidden [B, T, H] with labels [B, T], or packed [N, H] with labels [N] and cuSeqlens
// [B + 1]: the '...' group is the rows. The rank (3 padded, 2 packed), cuSeqlens' B + 1, B's
// value and one dtype for hidden and lmHead (dHidden: hidden's or float32) are checked by the
// wrappers and prepare (native/cpp/binding/logps_rows.h).
export const LINEAR_LOGPS = defineOp('linearLogps', [
  input('hidden', FLOATS, { shape: ['...', 'H'] }),
  input('lmHead', FLOATS, { shape: ['V', 'H'] }),
  index('labels', LABELS, { shape: ['...'] }),
  index('cuSeqlens', ['int32'], { optional: true, shape: ['C'] }),
  input('gradLogps', ['float32'], { optional: true }), // [B]: prepare (after logps binds B from the layout)
  output('logps', ['float32'], { shape: ['B'] }),
  output('counts', ['int32'], { shape: ['B'] }),
  output('perToken', ['float32'], { shape: ['...'] }),
  output('lse', ['float32'], { optional: true, shape: ['...'] }),
  output('dHidden', FLOATS, { optional: true, shape: ['...', 'H'] }),
  output('dLmHead', ['float32'], { optional: true, shape: ['V', 'H'] }), // accumulated into (+=)
  integer('ignoreIndex', -MAX_SAFE, MAX_SAFE),
  boolean('shift'),
  boolean('average'),
  boolean('tokenMean'),
  integer('chunk', 1, 2 ** 31 - 1),
]);

// out[r] = scale[seq(r)] * u[r]: u float32 and out in hidden's layout, scale [B].
export const LINEAR_LOGPS_SCALE = defineOp('linearLogpsScale', [
  input('u', ['float32'], { shape: ['...', 'H'] }),
  index('cuSeqlens', ['int32'], { optional: true, shape: ['C'] }),
  input('scale', ['float32'], { shape: ['B'] }),
  output('out', FLOATS, { shape: ['...', 'H'] }),
]);

/** Arguments of the internal _gemm (the GEMM core; see lib/op_decl.ts and native/cpp/binding/gemm.cc). */
import { FLOATS, boolean, defineOp, input, integer, output } from '../op_decl';

// a [M, K] (transA: [K, M]) and b [K, N] (transB: [N, K]) depend on the flags: their ranks are
// declared here, M, K and N are checked by prepare; c [M, N] and bias [N] share N.
export const GEMM = defineOp('_gemm', [
  input('a', FLOATS, { shape: ['A0', 'A1'] }),
  input('b', FLOATS, { shape: ['B0', 'B1'] }),
  output('c', FLOATS, { shape: ['M', 'N'] }),
  input('bias', FLOATS, { optional: true, shape: ['N'] }),
  boolean('transA'),
  boolean('transB'),
  boolean('accumulate'),
  integer('maxIsa', -1, 3),
]);

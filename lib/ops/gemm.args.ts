/** Arguments of the internal _gemm (the GEMM core; see lib/op_decl.ts and native/cpp/binding/gemm.cc). */
import { FLOATS, boolean, defineOp, input, integer, output } from '../op_decl';

export const GEMM = defineOp('_gemm', [
  input('a', FLOATS),
  input('b', FLOATS),
  output('c', FLOATS),
  input('bias', FLOATS, { optional: true }),
  boolean('transA'),
  boolean('transB'),
  boolean('accumulate'),
  integer('maxIsa', -1, 3),
]);

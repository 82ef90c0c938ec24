/** Arguments of the native cosine and similarityFilter (see lib/op_decl.ts). */
import { FLOATS, boolean, defineOp, input, number, output } from '../op_decl';

export const COSINE = defineOp('cosine', [input('a', FLOATS), input('b', FLOATS), boolean('paired'), output('out', ['float32'])]);

export const SIMILARITY_FILTER = defineOp('similarityFilter', [
  input('candidates', FLOATS),
  input('references', FLOATS),
  boolean('paired'),
  number('threshold'),
  output('keep', ['bool']),
]);

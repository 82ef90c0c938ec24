/** Arguments of the native cosine and similarityFilter (see lib/op_decl.ts). */
import { F32_MAX, FLOATS, boolean, defineOp, input, number, output } from '../op_decl';

// b [M, E] (paired: M = N, a flag the pattern cannot state) and out [N, M] or [N]: checked in prepare
export const COSINE = defineOp('cosine', [input('a', FLOATS, { shape: ['N', 'E'] }), input('b', FLOATS, { shape: ['M', 'E'] }), boolean('paired'), output('out', ['float32'])]);

export const SIMILARITY_FILTER = defineOp(
  'similarityFilter',
  [
    input('candidates', FLOATS, { shape: ['N', 'E'] }),
    input('references', FLOATS, { shape: ['M', 'E'] }),
    boolean('paired'),
    number('threshold', { min: -F32_MAX, max: F32_MAX }),
    output('keep', ['bool'], { shape: ['N'] }),
  ],
  'similarity.filter',
);

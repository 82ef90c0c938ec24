/** Arguments of the native kvCacheAppend (see lib/op_decl.ts). */
import { FLOATS, defineOp, input, integer, output } from '../op_decl';

export const KV_CACHE_APPEND = defineOp(
  'kvCacheAppend',
  [output('kCache', FLOATS), output('vCache', FLOATS), input('k', FLOATS), input('v', FLOATS), integer('start', 0, 2 ** 53)],
  'KVCache.append',
);

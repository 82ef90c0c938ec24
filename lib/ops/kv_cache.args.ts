/** Arguments of the native kvCacheAppend (see lib/op_decl.ts). */
import { FLOATS, defineOp, input, integer, output } from '../op_decl';

// k of kCache's dtype and start + T <= C: checked in prepare (the wrapper, KVCache, checks in its own words first)
export const KV_CACHE_APPEND = defineOp(
  'kvCacheAppend',
  [
    output('kCache', FLOATS, { shape: ['B', 'H', 'C', 'D'] }),
    output('vCache', FLOATS, { shape: 'like kCache' }),
    input('k', FLOATS, { shape: ['B', 'H', 'T', 'D'] }),
    input('v', FLOATS, { shape: 'like k' }),
    integer('start', 0, 2 ** 53),
  ],
  'KVCache.append',
);

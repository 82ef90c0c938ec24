// KVCache.append (ops/kv_cache.h); arguments declared in lib/ops/kv_cache.args.ts: the caches
// [B, H, capacity, d] are written at positions [start, start + t) from k, v [B, H, t, d].
#include "../ops/kv_cache.h"
#include "args/kv_cache.h"

namespace mmpref::napi {
MMPREF_LAUNCH_OP(args::kv_cache_append, KvCacheAppendArgs, kv_cache_append, prepare) {
  const TensorView &kc = c.t(A::kCache), &k = c.t(A::k);
  MMPREF_RETURN_IF_ERROR(c.one_device());
  MMPREF_RETURN_IF_ERROR(c.same_dtype(A::vCache, A::kCache));
  MMPREF_RETURN_IF_ERROR(c.same_dtype(A::k, A::kCache));
  MMPREF_RETURN_IF_ERROR(c.same_dtype(A::v, A::kCache));
  MMPREF_RETURN_IF_ERROR(c.ndim_is(A::kCache, 4));
  MMPREF_RETURN_IF_ERROR(c.same_shape(A::vCache, A::kCache));
  if (k.ndim != 4 || k.shape[0] != kc.shape[0] || k.shape[1] != kc.shape[1] || k.shape[3] != kc.shape[3])
    return c.error(Code::kShape, "expected k of shape [" + std::to_string(kc.shape[0]) + ", " + std::to_string(kc.shape[1]) + ", t, " +
                                     std::to_string(kc.shape[3]) + "] (from kCache " + shape_str(kc) + ") but received " + shape_str(k));
  MMPREF_RETURN_IF_ERROR(c.same_shape(A::v, A::k));
  const int64_t start = c.integer(A::start);
  if (start + k.shape[2] > kc.shape[2])
    return c.error(Code::kRange, "expected start + t <= " + std::to_string(kc.shape[2]) + ": the cache holds " + std::to_string(kc.shape[2]) +
                                     " positions but appending " + std::to_string(k.shape[2]) + " at " + std::to_string(start) + " needs " +
                                     std::to_string(start + k.shape[2]));
  KvCacheAppendArgs& g = job->args;
  g.k_cache = kc.data;
  g.v_cache = c.t(A::vCache).data;
  g.k = k.data;
  g.v = c.t(A::v).data;
  g.rows = kc.shape[0] * kc.shape[1];
  g.capacity = kc.shape[2];
  g.start = start;
  g.count = k.shape[2];
  g.row_bytes = kc.shape[3] * dtype_size(kc.dtype);
  g.device = kc.device;
  return Status::Ok();
}

}  // namespace mmpref::napi

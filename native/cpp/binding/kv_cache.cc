// KVCache.append (ops/kv_cache.h); arguments and shapes declared in lib/ops/kv_cache.args.ts: the
// caches [B, H, C, d] are written at positions [start, start + T) from k, v [B, H, T, d].
#include "../ops/kv_cache.h"
#include "args/kv_cache.h"

namespace mmpref::napi {
MMPREF_LAUNCH_OP(args::kv_cache_append, KvCacheAppendArgs, kv_cache_append, prepare) {
  const TensorView &kc = c.t(A::kCache), &k = c.t(A::k);
  MMPREF_RETURN_IF_ERROR(c.one_device());
  MMPREF_RETURN_IF_ERROR(c.same_dtype(A::k, A::kCache));
  const int64_t start = c.integer(A::start), capacity = c.dim(A::dim::C), count = c.dim(A::dim::T);
  if (start + count > capacity)
    return c.error(Code::kRange, "expected start + t <= " + std::to_string(capacity) + ": the cache holds " + std::to_string(capacity) +
                                     " positions but appending " + std::to_string(count) + " at " + std::to_string(start) + " needs " +
                                     std::to_string(start + count));
  job->args = KvCacheAppendArgs{kc.data, c.t(A::vCache).data, k.data, c.t(A::v).data, c.dim(A::dim::B) * c.dim(A::dim::H), capacity, start,
                                count, c.dim(A::dim::D) * dtype_size(kc.dtype), kc.device};
  return Status::Ok();
}

}  // namespace mmpref::napi

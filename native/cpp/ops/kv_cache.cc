// CPU KV-cache append: one memcpy of t * d elements per (b, h) and tensor, rows in parallel.
#include <algorithm>
#include <cstring>

#include "../core/thread_pool.h"
#include "kv_cache.h"

namespace mmpref {

Status kv_cache_append_cpu(const KvCacheAppendArgs& a) {
  const int64_t seg = a.count * a.row_bytes;
  if (seg == 0) return Status::Ok();
  const int64_t grain = std::max<int64_t>(1, (int64_t(1) << 18) / seg);
  parallel_for(a.rows, grain, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t dst = (r * a.capacity + a.start) * a.row_bytes;
      std::memcpy(static_cast<char*>(a.k_cache) + dst, static_cast<const char*>(a.k) + r * seg, size_t(seg));
      std::memcpy(static_cast<char*>(a.v_cache) + dst, static_cast<const char*>(a.v) + r * seg, size_t(seg));
    }
  });
  return Status::Ok();
}

}  // namespace mmpref

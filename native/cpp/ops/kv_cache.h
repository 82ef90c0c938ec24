// KV-cache append: copies new keys and values k, v [B, H, t, d] into the preallocated per-layer
// buffers k_cache, v_cache [B, H, cap, d] at positions [start, start + t) of every (b, h):
//
//   k_cache[b, h, start + s, :] = k[b, h, s, :]    (same for v), 0 <= s < t, start + t <= cap
//
// A strided copy, B * H segments of t * d elements; nothing else in the cache is touched. The
// filled length lives in the TypeScript KVCache; attention.masked reads the prefix through kvLength.
#pragma once

#include <cstdint>

#include "../core/status.h"

namespace mmpref {

struct KvCacheAppendArgs {
  void* k_cache = nullptr;
  void* v_cache = nullptr;
  const void* k = nullptr;
  const void* v = nullptr;
  int64_t rows = 0;       // B * H
  int64_t capacity = 0;   // cap
  int64_t start = 0;
  int64_t count = 0;      // t
  int64_t row_bytes = 0;  // d * itemsize
  int device = -1;
};

Status kv_cache_append_cpu(const KvCacheAppendArgs& a);
Status kv_cache_append_cuda(const KvCacheAppendArgs& a);

}  // namespace mmpref

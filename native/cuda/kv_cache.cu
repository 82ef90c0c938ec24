// CUDA KV-cache append: one 2-D copy per tensor (rows of t * d elements into rows of cap * d).
#include "../cpp/ops/kv_cache.h"
#include "common.cuh"

namespace mmpref {

Status kv_cache_append_cuda(const KvCacheAppendArgs& a) {
  MMPREF_RETURN_IF_ERROR(cuda::set_device(a.device));
  const size_t seg = size_t(a.count * a.row_bytes);
  if (seg == 0 || a.rows == 0) return Status::Ok();
  const size_t pitch = size_t(a.capacity * a.row_bytes);
  const size_t at = size_t(a.start * a.row_bytes);
  MMPREF_RETURN_IF_ERROR(cuda::status_from(
      cudaMemcpy2DAsync(static_cast<char*>(a.k_cache) + at, pitch, a.k, seg, seg, size_t(a.rows),
                        cudaMemcpyDeviceToDevice, cuda::op_stream()),
      "KVCache.append"));
  MMPREF_RETURN_IF_ERROR(cuda::status_from(
      cudaMemcpy2DAsync(static_cast<char*>(a.v_cache) + at, pitch, a.v, seg, seg, size_t(a.rows),
                        cudaMemcpyDeviceToDevice, cuda::op_stream()),
      "KVCache.append"));
  return cuda::check_launch_and_sync("KVCache.append");
}

}  // namespace mmpref

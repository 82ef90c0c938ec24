// similarity.meanPoolNormalize: sentence-transformers mean pooling + L2 normalisation (the
// all-mpnet-base-v2 embedding of BDHS's semantic rejection, METHODS.md section 5.3).
//
//   mean[r, :] = sum_t mask[r, t] x[r, t, :] / sum_t mask[r, t]      (0 when no token counts)
//   out[r, :]  = mean[r, :] / max(|mean[r, :]|, 1e-12)                (F.normalize; skipped if !normalize)
//
// x float32/float16/bfloat16 [M, T, E], mask bool/uint8/int32/int64 [M, T] (nonzero = the token
// counts; absent = all count), out float32 [M, E]. float32 accumulation in token order.
#pragma once

#include <cstdint>

#include "../core/dtype.h"
#include "../core/hd.h"
#include "../core/status.h"

namespace mmpref {

struct MeanPoolArgs {
  const void* x = nullptr;  // [m, t, e]
  DType dtype = DType::kFloat32;
  int64_t m = 0, t = 0, e = 0;
  const void* mask = nullptr;  // [m, t] or nullptr
  DType mask_dtype = DType::kBool;
  bool normalize = true;
  float* out = nullptr;  // [m, e]
  int device = -1;
};

constexpr float kNormalizeEps = 1e-12f;

// mask[i] != 0 for any integer mask dtype.
MMPREF_HD bool mask_at(const void* mask, DType d, int64_t i) {
  if (!mask) return true;
  switch (d) {
    case DType::kInt32: return static_cast<const int32_t*>(mask)[i] != 0;
    case DType::kInt64: return static_cast<const int64_t*>(mask)[i] != 0;
    default: return static_cast<const uint8_t*>(mask)[i] != 0;
  }
}

Status mean_pool_normalize_cpu(const MeanPoolArgs& a);
Status mean_pool_normalize_cuda(const MeanPoolArgs& a);

}  // namespace mmpref

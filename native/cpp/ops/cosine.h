// similarity.cosine and similarity.filter (BDHS semantic rejection, METHODS.md section 5.3).
//
//   cos(a, b) = (a . b) / (|a| |b|),  0 when a or b is the zero vector,  clamped to [-1, 1]
//
// all pairs: a [N, E] x b [M, E] -> [N, M] (a GEMM, gemm_nt, with a dividing epilogue);
// paired:    a [N, E] x b [N, E] -> [N]    (one pass per row: dot and both squared norms).
// filter:    keep[n] = max_m cos(c_n, r_m) < threshold (paired: cos(c_n, r_n) < threshold); a NaN
//            similarity compares false, so its candidate is dropped; with no references all are kept.
// float32/float16/bfloat16 in (one dtype), float32 accumulation, float32 (or bool) out. Division
// (dot / |a|) / |b| avoids overflow of |a| |b|. Gradient: not exposed.
#pragma once

#include <cmath>
#include <cstdint>

#include "../core/dtype.h"
#include "../core/hd.h"
#include "../core/status.h"

namespace mmpref {

struct CosineArgs {
  const void* a = nullptr;  // [n, e]
  const void* b = nullptr;  // [m, e] ([n, e] when paired)
  DType dtype = DType::kFloat32;
  int64_t n = 0, m = 0, e = 0;
  bool paired = false;
  float* out = nullptr;      // cosine: [n, m] or [n]
  uint8_t* keep = nullptr;   // filter: bool [n] (then `out` is unused)
  float threshold = 0.97f;   // filter only
  int device = -1;
};

MMPREF_HD float cosine_finish(float dot, float norm_a, float norm_b) {
  if (norm_a == 0.0f || norm_b == 0.0f) return 0.0f;
  const float c = dot / norm_a / norm_b;
  return c > 1.0f ? 1.0f : (c < -1.0f ? -1.0f : c);  // NaN passes through
}

Status cosine_cpu(const CosineArgs& a);
Status cosine_cuda(const CosineArgs& a);

}  // namespace mmpref

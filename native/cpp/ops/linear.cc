// CPU linear: y = x W^T + b through the GEMM core (gemm.h, NT layout) with the bias added to the
// float32 sum and one rounding to the output dtype. Decode shapes (M <= 8) take the core's
// streaming path, which reads W once; every M gives the same bits per row (KV-cache decode equals
// prefill).
#include "linear.h"

#include <algorithm>

#include "gemm.h"

namespace mmpref {

Status linear_cpu(const LinearArgs& a) {
  GemmArgs g;
  g.a = a.x;
  g.b = a.w;
  g.c = a.y;
  g.bias = a.bias;
  g.in_dtype = g.out_dtype = g.bias_dtype = a.dtype;
  g.m = a.m;
  g.n = a.n;
  g.k = a.k;
  g.lda = std::max<int64_t>(a.k, 1);
  g.ldb = std::max<int64_t>(a.k, 1);
  g.ldc = std::max<int64_t>(a.n, 1);
  g.trans_b = true;
  return gemm_cpu(g);
}

}  // namespace mmpref

// CPU linear: y = x W^T + b through the GEMM core (gemm.h, NT layout) with the bias added to the
// float32 sum and one rounding to the output dtype. Decode shapes (M <= kGemmSmallM) keep the
// gemm_nt small-M path, which streams W once in place instead of packing it.
#include "linear.h"

#include "../core/dispatch.h"
#include "../core/half.h"
#include "gemm.h"
#include "gemm_nt.h"

#include <algorithm>

namespace mmpref {
namespace {

template <class T>
void run_small(const LinearArgs& a) {
  const T* bias = static_cast<const T*>(a.bias);
  T* y = static_cast<T*>(a.y);
  const int64_t n_total = a.n;
  gemm_nt_cpu(static_cast<const T*>(a.x), static_cast<const T*>(a.w), a.m, a.n, a.k,
              [&](int64_t m0, int64_t n0, int rows, int cols, const float* c, int ldc) {
                for (int r = 0; r < rows; ++r) {
                  T* out = y + (m0 + r) * n_total + n0;
                  for (int j = 0; j < cols; ++j)
                    out[j] = from_float<T>(bias ? c[r * ldc + j] + to_float(bias[n0 + j]) : c[r * ldc + j]);
                }
              });
}

}  // namespace

Status linear_cpu(const LinearArgs& a) {
  if (a.m <= kGemmSmallM)
    return dispatch_float(a.dtype, "linear", [&](auto t) { run_small<decltype(t)>(a); });
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

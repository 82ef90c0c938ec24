// CPU linear: gemm_nt_cpu with an epilogue that adds the bias and rounds to the output dtype.
#include "linear.h"

#include "../core/dispatch.h"
#include "../core/half.h"
#include "gemm_nt.h"

namespace mmpref {
namespace {

template <class T>
void run(const LinearArgs& a) {
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
  return dispatch_float(a.dtype, "linear", [&](auto t) { run<decltype(t)>(a); });
}

}  // namespace mmpref

// RMSNorm (LLaMA): y[r, :] = x[r, :] * rsqrt(mean(x[r, :]^2) + eps) * w, float32 math, one
// rounding on store; w is x's dtype or float32. In place (y == x) works: a row is read before written.
//
// Backward (TRAINING.md section 1), with r = rsqrt(mean(x^2) + eps) recomputed from x and
// c = mean_k(dy_k w_k x_k):
//   dx_k = r dy_k w_k - (r^3 c) x_k      (= r (dy w - x^ mean(dy w x^)), x^ = x r)
//   dw_k (+)= sum_rows dy_k (x_k r)
// dx may be dy itself (a row is read before written). dw is float32 and deterministic: rows are
// cut into blocks of a fixed number of rows (a function of rows only: rms_norm_backward_block_rows
// on the CPU, smaller blocks on CUDA to fill the SMs), each block sums its rows in order into its
// own partial, and the partials are added in block order (no atomics), so the bits do not depend
// on the thread count or the launch.
#pragma once

#include <cmath>
#include <cstdint>

#include "../core/dtype.h"
#include "../core/hd.h"
#include "../core/math.h"
#include "../core/status.h"

namespace mmpref {

struct RmsNormArgs {
  const void* x;
  const void* w;  // [D], dtype w_dtype
  void* y;
  DType dtype, w_dtype;
  int64_t rows, cols;
  float eps;
  int device;
};

Status rms_norm_cpu(const RmsNormArgs& a);
Status rms_norm_cuda(const RmsNormArgs& a);

// Rows per dw partial on the CPU: at least 32, and at most 256 partials (bounded scratch: 256 * D floats).
MMPREF_HD int64_t rms_norm_backward_block_rows(int64_t rows) {
  const int64_t per = (rows + 255) / 256;
  return per > 32 ? per : 32;
}

struct RmsNormBackwardArgs {
  const void* dy;  // [rows, D], dtype
  const void* x;   // [rows, D], dtype
  const void* w;   // [D], w_dtype
  void* dx;        // [rows, D], dtype; may be dy
  float* dw;       // [D] float32
  DType dtype, w_dtype;
  int64_t rows, cols;
  float eps;
  bool accumulate;  // dw += instead of dw =
  int device;
};

Status rms_norm_backward_cpu(const RmsNormBackwardArgs& a);
Status rms_norm_backward_cuda(const RmsNormBackwardArgs& a);
}  // namespace mmpref

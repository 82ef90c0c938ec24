// RMSNorm (LLaMA): y[r, :] = x[r, :] * rsqrt(mean(x[r, :]^2) + eps) * w, float32 math, one
// rounding on store; w is x's dtype or float32. In place (y == x) works: a row is read before written.
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
}  // namespace mmpref

// The two halves of optim.clipGradNorm (PyTorch torch.nn.utils.clip_grad_norm_, norm_type 2):
//   total = sqrt(sum over every gradient tensor of sum_i g_i^2);  coef = min(1, maxNorm / (total + eps));
//   every g <- g * coef (lib/ops/clip_grad_norm.ts sums the per-tensor results in list order and
//   decides coef).
// grad_sum_squares: s = sum_i float64(g_i)^2 in float64 over fixed blocks (kSumSquaresBlock
// elements, kSumLanes interleaved float64 lanes per block, lanes and blocks added in a fixed order),
// so the bits depend on neither the thread count nor the CPU variant; written as a float32 pair
// (hi, lo) with hi = float(s), lo = float(s - hi), which carries s to about 2^-48 relative.
// grad_scale: g_i <- rne(float(g_i) * coef). Reference: test/reference/adamw.ts.
#pragma once

#include <cstdint>

#include "../core/dtype.h"
#include "../core/hd.h"
#include "../core/status.h"

namespace mmpref {

constexpr int64_t kSumSquaresBlock = 1 << 14;
constexpr int kSumLanes = 16;

struct SumSquaresArgs {
  const void* x;  // [n]
  float* out;     // [2]: hi, lo
  DType dtype;
  int64_t n;
  int device;
};

struct GradScaleArgs {
  const void* x;  // [n]
  void* y;        // [n], may be x
  DType dtype;
  int64_t n;
  float coef;
  int device;
};

// The (hi, lo) float32 pair of a float64 sum.
MMPREF_HD void split_sum(double s, float* out) {
  const float hi = float(s);
  out[0] = hi;
  // NB: an infinite hi keeps lo 0 (inf - inf would make the pair NaN)
  out[1] = hi - hi == 0.0f ? float(s - double(hi)) : 0.0f;
}

Status grad_sum_squares_cpu(const SumSquaresArgs& a);
Status grad_sum_squares_cuda(const SumSquaresArgs& a);
Status grad_scale_cpu(const GradScaleArgs& a);
Status grad_scale_cuda(const GradScaleArgs& a);

}  // namespace mmpref

// noise.predictionLoss (DEEM-style diffusion feedback, METHODS.md §7): weighted mean squared
// error between a prediction and its target (eps, or v), fused with its gradient.
//
//   mse_b = (1 / S) sum_j (p[b, j] - e[b, j])^2          per sample (S elements each)
//   loss  = (1 / B) sum_b w_b mse_b
//   dloss/dp[b, j] = g * 2 w_b (p[b, j] - e[b, j]) / (B S)     (g: upstream gradient)
//
// w_b: given weights, or a per-timestep table (min-SNR-gamma: min(SNR_t, gamma) / SNR_t for
// epsilon targets, / (SNR_t + 1) for v targets, built by the caller) looked up at t_b, with
// t_b = -1 (no noise) -> weight 0 and t_b outside [-1, T-1] an ERR_RANGE; or 1.
// Reduction: float32 sums inside fixed 16384-element chunks of a sample, chunk partials and the
// batch sum merged in float64 in index order (identical for any thread count; CUDA differs from
// the CPU only in the order inside a chunk). S = 0 gives mse 0, B = 0 gives loss 0.
#pragma once

#include <cstdint>

#include "../core/dtype.h"
#include "../core/hd.h"
#include "../core/status.h"
#include "timestep.h"

namespace mmpref {

struct PredictionLossArgs {
  const void* pred = nullptr;
  DType pred_dtype = DType::kFloat32;
  const void* target = nullptr;
  DType target_dtype = DType::kFloat32;
  void* grad = nullptr;            // optional, pred_dtype, same shape as pred
  float* per_sample = nullptr;     // [batch] mse_b
  float* weights_out = nullptr;    // [batch] w_b used
  float* loss = nullptr;           // [1]
  int64_t batch = 0, sample = 0;
  const float* weights = nullptr;  // [batch], or
  const float* wtab = nullptr;     // [steps] indexed by t_b (t or t_scalar)
  int64_t steps = 0;
  const int32_t* t = nullptr;
  int32_t t_scalar = -1;
  float grad_scale = 1.0f;
  int device = -1;
};

constexpr int64_t kLossChunk = 16384;

// Weight of sample b; false when its timestep is out of range.
MMPREF_HD bool loss_weight(const PredictionLossArgs& a, int64_t b, float* w) {
  if (a.weights) {
    *w = a.weights[b];
    return true;
  }
  if (!a.wtab) {
    *w = 1.0f;
    return true;
  }
  const int32_t t = a.t ? a.t[b] : a.t_scalar;
  if (t == -1) {
    *w = 0.0f;
    return true;
  }
  if (!timestep_ok(t, a.steps)) return false;
  *w = a.wtab[t];
  return true;
}

// Gradient coefficient of sample b: g * 2 w_b / (B S), in float64 rounded once.
MMPREF_HD float loss_grad_coef(float grad_scale, float w, int64_t batch, int64_t sample) {
  return float(2.0 * double(grad_scale) * double(w) / (double(batch) * double(sample)));
}

Status prediction_loss_cpu(const PredictionLossArgs& a);
Status prediction_loss_cuda(const PredictionLossArgs& a);

}  // namespace mmpref

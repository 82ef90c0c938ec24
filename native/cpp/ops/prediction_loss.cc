// CPU prediction loss: 1. per-sample weights (timesteps checked before anything is written);
// 2. (sample, 16384-element chunk) work items in parallel: float32 lane sums of squared errors,
// and the gradient written in the same pass; 3. chunk partials merged in float64, in order.
#include "prediction_loss.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "../core/dispatch.h"
#include "../core/half.h"
#include "../core/thread_pool.h"

namespace mmpref {
namespace {

constexpr int kLanes = 16;

// sum (p - e)^2 over n elements; when g != null also g[i] = coef * (p - e).
template <class TP, class TT>
MMPREF_CPU_CLONES float sq_err(const TP* p, const TT* e, int64_t n, float coef, TP* g) {
  float acc[kLanes] = {0};
  int64_t i = 0;
  if (g) {
    for (; i + kLanes <= n; i += kLanes)
      for (int j = 0; j < kLanes; ++j) {
        const float d = to_float(p[i + j]) - to_float(e[i + j]);
        acc[j] = fmaf(d, d, acc[j]);
        g[i + j] = from_float<TP>(coef * d);
      }
  } else {
    for (; i + kLanes <= n; i += kLanes)
      for (int j = 0; j < kLanes; ++j) {
        const float d = to_float(p[i + j]) - to_float(e[i + j]);
        acc[j] = fmaf(d, d, acc[j]);
      }
  }
  for (int j = 0; i < n; ++i, ++j) {
    const float d = to_float(p[i]) - to_float(e[i]);
    acc[j] = fmaf(d, d, acc[j]);
    if (g) g[i] = from_float<TP>(coef * d);
  }
  float s = 0.0f;
  for (int j = 0; j < kLanes; ++j) s += acc[j];
  return s;
}

template <class TP, class TT>
void run(const PredictionLossArgs& a, const std::vector<float>& coef) {
  const TP* p = static_cast<const TP*>(a.pred);
  const TT* e = static_cast<const TT*>(a.target);
  TP* g = static_cast<TP*>(a.grad);
  const int64_t B = a.batch, S = a.sample;
  const int64_t chunks = std::max<int64_t>(1, (S + kLossChunk - 1) / kLossChunk);
  std::vector<float> part(size_t(B * chunks), 0.0f);
  parallel_for(B * chunks, 1, [&](int64_t w0, int64_t w1) {
    for (int64_t w = w0; w < w1; ++w) {
      const int64_t b = w / chunks, j0 = (w % chunks) * kLossChunk;
      const int64_t n = std::min(kLossChunk, S - j0), off = b * S + j0;
      if (n > 0) part[size_t(w)] = sq_err<TP, TT>(p + off, e + off, n, coef[size_t(b)], g ? g + off : nullptr);
    }
  });
  double loss = 0.0;
  for (int64_t b = 0; b < B; ++b) {
    double s = 0.0;
    for (int64_t c = 0; c < chunks; ++c) s += double(part[size_t(b * chunks + c)]);
    const double mse = S > 0 ? s / double(S) : 0.0;
    a.per_sample[b] = float(mse);
    loss += double(a.weights_out[b]) * mse;
  }
  a.loss[0] = B > 0 ? float(loss / double(B)) : 0.0f;
}

}  // namespace

Status prediction_loss_cpu(const PredictionLossArgs& a) {
  std::vector<float> coef(size_t(a.batch));
  for (int64_t b = 0; b < a.batch; ++b) {
    float w = 0.0f;
    if (!loss_weight(a, b, &w))
      return timestep_error("noise.predictionLoss", a.steps, b, a.t ? a.t[b] : a.t_scalar);
    a.weights_out[b] = w;
    coef[size_t(b)] = a.sample > 0 ? loss_grad_coef(a.grad_scale, w, a.batch, a.sample) : 0.0f;
  }
  return dispatch_float(a.pred_dtype, "noise.predictionLoss", [&](auto tp) {
    return dispatch_float(a.target_dtype, "noise.predictionLoss", [&](auto tt) { run<decltype(tp), decltype(tt)>(a, coef); });
  });
}

}  // namespace mmpref

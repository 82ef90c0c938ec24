// predictionLoss(pred, target, grad, perSample, weightsOut, loss, weights, wtab, t, tScalar,
// gradScale, async): pred/target float [B, ...] (same shape), grad pred-dtype or null,
// perSample/weightsOut float32 [B], loss float32 [] or [1], weights float32 [B] or null, wtab
// float32 [T] or null (then t int32 [B] or tScalar pick the row).
#include "../ops/prediction_loss.h"
#include "napi_util.h"
#include "noise_checks.h"

namespace mmpref::napi {
namespace {

constexpr const char* kOp = "noise.predictionLoss";

struct PredictionLossJob : Job {
  PredictionLossArgs args;
  Status run() override { return MMPREF_RUN_ON_DEVICE("noise.predictionLoss", args.device, prediction_loss_cpu(args), prediction_loss_cuda(args)); }
};

Napi::Value prediction_loss(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Args a(info, kOp);
  auto job = std::make_unique<PredictionLossJob>();
  bool async = false, has_grad = false, has_w = false, has_tab = false, has_t = false;
  TensorView p, e, g, per, wout, loss, w, tab, t;
  int64_t t_scalar = -1;
  double scale = 1;
  const uint32_t f32 = dtype_bit(DType::kFloat32);
  MMPREF_NAPI_TRY(env, a.async_flag(&async));
  MMPREF_NAPI_TRY(env, a.tensor(0, "epsPred", job.get(), &p, kFloatMask));
  MMPREF_NAPI_TRY(env, a.tensor(1, "eps", job.get(), &e, kFloatMask));
  MMPREF_NAPI_TRY(env, a.optional_tensor(2, "grad", job.get(), &g, &has_grad, kFloatMask));
  MMPREF_NAPI_TRY(env, a.tensor(3, "perSample", job.get(), &per, f32));
  MMPREF_NAPI_TRY(env, a.tensor(4, "weights out", job.get(), &wout, f32));
  MMPREF_NAPI_TRY(env, a.tensor(5, "loss", job.get(), &loss, f32));
  MMPREF_NAPI_TRY(env, a.optional_tensor(6, "weights", job.get(), &w, &has_w, f32));
  MMPREF_NAPI_TRY(env, a.optional_tensor(7, "weight table", job.get(), &tab, &has_tab, f32));
  MMPREF_NAPI_TRY(env, a.optional_tensor(8, "t", job.get(), &t, &has_t, dtype_bit(DType::kInt32)));
  MMPREF_NAPI_TRY(env, a.integer(9, "t", INT32_MIN, INT32_MAX, &t_scalar));
  MMPREF_NAPI_TRY(env, a.number(10, "gradScale", &scale));
  if (p.ndim < 1) MMPREF_NAPI_TRY(env, make_status(Code::kShape, "noise.predictionLoss: expected epsPred with a batch dimension but received a scalar"));
  const int64_t B = p.shape[0];
  int64_t S = 1;
  for (int d = 1; d < p.ndim; ++d) S *= p.shape[d];
  MMPREF_NAPI_TRY(env, expect_shape_as(kOp, "eps", e, "epsPred", p));
  if (has_grad) {
    MMPREF_NAPI_TRY(env, expect_shape_as(kOp, "grad", g, "epsPred", p));
    MMPREF_NAPI_TRY(env, expect_dtype_as(kOp, "grad", g, p));
  }
  MMPREF_NAPI_TRY(env, expect_dims(kOp, "perSample", per, {B}, "epsPred [B, ...]"));
  MMPREF_NAPI_TRY(env, expect_dims(kOp, "weights out", wout, {B}, "epsPred [B, ...]"));
  if (loss.numel != 1) MMPREF_NAPI_TRY(env, make_status(Code::kShape, "noise.predictionLoss: expected a 1-element loss but received " + shape_str(loss)));
  if (has_w && has_tab)
    MMPREF_NAPI_TRY(env, make_status(Code::kArgument, "noise.predictionLoss: expected weights or a weight table, not both"));
  if (has_w) MMPREF_NAPI_TRY(env, expect_dims(kOp, "weights", w, {B}, "epsPred [B, ...]"));
  if (has_tab) {
    MMPREF_NAPI_TRY(env, expect_ndim(kOp, "weight table", tab, 1));
    if (tab.numel < 1) MMPREF_NAPI_TRY(env, make_status(Code::kShape, "noise.predictionLoss: expected a weight table of at least 1 step"));
  }
  if (has_t) MMPREF_NAPI_TRY(env, expect_dims(kOp, "t", t, {B}, "epsPred [B, ...]"));
  MMPREF_NAPI_TRY(env, same_device(kOp, {&p, &e, has_grad ? &g : nullptr, &per, &wout, &loss, has_w ? &w : nullptr,
                                         has_tab ? &tab : nullptr, has_t ? &t : nullptr}));
  // every output is disjoint from every input and from the other outputs
  const TensorView* ins[] = {&p, &e, has_w ? &w : nullptr, has_tab ? &tab : nullptr, has_t ? &t : nullptr};
  const TensorView* outs[] = {has_grad ? &g : nullptr, &per, &wout, &loss};
  for (const TensorView* o : outs) {
    if (!o) continue;
    for (const TensorView* i : ins)
      if (i) MMPREF_NAPI_TRY(env, expect_disjoint(kOp, "an output", *o, *i));
    for (const TensorView* o2 : outs)
      if (o2 && o2 != o) MMPREF_NAPI_TRY(env, expect_disjoint(kOp, "an output", *o, *o2));
  }
  MMPREF_NAPI_TRY(env, finite_in(kOp, "gradScale", scale, -kFloatMax, kFloatMax));
  PredictionLossArgs& r = job->args;
  r.pred = p.data;
  r.pred_dtype = p.dtype;
  r.target = e.data;
  r.target_dtype = e.dtype;
  r.grad = has_grad ? g.data : nullptr;
  r.per_sample = per.ptr<float>();
  r.weights_out = wout.ptr<float>();
  r.loss = loss.ptr<float>();
  r.batch = B;
  r.sample = S;
  r.weights = has_w ? w.ptr<float>() : nullptr;
  r.wtab = has_tab ? tab.ptr<float>() : nullptr;
  r.steps = has_tab ? tab.numel : 0;
  r.t = has_t ? t.ptr<int32_t>() : nullptr;
  r.t_scalar = int32_t(t_scalar);
  r.grad_scale = float(scale);
  r.device = p.device;
  return run_job(env, std::move(job), async);
}

void init(Napi::Env env, Napi::Object exports) {
  exports.Set("predictionLoss", Napi::Function::New(env, prediction_loss, "predictionLoss"));
}

}  // namespace
MMPREF_REGISTER_BINDING(init);
}  // namespace mmpref::napi

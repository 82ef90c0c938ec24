// contrastive(logits, distorted, rowActive | null, alpha, beta, out, async): logits and distorted
// float [..., V] (same shape and dtype), rowActive bool [...], out float32 [..., V].
#include <cmath>

#include "../ops/contrastive.h"
#include "napi_util.h"

namespace mmpref::napi {
namespace {

struct ContrastiveJob : Job {
  ContrastiveArgs args;
  Status run() override { return MMPREF_RUN_ON_DEVICE("contrastive", args.device, contrastive_cpu(args), contrastive_cuda(args)); }
};

bool same_shape(const TensorView& a, const TensorView& b) {
  if (a.ndim != b.ndim) return false;
  for (int d = 0; d < a.ndim; ++d)
    if (a.shape[d] != b.shape[d]) return false;
  return true;
}

Napi::Value contrastive(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Args a(info, "contrastive");
  auto job = std::make_unique<ContrastiveJob>();
  TensorView l, ld, act, out;
  bool has_act = false, async = false;
  double alpha = 0, beta = 0;
  MMPREF_NAPI_TRY(env, a.async_flag(&async));
  MMPREF_NAPI_TRY(env, a.tensor(0, "logits", job.get(), &l, kFloatMask));
  MMPREF_NAPI_TRY(env, a.tensor(1, "distortedLogits", job.get(), &ld, dtype_bit(l.dtype)));
  MMPREF_NAPI_TRY(env, a.optional_tensor(2, "rowActive", job.get(), &act, &has_act, dtype_bit(DType::kBool)));
  MMPREF_NAPI_TRY(env, a.number(3, "alpha", &alpha));
  MMPREF_NAPI_TRY(env, a.number(4, "beta", &beta));
  MMPREF_NAPI_TRY(env, a.tensor(5, "out", job.get(), &out, dtype_bit(DType::kFloat32)));
  MMPREF_NAPI_TRY(env, same_device("contrastive", {&l, &ld, has_act ? &act : nullptr, &out}));
  if (l.ndim < 1 || !same_shape(l, ld) || !same_shape(l, out))
    MMPREF_NAPI_TRY(env, make_status(Code::kShape, "contrastive: expected logits, distortedLogits and out of one shape [..., V] "
                                                   "but received " + shape_str(l) + ", " + shape_str(ld) + " and " +
                                                   shape_str(out)));
  const int64_t cols = l.size(-1);
  int64_t rows = 1;
  for (int d = 0; d < l.ndim - 1; ++d) rows *= l.shape[d];
  if (has_act && act.numel != rows)
    MMPREF_NAPI_TRY(env, make_status(Code::kShape, "contrastive: expected rowActive with " + std::to_string(rows) +
                                                       " elements but received " + shape_str(act)));
  const float af = float(alpha);
  if (!std::isfinite(af)) MMPREF_NAPI_TRY(env, make_status(Code::kRange, "contrastive: expected a finite alpha"));
  if (!(beta >= 0 && beta <= 1)) MMPREF_NAPI_TRY(env, make_status(Code::kRange, "contrastive: expected beta in [0, 1]"));
  job->args = ContrastiveArgs{l.data, ld.data, has_act ? act.ptr<uint8_t>() : nullptr, out.ptr<float>(), l.dtype,
                              rows, cols, af, float(std::log(beta)), l.device};
  return run_job(env, std::move(job), async);
}

void init(Napi::Env env, Napi::Object exports) {
  exports.Set("contrastive", Napi::Function::New(env, contrastive, "contrastive"));
}

}  // namespace
MMPREF_REGISTER_BINDING(init);
}  // namespace mmpref::napi

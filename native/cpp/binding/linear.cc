// linear(x, w, bias | null, out, async): x [..., K], w [N, K], bias [N], out [..., N], one dtype.
#include "../ops/linear.h"
#include "napi_util.h"

namespace mmpref::napi {
namespace {

struct LinearJob : Job {
  LinearArgs args;
  Status run() override { return MMPREF_RUN_ON_DEVICE("linear", args.device, linear_cpu(args), linear_cuda(args)); }
};

Napi::Value linear(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Args a(info, "linear");
  auto job = std::make_unique<LinearJob>();
  TensorView x, w, b, y;
  bool has_b = false, async = false;
  MMPREF_NAPI_TRY(env, a.async_flag(&async));
  MMPREF_NAPI_TRY(env, a.tensor(0, "x", job.get(), &x, kFloatMask));
  MMPREF_NAPI_TRY(env, a.tensor(1, "weight", job.get(), &w, dtype_bit(x.dtype)));
  MMPREF_NAPI_TRY(env, a.optional_tensor(2, "bias", job.get(), &b, &has_b, dtype_bit(x.dtype)));
  MMPREF_NAPI_TRY(env, a.tensor(3, "out", job.get(), &y, dtype_bit(x.dtype)));
  MMPREF_NAPI_TRY(env, same_device("linear", {&x, &w, has_b ? &b : nullptr, &y}));
  if (x.ndim < 1 || w.ndim != 2)
    MMPREF_NAPI_TRY(env, make_status(Code::kShape, "linear: expected x [..., K] and weight [N, K] but received x " +
                                                       shape_str(x) + " and weight " + shape_str(w)));
  const int64_t k = w.shape[1], n = w.shape[0];
  if (x.size(-1) != k)
    MMPREF_NAPI_TRY(env, make_status(Code::kShape, "linear: x " + shape_str(x) + " does not match weight " +
                                                       shape_str(w) + " (last dimensions differ)"));
  int64_t m = 1;
  for (int d = 0; d < x.ndim - 1; ++d) m *= x.shape[d];
  if (has_b && (b.ndim != 1 || b.shape[0] != n))
    MMPREF_NAPI_TRY(env, make_status(Code::kShape, "linear: expected bias of shape [" + std::to_string(n) +
                                                       "] but received " + shape_str(b)));
  bool out_ok = y.ndim == x.ndim && y.size(-1) == n;
  for (int d = 0; out_ok && d < x.ndim - 1; ++d) out_ok = y.shape[d] == x.shape[d];
  if (!out_ok)
    MMPREF_NAPI_TRY(env, make_status(Code::kShape, "linear: out " + shape_str(y) + " does not match x " +
                                                       shape_str(x) + " and weight " + shape_str(w)));
  job->args = LinearArgs{x.data, w.data, has_b ? b.data : nullptr, y.data, x.dtype, m, n, k, x.device};
  return run_job(env, std::move(job), async);
}

void init(Napi::Env env, Napi::Object exports) { exports.Set("linear", Napi::Function::New(env, linear, "linear")); }

}  // namespace
MMPREF_REGISTER_BINDING(init);
}  // namespace mmpref::napi

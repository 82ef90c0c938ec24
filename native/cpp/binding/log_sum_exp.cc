// logSumExp(x, out, async): x float [..., C], out float32 [...] (allocated by lib/ops).
#include "../ops/log_sum_exp.h"
#include "napi_util.h"

namespace mmpref::napi {
namespace {

struct LogSumExpJob : Job {
  LogSumExpArgs args;
  Status run() override { return MMPREF_RUN_ON_DEVICE("logSumExp", args.device, log_sum_exp_cpu(args), log_sum_exp_cuda(args)); }
};

Napi::Value log_sum_exp(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Args a(info, "logSumExp");
  auto job = std::make_unique<LogSumExpJob>();
  TensorView x, out;
  bool async = false;
  MMPREF_NAPI_TRY(env, a.async_flag(&async));
  MMPREF_NAPI_TRY(env, a.tensor(0, "x", job.get(), &x, kFloatMask));
  MMPREF_NAPI_TRY(env, a.tensor(1, "out", job.get(), &out, dtype_bit(DType::kFloat32)));
  MMPREF_NAPI_TRY(env, same_device("logSumExp", {&x, &out}));
  if (x.ndim < 1)
    MMPREF_NAPI_TRY(env, make_status(Code::kShape, "logSumExp: x must have at least one dimension"));
  const int64_t cols = x.size(-1);
  const int64_t rows = cols ? x.numel / cols : [&] {
    int64_t r = 1;
    for (int d = 0; d < x.ndim - 1; ++d) r *= x.shape[d];
    return r;
  }();
  if (out.numel != rows)
    MMPREF_NAPI_TRY(env, make_status(Code::kShape, "logSumExp: out must have " + std::to_string(rows) +
                                                       " elements (x is " + shape_str(x) + ") but has " +
                                                       std::to_string(out.numel)));
  job->args = LogSumExpArgs{x.data, out.ptr<float>(), x.dtype, rows, cols, x.device};
  return run_job(env, std::move(job), async);
}

void init(Napi::Env env, Napi::Object exports) {
  exports.Set("logSumExp", Napi::Function::New(env, log_sum_exp, "logSumExp"));
}

}  // namespace
MMPREF_REGISTER_BINDING(init);
}  // namespace mmpref::napi

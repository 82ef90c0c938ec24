// permute(x, out, perm: number[], async)
#include "../ops/permute.h"
#include "napi_util.h"

namespace mmpref::napi {
namespace {

struct PermuteJob : Job {
  PermuteArgs args;
  Status run() override { return MMPREF_RUN_ON_DEVICE("permute", args.device, permute_cpu(args), permute_cuda(args)); }
};

Napi::Value permute(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Args a(info, "permute");
  auto job = std::make_unique<PermuteJob>();
  TensorView x, out;
  bool async = false;
  MMPREF_NAPI_TRY(env, a.async_flag(&async));
  MMPREF_NAPI_TRY(env, a.tensor(0, "x", job.get(), &x));
  MMPREF_NAPI_TRY(env, a.tensor(1, "out", job.get(), &out));
  MMPREF_NAPI_TRY(env, same_device("permute", {&x, &out}));
  if (info.Length() < 4 || !info[2].IsArray()) MMPREF_NAPI_TRY(env, arg_error("permute", "perm must be an array"));
  Napi::Array p = info[2].As<Napi::Array>();
  if (int(p.Length()) != x.ndim) MMPREF_NAPI_TRY(env, make_status(Code::kShape, "permute: perm must have one entry per dimension of x"));
  int perm[kMaxDims];
  bool seen[kMaxDims] = {false};
  for (int k = 0; k < x.ndim; ++k) {
    Napi::Value v = p.Get(uint32_t(k));
    const double d = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : -1;
    if (!(d >= 0 && d < x.ndim) || double(int(d)) != d || seen[int(d)])
      MMPREF_NAPI_TRY(env, make_status(Code::kRange, "permute: perm must be a permutation of 0.." + std::to_string(x.ndim - 1)));
    perm[k] = int(d);
    seen[perm[k]] = true;
  }
  if (out.dtype != x.dtype || out.ndim != x.ndim || out.numel != x.numel)
    MMPREF_NAPI_TRY(env, make_status(Code::kShape, "permute: out must have x's dtype and permuted shape"));
  for (int k = 0; k < x.ndim; ++k)
    if (out.shape[k] != x.shape[perm[k]]) MMPREF_NAPI_TRY(env, make_status(Code::kShape, "permute: out must have the permuted shape"));
  if (out.data == x.data && x.numel > 1) MMPREF_NAPI_TRY(env, make_status(Code::kArgument, "permute: out must not alias x"));
  job->args = permute_plan(x, perm, out.data);
  return run_job(env, std::move(job), async);
}

void init(Napi::Env env, Napi::Object exports) { exports.Set("permute", Napi::Function::New(env, permute, "permute")); }

}  // namespace
MMPREF_REGISTER_BINDING(init);
}  // namespace mmpref::napi

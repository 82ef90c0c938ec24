// visualTokens(x, y, mask, rows, sigma, scale, prob, seed, offset, async): x, y float [B, N, D]
// (y may be x: in place), mask bool/uint8 [B, N], rows bool/uint8 [B] or null, scale 0 absolute,
// 1 token-rms, 2 token-std.
#include "../ops/visual_tokens.h"
#include "napi_util.h"
#include "noise_checks.h"

namespace mmpref::napi {
namespace {

constexpr const char* kOp = "noise.visualTokens";

struct VisualTokensJob : Job {
  VisualTokensArgs args;
  Status run() override { return MMPREF_RUN_ON_DEVICE("noise.visualTokens", args.device, visual_tokens_cpu(args), visual_tokens_cuda(args)); }
};

Napi::Value visual_tokens(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Args a(info, kOp);
  auto job = std::make_unique<VisualTokensJob>();
  bool async = false, has_rows = false;
  TensorView x, y, mask, rows;
  double sigma = 0, prob = 1;
  int64_t scale = 0;
  uint64_t seed = 0, offset = 0;
  MMPREF_NAPI_TRY(env, a.async_flag(&async));
  MMPREF_NAPI_TRY(env, a.tensor(0, "x", job.get(), &x, kFloatMask));
  MMPREF_NAPI_TRY(env, a.tensor(1, "out", job.get(), &y, kFloatMask));
  MMPREF_NAPI_TRY(env, a.tensor(2, "mask", job.get(), &mask, kMaskDtypes));
  MMPREF_NAPI_TRY(env, a.optional_tensor(3, "rows", job.get(), &rows, &has_rows, kMaskDtypes));
  MMPREF_NAPI_TRY(env, a.number(4, "sigma", &sigma));
  MMPREF_NAPI_TRY(env, a.integer(5, "scale", 0, 2, &scale));
  MMPREF_NAPI_TRY(env, a.number(6, "prob", &prob));
  MMPREF_NAPI_TRY(env, a.u64(7, "seed", &seed));
  MMPREF_NAPI_TRY(env, a.u64(8, "offset", &offset));
  MMPREF_NAPI_TRY(env, expect_ndim(kOp, "x", x, 3));
  const int64_t B = x.shape[0], N = x.shape[1], D = x.shape[2];
  MMPREF_NAPI_TRY(env, expect_shape_as(kOp, "out", y, "x", x));
  MMPREF_NAPI_TRY(env, expect_dtype_as(kOp, "out", y, x));
  MMPREF_NAPI_TRY(env, expect_dims(kOp, "mask", mask, {B, N}, "x [B, N, D]"));
  if (has_rows) MMPREF_NAPI_TRY(env, expect_dims(kOp, "rows", rows, {B}, "x [B, N, D]"));
  MMPREF_NAPI_TRY(env, same_device(kOp, {&x, &y, &mask, has_rows ? &rows : nullptr}));
  MMPREF_NAPI_TRY(env, expect_no_partial_overlap(kOp, "out", y, x));
  MMPREF_NAPI_TRY(env, expect_disjoint(kOp, "out", y, mask));
  if (has_rows) MMPREF_NAPI_TRY(env, expect_disjoint(kOp, "out", y, rows));
  MMPREF_NAPI_TRY(env, finite_in(kOp, "sigma", sigma, 0.0, kFloatMax));
  MMPREF_NAPI_TRY(env, finite_in(kOp, "prob", prob, 0.0, 1.0));
  VisualTokensArgs& r = job->args;
  r.x = x.data;
  r.y = y.data;
  r.dtype = x.dtype;
  r.batch = B;
  r.tokens = N;
  r.dim = D;
  r.mask = mask.ptr<uint8_t>();
  r.rows = has_rows ? rows.ptr<uint8_t>() : nullptr;
  r.sigma = float(sigma);
  r.scale = TokenScale(scale);
  r.prob = float(prob);
  r.seed = seed;
  r.offset = offset;
  r.device = x.device;
  return run_job(env, std::move(job), async);
}

void init(Napi::Env env, Napi::Object exports) {
  exports.Set("visualTokens", Napi::Function::New(env, visual_tokens, "visualTokens"));
}

}  // namespace
MMPREF_REGISTER_BINDING(init);
}  // namespace mmpref::napi

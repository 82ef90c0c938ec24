// neftune(x, y, lengths, mask, alpha, paddedNorm, seed, offset, async): x, y float [B, L, D]
// (y may be x), lengths int32 [B] or null, mask bool/uint8 [B, L] or null (not both).
#include "../ops/neftune.h"
#include "napi_util.h"
#include "noise_checks.h"

namespace mmpref::napi {
namespace {

constexpr const char* kOp = "noise.neftune";

struct NeftuneJob : Job {
  NeftuneArgs args;
  Status run() override { return MMPREF_RUN_ON_DEVICE("noise.neftune", args.device, neftune_cpu(args), neftune_cuda(args)); }
};

Napi::Value neftune(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Args a(info, kOp);
  auto job = std::make_unique<NeftuneJob>();
  bool async = false, has_len = false, has_mask = false, padded = false;
  TensorView x, y, len, mask;
  double alpha = 0;
  uint64_t seed = 0, offset = 0;
  MMPREF_NAPI_TRY(env, a.async_flag(&async));
  MMPREF_NAPI_TRY(env, a.tensor(0, "embeds", job.get(), &x, kFloatMask));
  MMPREF_NAPI_TRY(env, a.tensor(1, "out", job.get(), &y, kFloatMask));
  MMPREF_NAPI_TRY(env, a.optional_tensor(2, "lengths", job.get(), &len, &has_len, dtype_bit(DType::kInt32)));
  MMPREF_NAPI_TRY(env, a.optional_tensor(3, "mask", job.get(), &mask, &has_mask, kMaskDtypes));
  MMPREF_NAPI_TRY(env, a.number(4, "alpha", &alpha));
  MMPREF_NAPI_TRY(env, a.boolean(5, "paddedNorm", &padded));
  MMPREF_NAPI_TRY(env, a.u64(6, "seed", &seed));
  MMPREF_NAPI_TRY(env, a.u64(7, "offset", &offset));
  MMPREF_NAPI_TRY(env, expect_ndim(kOp, "embeds", x, 3));
  const int64_t B = x.shape[0], L = x.shape[1], D = x.shape[2];
  MMPREF_NAPI_TRY(env, expect_shape_as(kOp, "out", y, "embeds", x));
  MMPREF_NAPI_TRY(env, expect_dtype_as(kOp, "out", y, x));
  if (has_len && has_mask)
    MMPREF_NAPI_TRY(env, make_status(Code::kArgument, "noise.neftune: expected lengths or mask, not both"));
  if (has_len) MMPREF_NAPI_TRY(env, expect_dims(kOp, "lengths", len, {B}, "embeds [B, L, D]"));
  if (has_mask) MMPREF_NAPI_TRY(env, expect_dims(kOp, "mask", mask, {B, L}, "embeds [B, L, D]"));
  MMPREF_NAPI_TRY(env, same_device(kOp, {&x, &y, has_len ? &len : nullptr, has_mask ? &mask : nullptr}));
  MMPREF_NAPI_TRY(env, expect_no_partial_overlap(kOp, "out", y, x));
  if (has_len) MMPREF_NAPI_TRY(env, expect_disjoint(kOp, "out", y, len));
  if (has_mask) MMPREF_NAPI_TRY(env, expect_disjoint(kOp, "out", y, mask));
  MMPREF_NAPI_TRY(env, finite_in(kOp, "alpha", alpha, 0.0, kFloatMax));
  NeftuneArgs& r = job->args;
  r.x = x.data;
  r.y = y.data;
  r.dtype = x.dtype;
  r.batch = B;
  r.seq = L;
  r.dim = D;
  r.lengths = has_len ? len.ptr<int32_t>() : nullptr;
  r.mask = has_mask ? mask.ptr<uint8_t>() : nullptr;
  r.alpha = float(alpha);
  r.padded_norm = padded;
  r.seed = seed;
  r.offset = offset;
  r.device = x.device;
  return run_job(env, std::move(job), async);
}

void init(Napi::Env env, Napi::Object exports) {
  exports.Set("neftune", Napi::Function::New(env, neftune, "neftune"));
}

}  // namespace
MMPREF_REGISTER_BINDING(init);
}  // namespace mmpref::napi

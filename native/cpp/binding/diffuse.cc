// diffuse(x, y, eps, t, tScalar, coefA, coefB, normSub, normDiv, inner, seed, offset, async):
// x float or uint8 [B, ...], y float (same shape; may be x for float x), eps float32 or null,
// t int32 [B] or null (then tScalar), coefA/coefB float32 [T], normSub/normDiv float32 [C]
// (uint8 only; channel of element j of a sample = (j / inner) % C).
#include "../ops/diffuse.h"
#include "napi_util.h"
#include "noise_checks.h"

namespace mmpref::napi {
namespace {

constexpr const char* kOp = "noise.diffuse";

struct DiffuseJob : Job {
  DiffuseArgs args;
  Status run() override { return MMPREF_RUN_ON_DEVICE("noise.diffuse", args.device, diffuse_cpu(args), diffuse_cuda(args)); }
};

Napi::Value diffuse(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Args a(info, kOp);
  auto job = std::make_unique<DiffuseJob>();
  bool async = false, has_eps = false, has_t = false, has_sc = false, has_sh = false;
  TensorView x, y, eps, t, ca, cb, sc, sh;
  int64_t t_scalar = -1, inner = 1;
  uint64_t seed = 0, offset = 0;
  const uint32_t f32 = dtype_bit(DType::kFloat32);
  MMPREF_NAPI_TRY(env, a.async_flag(&async));
  MMPREF_NAPI_TRY(env, a.tensor(0, "x0", job.get(), &x, kFloatMask | dtype_bit(DType::kUInt8)));
  MMPREF_NAPI_TRY(env, a.tensor(1, "out", job.get(), &y, kFloatMask));
  MMPREF_NAPI_TRY(env, a.optional_tensor(2, "eps", job.get(), &eps, &has_eps, f32));
  MMPREF_NAPI_TRY(env, a.optional_tensor(3, "t", job.get(), &t, &has_t, dtype_bit(DType::kInt32)));
  MMPREF_NAPI_TRY(env, a.integer(4, "t", INT32_MIN, INT32_MAX, &t_scalar));
  MMPREF_NAPI_TRY(env, a.tensor(5, "sqrtAlphasCumprod", job.get(), &ca, f32));
  MMPREF_NAPI_TRY(env, a.tensor(6, "sqrtOneMinusAlphasCumprod", job.get(), &cb, f32));
  MMPREF_NAPI_TRY(env, a.optional_tensor(7, "normSub", job.get(), &sc, &has_sc, f32));
  MMPREF_NAPI_TRY(env, a.optional_tensor(8, "normDiv", job.get(), &sh, &has_sh, f32));
  MMPREF_NAPI_TRY(env, a.integer(9, "inner", 1, INT64_C(1) << 53, &inner));
  MMPREF_NAPI_TRY(env, a.u64(10, "seed", &seed));
  MMPREF_NAPI_TRY(env, a.u64(11, "offset", &offset));

  if (x.ndim < 1) MMPREF_NAPI_TRY(env, make_status(Code::kShape, "noise.diffuse: expected x0 with a batch dimension but received a scalar"));
  const int64_t B = x.shape[0];
  int64_t S = 1;
  for (int d = 1; d < x.ndim; ++d) S *= x.shape[d];  // no overflow: numel was checked
  const bool u8 = x.dtype == DType::kUInt8;
  MMPREF_NAPI_TRY(env, expect_shape_as(kOp, "out", y, "x0", x));
  if (!u8) MMPREF_NAPI_TRY(env, expect_dtype_as(kOp, "out", y, x));
  if (has_eps) MMPREF_NAPI_TRY(env, expect_shape_as(kOp, "eps", eps, "x0", x));
  if (has_t) MMPREF_NAPI_TRY(env, expect_dims(kOp, "t", t, {B}, "x0 [B, ...]"));
  MMPREF_NAPI_TRY(env, expect_ndim(kOp, "sqrtAlphasCumprod", ca, 1));
  MMPREF_NAPI_TRY(env, expect_shape_as(kOp, "sqrtOneMinusAlphasCumprod", cb, "sqrtAlphasCumprod", ca));
  if (ca.numel < 1) MMPREF_NAPI_TRY(env, make_status(Code::kShape, "noise.diffuse: expected a schedule of at least 1 step but received 0"));
  if (u8 != (has_sc && has_sh))
    MMPREF_NAPI_TRY(env, make_status(Code::kArgument, u8 ? "noise.diffuse: uint8 x0 needs normSub and normDiv"
                                                          : "noise.diffuse: normSub/normDiv apply to uint8 x0 only"));
  int64_t C = 1;
  if (u8) {
    MMPREF_NAPI_TRY(env, expect_ndim(kOp, "normSub", sc, 1));
    MMPREF_NAPI_TRY(env, expect_shape_as(kOp, "normDiv", sh, "normSub", sc));
    C = sc.numel;
    if (C < 1 || S % C != 0 || (S / C) % inner != 0)
      MMPREF_NAPI_TRY(env, make_status(Code::kShape, "noise.diffuse: " + std::to_string(C) + " channels with inner size " +
                                                         std::to_string(inner) + " do not tile samples of " +
                                                         std::to_string(S) + " elements (x0 " + shape_str(x) + ")"));
  }
  MMPREF_NAPI_TRY(env, same_device(kOp, {&x, &y, has_eps ? &eps : nullptr, has_t ? &t : nullptr, &ca, &cb,
                                         has_sc ? &sc : nullptr, has_sh ? &sh : nullptr}));
  if (u8)
    MMPREF_NAPI_TRY(env, expect_disjoint(kOp, "out", y, x));
  else
    MMPREF_NAPI_TRY(env, expect_no_partial_overlap(kOp, "out", y, x));
  if (has_eps) {
    MMPREF_NAPI_TRY(env, expect_disjoint(kOp, "eps", eps, x));
    MMPREF_NAPI_TRY(env, expect_disjoint(kOp, "eps", eps, y));
  }
  for (const TensorView* in : {has_t ? &t : nullptr, &ca, &cb, has_sc ? &sc : nullptr, has_sh ? &sh : nullptr})
    if (in) {
      MMPREF_NAPI_TRY(env, expect_disjoint(kOp, "out", y, *in));
      if (has_eps) MMPREF_NAPI_TRY(env, expect_disjoint(kOp, "eps", eps, *in));
    }

  DiffuseArgs& r = job->args;
  r.x = x.data;
  r.x_dtype = x.dtype;
  r.y = y.data;
  r.y_dtype = y.dtype;
  r.eps = has_eps ? eps.ptr<float>() : nullptr;
  r.batch = B;
  r.sample = S;
  r.t = has_t ? t.ptr<int32_t>() : nullptr;
  r.t_scalar = int32_t(t_scalar);
  r.coef_a = ca.ptr<float>();
  r.coef_b = cb.ptr<float>();
  r.steps = ca.numel;
  r.norm_sub = u8 ? sc.ptr<float>() : nullptr;
  r.norm_div = u8 ? sh.ptr<float>() : nullptr;
  r.channels = C;
  r.inner = inner;
  r.seed = seed;
  r.offset = offset;
  r.device = x.device;
  return run_job(env, std::move(job), async);
}

void init(Napi::Env env, Napi::Object exports) {
  exports.Set("diffuse", Napi::Function::New(env, diffuse, "diffuse"));
}

}  // namespace
MMPREF_REGISTER_BINDING(init);
}  // namespace mmpref::napi

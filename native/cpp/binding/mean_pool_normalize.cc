// meanPoolNormalize(x, mask | null, normalize, out, async): x float [M, T, E], mask
// bool/uint8/int32/int64 [M, T], out float32 [M, E].
#include "../ops/mean_pool_normalize.h"
#include "napi_util.h"

namespace mmpref::napi {
namespace {

struct MeanPoolJob : Job {
  MeanPoolArgs args;
  Status run() override { return MMPREF_RUN_ON_DEVICE("meanPoolNormalize", args.device, mean_pool_normalize_cpu(args), mean_pool_normalize_cuda(args)); }
};

Napi::Value mean_pool_normalize(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Args a(info, "meanPoolNormalize");
  auto job = std::make_unique<MeanPoolJob>();
  TensorView x, mask, out;
  bool has_mask = false, normalize = true, async = false;
  constexpr uint32_t kMaskTypes = dtype_bit(DType::kBool) | dtype_bit(DType::kUInt8) | dtype_bit(DType::kInt32) |
                                  dtype_bit(DType::kInt64);
  MMPREF_NAPI_TRY(env, a.async_flag(&async));
  MMPREF_NAPI_TRY(env, a.tensor(0, "x", job.get(), &x, kFloatMask));
  MMPREF_NAPI_TRY(env, a.optional_tensor(1, "mask", job.get(), &mask, &has_mask, kMaskTypes));
  MMPREF_NAPI_TRY(env, a.boolean(2, "normalize", &normalize));
  MMPREF_NAPI_TRY(env, a.tensor(3, "out", job.get(), &out, dtype_bit(DType::kFloat32)));
  MMPREF_NAPI_TRY(env, same_device("meanPoolNormalize", {&x, has_mask ? &mask : nullptr, &out}));
  if (x.ndim != 3)
    MMPREF_NAPI_TRY(env, make_status(Code::kShape, "meanPoolNormalize: expected x [M, T, E] but received " + shape_str(x)));
  const int64_t m = x.shape[0], t = x.shape[1], e = x.shape[2];
  if (has_mask && (mask.ndim != 2 || mask.shape[0] != m || mask.shape[1] != t))
    MMPREF_NAPI_TRY(env, make_status(Code::kShape, "meanPoolNormalize: expected mask [" + std::to_string(m) + ", " +
                                                       std::to_string(t) + "] but received " + shape_str(mask)));
  if (out.ndim != 2 || out.shape[0] != m || out.shape[1] != e)
    MMPREF_NAPI_TRY(env, make_status(Code::kShape, "meanPoolNormalize: expected out [" + std::to_string(m) + ", " +
                                                       std::to_string(e) + "] but received " + shape_str(out)));
  job->args = MeanPoolArgs{x.data, x.dtype, m, t, e, has_mask ? mask.data : nullptr, mask.dtype, normalize,
                           out.ptr<float>(), x.device};
  return run_job(env, std::move(job), async);
}

void init(Napi::Env env, Napi::Object exports) {
  exports.Set("meanPoolNormalize", Napi::Function::New(env, mean_pool_normalize, "meanPoolNormalize"));
}

}  // namespace
MMPREF_REGISTER_BINDING(init);
}  // namespace mmpref::napi

// attentionMasked(q, k, v, out, lse | null, keyMask | null, scale, causal, queryOffset, kvLength, async)
//   q/out [B, Hq, Tq, d], k/v [B, Hkv, Tbuf, d] (one float dtype), lse float32 [B, Hq, Tq],
//   keyMask bool/uint8 [B, L >= kvLength], kvLength <= Tbuf keys used.
#include <cmath>

#include "../ops/attention_masked.h"
#include "napi_util.h"

namespace mmpref::napi {
namespace {

constexpr const char* kOp = "attention.masked";

struct AttentionMaskedJob : Job {
  AttentionMaskedArgs args;
  Status run() override { return MMPREF_RUN_ON_DEVICE("attention.masked", args.device, attention_masked_cpu(args), attention_masked_cuda(args)); }
};

Status shape_error(const std::string& what) { return make_status(Code::kShape, std::string(kOp) + ": " + what); }

Status check(const TensorView& q, const TensorView& k, const TensorView& v, const TensorView& out,
             const TensorView* lse, const TensorView* mask, int64_t kv_len) {
  if (q.ndim != 4 || k.ndim != 4 || v.ndim != 4)
    return shape_error("expected q, k and v with 4 dimensions [B, H, T, d] but received " + shape_str(q) + ", " +
                       shape_str(k) + ", " + shape_str(v));
  if (k.dtype != q.dtype || v.dtype != q.dtype || out.dtype != q.dtype)
    return make_status(Code::kDtype, std::string(kOp) + ": expected q, k, v and out of one dtype but received " +
                                         dtype_name(q.dtype) + ", " + dtype_name(k.dtype) + ", " +
                                         dtype_name(v.dtype) + ", " + dtype_name(out.dtype));
  for (int d = 0; d < 4; ++d)
    if (k.shape[d] != v.shape[d]) return shape_error("expected k and v of one shape but received " + shape_str(k) + " and " + shape_str(v));
  if (out.ndim != 4 || out.numel != q.numel || [&] {
        for (int d = 0; d < 4; ++d)
          if (out.shape[d] != q.shape[d]) return true;
        return false;
      }())
    return shape_error("expected out of shape " + shape_str(q) + " but received " + shape_str(out));
  if (k.shape[0] != q.shape[0]) return shape_error("expected k with batch " + std::to_string(q.shape[0]) + " but received " + shape_str(k));
  if (k.shape[1] < 1 || q.shape[1] % k.shape[1] != 0)
    return shape_error("expected the query heads (" + std::to_string(q.shape[1]) +
                       ") to be a multiple of the kv heads but received " + std::to_string(k.shape[1]));
  if (k.shape[3] != q.shape[3]) return shape_error("expected k with head dim " + std::to_string(q.shape[3]) + " but received " + shape_str(k));
  if (q.shape[3] < 1 || q.shape[3] > kAttnMaxHeadDim)
    return shape_error("expected a head dim in [1, " + std::to_string(kAttnMaxHeadDim) + "] but received " + std::to_string(q.shape[3]));
  if (kv_len > k.shape[2])
    return make_status(Code::kRange, std::string(kOp) + ": expected kvLength <= " + std::to_string(k.shape[2]) +
                                         " (keys in k) but received " + std::to_string(kv_len));
  if (lse && (lse->ndim != 3 || lse->shape[0] != q.shape[0] || lse->shape[1] != q.shape[1] || lse->shape[2] != q.shape[2]))
    return shape_error("expected lse of shape [" + std::to_string(q.shape[0]) + ", " + std::to_string(q.shape[1]) +
                       ", " + std::to_string(q.shape[2]) + "] but received " + shape_str(*lse));
  if (mask && (mask->ndim != 2 || mask->shape[0] != q.shape[0] || mask->shape[1] < kv_len))
    return shape_error("expected keyMask of shape [" + std::to_string(q.shape[0]) + ", L >= " + std::to_string(kv_len) +
                       "] but received " + shape_str(*mask));
  return Status::Ok();
}

Napi::Value attention_masked(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Args a(info, kOp);
  auto job = std::make_unique<AttentionMaskedJob>();
  TensorView q, k, v, out, lse, mask;
  bool has_lse = false, has_mask = false, async = false, causal = false;
  double scale = 0;
  int64_t offset = 0, kv_len = 0;
  MMPREF_NAPI_TRY(env, a.async_flag(&async));
  MMPREF_NAPI_TRY(env, a.tensor(0, "q", job.get(), &q, kFloatMask));
  MMPREF_NAPI_TRY(env, a.tensor(1, "k", job.get(), &k, kFloatMask));
  MMPREF_NAPI_TRY(env, a.tensor(2, "v", job.get(), &v, kFloatMask));
  MMPREF_NAPI_TRY(env, a.tensor(3, "out", job.get(), &out, kFloatMask));
  MMPREF_NAPI_TRY(env, a.optional_tensor(4, "lse", job.get(), &lse, &has_lse, dtype_bit(DType::kFloat32)));
  MMPREF_NAPI_TRY(env, a.optional_tensor(5, "keyMask", job.get(), &mask, &has_mask,
                                         dtype_bit(DType::kBool) | dtype_bit(DType::kUInt8)));
  MMPREF_NAPI_TRY(env, a.number(6, "scale", &scale));
  if (!std::isfinite(scale) || !std::isfinite(float(scale)))
    MMPREF_NAPI_TRY(env, make_status(Code::kRange, std::string(kOp) + ": expected a finite scale but received " + std::to_string(scale)));
  MMPREF_NAPI_TRY(env, a.boolean(7, "causal", &causal));
  MMPREF_NAPI_TRY(env, a.integer(8, "queryOffset", -(int64_t(1) << 53), int64_t(1) << 53, &offset));
  MMPREF_NAPI_TRY(env, a.integer(9, "kvLength", 0, int64_t(1) << 53, &kv_len));
  MMPREF_NAPI_TRY(env, same_device(kOp, {&q, &k, &v, &out, has_lse ? &lse : nullptr, has_mask ? &mask : nullptr}));
  MMPREF_NAPI_TRY(env, check(q, k, v, out, has_lse ? &lse : nullptr, has_mask ? &mask : nullptr, kv_len));

  AttentionMaskedArgs& g = job->args;
  g.q = q.data;
  g.k = k.data;
  g.v = v.data;
  g.out = out.data;
  g.lse = has_lse ? lse.ptr<float>() : nullptr;
  g.key_mask = has_mask ? mask.ptr<uint8_t>() : nullptr;
  g.dtype = q.dtype;
  g.batch = q.shape[0];
  g.q_heads = q.shape[1];
  g.q_len = q.shape[2];
  g.head_dim = q.shape[3];
  g.kv_heads = k.shape[1];
  g.kv_buf_len = k.shape[2];
  g.kv_len = kv_len;
  g.mask_len = has_mask ? mask.shape[1] : 0;
  g.scale = float(scale);
  g.causal = causal;
  g.query_offset = offset;
  g.device = q.device;
  return run_job(env, std::move(job), async);
}

void init(Napi::Env env, Napi::Object exports) {
  exports.Set("attentionMasked", Napi::Function::New(env, attention_masked, "attentionMasked"));
}

}  // namespace
MMPREF_REGISTER_BINDING(init);
}  // namespace mmpref::napi

// kvCacheAppend(kCache, vCache, k, v, start, async)
//   kCache/vCache [B, H, cap, d], k/v [B, H, t, d], one float dtype and device, start + t <= cap.
#include "../ops/kv_cache.h"
#include "napi_util.h"

namespace mmpref::napi {
namespace {

constexpr const char* kOp = "KVCache.append";

struct KvCacheAppendJob : Job {
  KvCacheAppendArgs args;
  Status run() override { return MMPREF_RUN_ON_DEVICE("KVCache.append", args.device, kv_cache_append_cpu(args), kv_cache_append_cuda(args)); }
};

Status shape_error(const std::string& what) { return make_status(Code::kShape, std::string(kOp) + ": " + what); }

Napi::Value kv_cache_append(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Args a(info, kOp);
  auto job = std::make_unique<KvCacheAppendJob>();
  TensorView kc, vc, k, v;
  bool async = false;
  int64_t start = 0;
  MMPREF_NAPI_TRY(env, a.async_flag(&async));
  MMPREF_NAPI_TRY(env, a.tensor(0, "kCache", job.get(), &kc, kFloatMask));
  MMPREF_NAPI_TRY(env, a.tensor(1, "vCache", job.get(), &vc, kFloatMask));
  MMPREF_NAPI_TRY(env, a.tensor(2, "k", job.get(), &k, kFloatMask));
  MMPREF_NAPI_TRY(env, a.tensor(3, "v", job.get(), &v, kFloatMask));
  MMPREF_NAPI_TRY(env, a.integer(4, "start", 0, int64_t(1) << 53, &start));
  MMPREF_NAPI_TRY(env, same_device(kOp, {&kc, &vc, &k, &v}));
  if (kc.dtype != vc.dtype || k.dtype != kc.dtype || v.dtype != kc.dtype)
    MMPREF_NAPI_TRY(env, make_status(Code::kDtype, std::string(kOp) + ": expected k and v of the cache dtype " +
                                                       dtype_name(kc.dtype) + " but received " + dtype_name(k.dtype) +
                                                       " and " + dtype_name(v.dtype)));
  if (kc.ndim != 4 || vc.ndim != 4 || k.ndim != 4 || v.ndim != 4)
    MMPREF_NAPI_TRY(env, shape_error("expected 4-dimensional caches and k, v [B, H, t, d]"));
  for (int d = 0; d < 4; ++d) {
    if (vc.shape[d] != kc.shape[d]) MMPREF_NAPI_TRY(env, shape_error("expected the key and value caches of one shape"));
    if (v.shape[d] != k.shape[d])
      MMPREF_NAPI_TRY(env, shape_error("expected k and v of one shape but received " + shape_str(k) + " and " + shape_str(v)));
  }
  if (k.shape[0] != kc.shape[0] || k.shape[1] != kc.shape[1] || k.shape[3] != kc.shape[3])
    MMPREF_NAPI_TRY(env, shape_error("expected k of shape [" + std::to_string(kc.shape[0]) + ", " + std::to_string(kc.shape[1]) +
                                     ", t, " + std::to_string(kc.shape[3]) + "] but received " + shape_str(k)));
  if (start + k.shape[2] > kc.shape[2])
    MMPREF_NAPI_TRY(env, make_status(Code::kRange, std::string(kOp) + ": the cache holds " + std::to_string(kc.shape[2]) +
                                                       " positions but appending " + std::to_string(k.shape[2]) +
                                                       " at " + std::to_string(start) + " needs " +
                                                       std::to_string(start + k.shape[2])));
  KvCacheAppendArgs& g = job->args;
  g.k_cache = kc.data;
  g.v_cache = vc.data;
  g.k = k.data;
  g.v = v.data;
  g.rows = kc.shape[0] * kc.shape[1];
  g.capacity = kc.shape[2];
  g.start = start;
  g.count = k.shape[2];
  g.row_bytes = kc.shape[3] * dtype_size(kc.dtype);
  g.device = kc.device;
  return run_job(env, std::move(job), async);
}

void init(Napi::Env env, Napi::Object exports) {
  exports.Set("kvCacheAppend", Napi::Function::New(env, kv_cache_append, "kvCacheAppend"));
}

}  // namespace
MMPREF_REGISTER_BINDING(init);
}  // namespace mmpref::napi

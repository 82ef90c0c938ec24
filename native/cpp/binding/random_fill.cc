// randomFill(out, kind, a, b, seed, offset, startBlock, startSkip, async): fills `out` (allocated
// by lib/ops) with elements 4 startBlock + startSkip + j of stream (seed, offset): kind 0 bits
// (int32), 1 uniform, 2 normal (float dtypes), value fmaf(v, b, a).
#include "../ops/random_fill.h"
#include "napi_util.h"
#include "noise_checks.h"

namespace mmpref::napi {
namespace {

constexpr const char* kOp = "random";

struct RandomFillJob : Job {
  RandomFillArgs args;
  Status run() override { return MMPREF_RUN_ON_DEVICE("random", args.device, random_fill_cpu(args), random_fill_cuda(args)); }
};

Napi::Value random_fill(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Args a(info, kOp);
  auto job = std::make_unique<RandomFillJob>();
  bool async = false;
  TensorView out;
  int64_t kind = 0;
  double lo = 0, span = 1;
  uint64_t seed = 0, offset = 0, start_block = 0;
  int64_t start_skip = 0;
  MMPREF_NAPI_TRY(env, a.async_flag(&async));
  MMPREF_NAPI_TRY(env, a.integer(1, "kind", 0, 2, &kind));
  const uint32_t mask = kind == 0 ? dtype_bit(DType::kInt32) : kFloatMask;
  MMPREF_NAPI_TRY(env, a.tensor(0, "out", job.get(), &out, mask));
  MMPREF_NAPI_TRY(env, a.number(2, "a", &lo));
  MMPREF_NAPI_TRY(env, a.number(3, "b", &span));
  MMPREF_NAPI_TRY(env, finite_in(kOp, "a", lo, -kFloatMax, kFloatMax));
  MMPREF_NAPI_TRY(env, finite_in(kOp, "b", span, -kFloatMax, kFloatMax));
  MMPREF_NAPI_TRY(env, a.u64(4, "seed", &seed));
  MMPREF_NAPI_TRY(env, a.u64(5, "offset", &offset));
  MMPREF_NAPI_TRY(env, a.u64(6, "startBlock", &start_block));
  MMPREF_NAPI_TRY(env, a.integer(7, "startSkip", 0, 3, &start_skip));
  RandomFillArgs& r = job->args;
  r.out = out.data;
  r.dtype = out.dtype;
  r.n = out.numel;
  r.kind = RandomKind(kind);
  r.a = float(lo);
  r.b = float(span);
  r.seed = seed;
  r.offset = offset;
  r.start_block = start_block;
  r.start_skip = int(start_skip);
  r.device = out.device;
  return run_job(env, std::move(job), async);
}

void init(Napi::Env env, Napi::Object exports) {
  exports.Set("randomFill", Napi::Function::New(env, random_fill, "randomFill"));
}

}  // namespace
MMPREF_REGISTER_BINDING(init);
}  // namespace mmpref::napi

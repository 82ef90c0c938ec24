// _membw(kind, x, y | null, reps) -> seconds per rep (median): bench ceilings (bench/harness.ts).
// Timed natively so JS overhead does not count against the ceiling.
#include <algorithm>
#include <chrono>
#include <vector>

#include "../ops/membw.h"
#include "napi_util.h"

namespace mmpref::napi {
namespace {

struct MemBwJob : Job {
  MemBwArgs args;
  int64_t reps = 1;
  double seconds = 0;
  Status run() override {
    std::vector<double> t;
    for (int64_t r = 0; r < reps + 1; ++r) {  // +1 warm-up
      const auto t0 = std::chrono::steady_clock::now();
      Status st;
      if (args.device >= 0) {
#if MMPREF_HAVE_CUDA
        st = membw_cuda(&args);
#else
        st = make_status(Code::kDevice, "_membw: no CUDA in this build");
#endif
      } else {
        st = membw_cpu(&args);
      }
      if (!st.ok()) return st;
      if (r) t.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
    std::sort(t.begin(), t.end());
    seconds = t[t.size() / 2];
    return Status::Ok();
  }
  Napi::Value result(Napi::Env env) override { return Napi::Number::New(env, seconds); }
};

Napi::Value membw(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Args a(info, "_membw");
  auto job = std::make_unique<MemBwJob>();
  int64_t kind = 0;
  TensorView x, y;
  bool has_y = false, async = false;
  MMPREF_NAPI_TRY(env, a.async_flag(&async));
  MMPREF_NAPI_TRY(env, a.integer(0, "kind", 0, 2, &kind));
  MMPREF_NAPI_TRY(env, a.tensor(1, "x", job.get(), &x, dtype_bit(DType::kFloat32)));
  MMPREF_NAPI_TRY(env, a.optional_tensor(2, "y", job.get(), &y, &has_y, dtype_bit(DType::kFloat32)));
  MMPREF_NAPI_TRY(env, a.integer(3, "reps", 1, 1000, &job->reps));
  if (kind == 1 && (!has_y || y.numel != x.numel))
    MMPREF_NAPI_TRY(env, make_status(Code::kShape, "_membw: copy needs y with as many elements as x"));
  if (has_y) MMPREF_NAPI_TRY(env, same_device("_membw", {&x, &y}));
  job->args = MemBwArgs{MemBwKind(kind), x.ptr<float>(), has_y ? y.ptr<float>() : nullptr, x.numel, x.device, 0};
  return run_job(env, std::move(job), async);
}

void init(Napi::Env env, Napi::Object exports) {
  exports.Set("_membw", Napi::Function::New(env, membw, "_membw"));
}

}  // namespace
MMPREF_REGISTER_BINDING(init);
}  // namespace mmpref::napi

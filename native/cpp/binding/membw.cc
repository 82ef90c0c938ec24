// _membw(kind, x, y | null, reps) -> seconds per rep (median): bench ceilings (bench/harness.ts).
// Timed natively so JS overhead does not count against the ceiling.
#include <algorithm>
#include <chrono>
#include <vector>

#include "../ops/membw.h"
#include "args/membw.h"

namespace mmpref::napi {
namespace {

using A = args::membw;

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

Status prepare(const Call& c, MemBwJob* job) {
  const TensorView& x = c.t(A::x);
  const int64_t kind = c.integer(A::kind);
  job->reps = c.integer(A::reps);
  MMPREF_RETURN_IF_ERROR(c.one_device());
  if (kind == 1 && (!c.has(A::y) || c.t(A::y).numel != x.numel))
    return c.error(Code::kShape, "expected y with as many elements as x for a copy");
  job->args = MemBwArgs{MemBwKind(kind), x.ptr<float>(), c.has(A::y) ? c.t(A::y).ptr<float>() : nullptr, x.numel, x.device, 0};
  return Status::Ok();
}

}  // namespace
MMPREF_BIND_OP(args::membw, MemBwJob, prepare);
}  // namespace mmpref::napi

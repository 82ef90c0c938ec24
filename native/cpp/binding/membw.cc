// Bench ceilings and probes for bench/harness.ts (not public API):
//   _membw(kind, x, y | null, reps, async) -> seconds of the fastest rep (reps 0: one pass, no warm-up) (kinds: ops/membw.h MemBwKind)
//   _flops(kind, iters, reps, async) -> {seconds (fastest rep), flops, isa} (kinds: FlopsKind)
//   _memprobe(cmd) -> bytes: 0 = malloc_trim, start sampling the RSS, return the current RSS;
//                    1 = stop sampling, return the peak growth; -1 where the OS cannot say
// Timed natively so JS overhead does not count against the ceiling.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <thread>
#include <vector>

#if defined(__linux__)
#include <unistd.h>
#endif
#if defined(__linux__) && defined(__GLIBC__)
#include <malloc.h>
#endif

#include "../ops/membw.h"
#include "args/flops.h"
#include "args/membw.h"

namespace mmpref::napi {
namespace {

struct MemBwJob : Job {
  MemBwArgs args;
  int64_t reps = 1;
  double seconds = 0;
  Status run() override {
    std::vector<double> t;
    const int64_t passes = reps ? reps + 1 : 1;  // +1 warm-up; reps = 0: one untimed-warm-up pass
    for (int64_t r = 0; r < passes; ++r) {
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
      if (r || passes == 1) t.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
    seconds = *std::min_element(t.begin(), t.end());  // the fastest rep: an upper bound
    return Status::Ok();
  }
  Napi::Value result(Napi::Env env) override { return Napi::Number::New(env, seconds); }
};

using A = args::membw;

Status prepare(const Call& c, MemBwJob* job) {
  const TensorView& x = c.t(A::x);
  const int64_t kind = c.integer(A::kind);
  job->reps = c.integer(A::reps);
  MMPREF_RETURN_IF_ERROR(c.one_device());
  if ((kind == int64_t(MemBwKind::kCopy) || kind == int64_t(MemBwKind::kCopyLib)) && (!c.has(A::y) || c.t(A::y).numel != x.numel))
    return c.error(Code::kShape, "expected y with as many elements as x for a copy");
  job->args = MemBwArgs{MemBwKind(kind), x.ptr<float>(), c.has(A::y) ? c.t(A::y).ptr<float>() : nullptr, x.numel, x.device, 0};
  return Status::Ok();
}

struct FlopsJob : Job {
  FlopsArgs args;
  int64_t reps = 1;
  double seconds = 0;
  Status run() override {
    std::vector<double> t;
    for (int64_t r = 0; r < reps + 1; ++r) {  // +1 warm-up (wakes the pool, raises the clock)
      const auto t0 = std::chrono::steady_clock::now();
      MMPREF_RETURN_IF_ERROR(flops_cpu(&args));
      if (r) t.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
    seconds = *std::min_element(t.begin(), t.end());  // the fastest rep: an upper bound
    return Status::Ok();
  }
  Napi::Value result(Napi::Env env) override {
    Napi::Object o = Napi::Object::New(env);
    o.Set("seconds", seconds);
    o.Set("flops", args.flops);
    o.Set("isa", args.isa);
    return o;
  }
};

Status prepare_flops(const Call& c, FlopsJob* job) {
  job->args.kind = FlopsKind(c.integer(args::flops::kind));
  job->args.iters = c.integer(args::flops::iters);
  job->reps = c.integer(args::flops::reps);
  return Status::Ok();
}

// Resident set size in bytes (/proc/self/statm), -1 where the OS cannot say.
double rss_bytes() {
#if defined(__linux__)
  FILE* f = std::fopen("/proc/self/statm", "r");
  if (!f) return -1;
  long size = 0, resident = 0;
  const int got = std::fscanf(f, "%ld %ld", &size, &resident);
  std::fclose(f);
  static const long page = sysconf(_SC_PAGESIZE);
  return got == 2 ? double(resident) * double(page) : -1;
#else
  return -1;
#endif
}

// Peak RSS while an op runs, sampled by a thread every 100 us. NB: the kernel's own peak counter
// (VmHWM, reset through /proc/self/clear_refs) was tried first and misses memory that is freed
// with munmap before it is read, which is exactly an op's scratch, so it is not used.
struct RssSampler {
  std::thread thread;
  std::atomic<bool> stop{false};
  std::atomic<double> peak{0};
  double base = 0;
};
RssSampler* g_sampler = nullptr;  // main thread only

double stop_sampler() {
  if (!g_sampler) return -1;
  g_sampler->stop = true;
  g_sampler->thread.join();
  const double growth = std::max(g_sampler->peak.load(), rss_bytes()) - g_sampler->base;
  delete g_sampler;
  g_sampler = nullptr;
  return growth;
}

Napi::Value memprobe(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Args a(info, "_memprobe");
  int64_t cmd = 0;
  MMPREF_NAPI_TRY(env, a.integer(0, "cmd", 0, 1, &cmd));
  if (cmd == 1) return Napi::Number::New(env, stop_sampler());
  stop_sampler();
#if defined(__linux__) && defined(__GLIBC__)
  // NB: give freed heap pages back first, or an op's scratch could reuse pages that are already
  // resident and not show as growth.
  malloc_trim(0);
#endif
  const double base = rss_bytes();
  if (base < 0) return Napi::Number::New(env, -1);
  g_sampler = new RssSampler();
  g_sampler->base = base;
  g_sampler->peak = base;
  RssSampler* s = g_sampler;
  try {
    s->thread = std::thread([s] {
      while (!s->stop.load()) {
        const double r = rss_bytes();
        if (r > s->peak.load()) s->peak = r;
        std::this_thread::sleep_for(std::chrono::microseconds(100));
      }
    });
  } catch (...) {
    delete g_sampler;
    g_sampler = nullptr;
    return Napi::Number::New(env, -1);
  }
  return Napi::Number::New(env, base);
}

void init(Napi::Env env, Napi::Object exports) {
  exports.Set("_memprobe", Napi::Function::New(env, memprobe, "_memprobe"));
}

}  // namespace
MMPREF_BIND_OP(args::membw, MemBwJob, prepare);
MMPREF_BIND_OP(args::flops, FlopsJob, prepare_flops);
MMPREF_REGISTER_BINDING(init);
}  // namespace mmpref::napi

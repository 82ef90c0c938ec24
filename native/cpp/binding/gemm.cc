// Internal GEMM entry points (tests and benches; the public ops call gemm_cpu directly):
//   _gemm(a, b, c, bias | null, transA, transB, accumulate, maxIsa, async)
//     c [M, N] (+)= op(a) op(b) (+ bias): a [M, K] (transA: [K, M]), b [K, N] (transB: [N, K]),
//     a and b one float dtype, c float32 or that dtype, bias [N] float32 or that dtype,
//     maxIsa -1 (auto) or 0..3 (baseline, avx2, avx512, avx512bf16; capped at what the CPU has);
//     CUDA tensors run gemm_cuda (maxIsa ignored).
//   _gemmIsa() -> the ISA level name gemm_isa() picks on this machine.
//   _gemmCeiling(bf16) -> { gflops, gflopsPerCpuSecond }: the instruction the kernel for that input
//     is bound by (FMA or vdpbf16ps) on every thread of the pool: median wall rate of 5 rounds, and
//     all flops over the process CPU time (robust on a shared machine). Bench ceiling; ~0.1 s.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <ctime>
#include <vector>

#include "../core/thread_pool.h"
#include "../ops/gemm.h"
#include "../ops/gemm_kernels.h"
#include "args/gemm.h"

namespace mmpref::napi {
namespace {

MMPREF_LAUNCH_OP(args::gemm, GemmArgs, gemm, prepare) {
  const TensorView &x = c.t(A::a), &y = c.t(A::b), &o = c.t(A::c);
  MMPREF_RETURN_IF_ERROR(c.one_device());
  MMPREF_RETURN_IF_ERROR(c.same_dtype(A::b, A::a));
  if (o.dtype != x.dtype && o.dtype != DType::kFloat32)
    return c.error(Code::kDtype, "expected c of dtype float32 or a's dtype but received " + std::string(dtype_name(o.dtype)));
  const bool ta = c.boolean(A::transA), tb = c.boolean(A::transB);
  const int64_t m = ta ? x.shape[1] : x.shape[0], k = ta ? x.shape[0] : x.shape[1];
  const int64_t kb = tb ? y.shape[1] : y.shape[0], n = tb ? y.shape[0] : y.shape[1];
  if (kb != k || c.dim(A::dim::M) != m || c.dim(A::dim::N) != n)
    return c.error(Code::kShape, "expected b with K = " + std::to_string(k) + " and c [" + std::to_string(m) + ", " + std::to_string(n) +
                                     "] but received a " + shape_str(x) + ", b " + shape_str(y) + ", c " + shape_str(o));
  const TensorView* bias = c.opt(A::bias);
  if (bias && bias->dtype != x.dtype && bias->dtype != DType::kFloat32)
    return c.error(Code::kDtype, "expected bias of dtype float32 or a's dtype but received " + std::string(dtype_name(bias->dtype)));
  GemmArgs& g = job->args;
  g.a = x.data;
  g.b = y.data;
  g.c = o.data;
  g.bias = bias ? bias->data : nullptr;
  g.in_dtype = x.dtype;
  g.out_dtype = o.dtype;
  g.bias_dtype = bias ? bias->dtype : DType::kFloat32;
  g.m = m;
  g.n = n;
  g.k = k;
  g.lda = std::max<int64_t>(x.shape[1], 1);
  g.ldb = std::max<int64_t>(y.shape[1], 1);
  g.ldc = std::max<int64_t>(n, 1);
  g.trans_a = ta;
  g.trans_b = tb;
  g.accumulate = c.boolean(A::accumulate);
  g.max_isa = int(c.integer(A::maxIsa));
  g.device = x.device;
  return Status::Ok();
}

Napi::Value gemm_isa_js(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), gemm_isa_name(gemm_isa()));
}

Napi::Value gemm_ceiling(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsBoolean())
    MMPREF_NAPI_TRY(env, make_status(Code::kArgument, "_gemmCeiling: expected bf16 to be a boolean but received " +
                                                          (info.Length() < 1 ? std::string("nothing") : type_of(info[0]))));
  const bool bf16 = info[0].As<Napi::Boolean>().Value();
  const GemmIsa isa = gemm_isa();
  const int threads = num_threads();
  constexpr int64_t kSteps = 1 << 20;
  std::vector<double> rates;
  timespec c0, c1;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c0);
  double total = 0;
  for (int rep = 0; rep < 5; ++rep) {
    std::atomic<int64_t> flops{0};
    const auto t0 = std::chrono::steady_clock::now();
    parallel_for(threads, 1, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) flops += gemm_peak_loop(isa, bf16, kSteps);
    });
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    rates.push_back(double(flops.load()) / s / 1e9);
    total += double(flops.load());
  }
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c1);
  std::sort(rates.begin(), rates.end());
  Napi::Object r = Napi::Object::New(env);
  r.Set("gflops", rates[rates.size() / 2]);
  const double cpu_s = double(c1.tv_sec - c0.tv_sec) + 1e-9 * double(c1.tv_nsec - c0.tv_nsec);
  r.Set("gflopsPerCpuSecond", cpu_s > 0 ? total / cpu_s / 1e9 : 0.0);
  return r;
}

void init(Napi::Env env, Napi::Object exports) {
  exports.Set("_gemmIsa", Napi::Function::New(env, gemm_isa_js, "_gemmIsa"));
  exports.Set("_gemmCeiling", Napi::Function::New(env, gemm_ceiling, "_gemmCeiling"));
}

}  // namespace
MMPREF_REGISTER_BINDING(init);
}  // namespace mmpref::napi

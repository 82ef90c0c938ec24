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
#include "napi_util.h"

namespace mmpref::napi {
namespace {

struct GemmJob : Job {
  GemmArgs args;
  Status run() override { return MMPREF_RUN_ON_DEVICE("_gemm", args.device, gemm_cpu(args), gemm_cuda(args)); }
};

Napi::Value gemm(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Args a(info, "_gemm");
  auto job = std::make_unique<GemmJob>();
  TensorView x, y, c, bias;
  bool has_bias = false, async = false, ta = false, tb = false, acc = false;
  int64_t max_isa = -1;
  MMPREF_NAPI_TRY(env, a.async_flag(&async));
  MMPREF_NAPI_TRY(env, a.tensor(0, "a", job.get(), &x, kFloatMask));
  MMPREF_NAPI_TRY(env, a.tensor(1, "b", job.get(), &y, dtype_bit(x.dtype)));
  MMPREF_NAPI_TRY(env, a.tensor(2, "c", job.get(), &c, dtype_bit(x.dtype) | dtype_bit(DType::kFloat32)));
  MMPREF_NAPI_TRY(env, a.optional_tensor(3, "bias", job.get(), &bias, &has_bias,
                                         dtype_bit(x.dtype) | dtype_bit(DType::kFloat32)));
  MMPREF_NAPI_TRY(env, a.boolean(4, "transA", &ta));
  MMPREF_NAPI_TRY(env, a.boolean(5, "transB", &tb));
  MMPREF_NAPI_TRY(env, a.boolean(6, "accumulate", &acc));
  MMPREF_NAPI_TRY(env, a.integer(7, "maxIsa", -1, 3, &max_isa));
  MMPREF_NAPI_TRY(env, same_device("_gemm", {&x, &y, &c, has_bias ? &bias : nullptr}));
  if (x.ndim != 2 || y.ndim != 2 || c.ndim != 2)
    MMPREF_NAPI_TRY(env, make_status(Code::kShape, "_gemm: expected 2-d a, b and c but received a " + shape_str(x) +
                                                       ", b " + shape_str(y) + ", c " + shape_str(c)));
  const int64_t m = ta ? x.shape[1] : x.shape[0], k = ta ? x.shape[0] : x.shape[1];
  const int64_t kb = tb ? y.shape[1] : y.shape[0], n = tb ? y.shape[0] : y.shape[1];
  if (kb != k || c.shape[0] != m || c.shape[1] != n)
    MMPREF_NAPI_TRY(env, make_status(Code::kShape, "_gemm: expected b with K = " + std::to_string(k) + " and c [" +
                                                       std::to_string(m) + ", " + std::to_string(n) +
                                                       "] but received a " + shape_str(x) + ", b " + shape_str(y) +
                                                       ", c " + shape_str(c)));
  if (has_bias && (bias.ndim != 1 || bias.shape[0] != n))
    MMPREF_NAPI_TRY(env, make_status(Code::kShape, "_gemm: expected bias of shape [" + std::to_string(n) +
                                                       "] but received " + shape_str(bias)));
  GemmArgs& g = job->args;
  g.a = x.data;
  g.b = y.data;
  g.c = c.data;
  g.bias = has_bias ? bias.data : nullptr;
  g.in_dtype = x.dtype;
  g.out_dtype = c.dtype;
  g.bias_dtype = has_bias ? bias.dtype : DType::kFloat32;
  g.m = m;
  g.n = n;
  g.k = k;
  g.lda = std::max<int64_t>(x.shape[1], 1);
  g.ldb = std::max<int64_t>(y.shape[1], 1);
  g.ldc = std::max<int64_t>(n, 1);
  g.trans_a = ta;
  g.trans_b = tb;
  g.accumulate = acc;
  g.max_isa = int(max_isa);
  g.device = x.device;
  return run_job(env, std::move(job), async);
}

Napi::Value gemm_isa_js(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), gemm_isa_name(gemm_isa()));
}

Napi::Value gemm_ceiling(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Args a(info, "_gemmCeiling");
  bool bf16 = false;
  MMPREF_NAPI_TRY(env, a.boolean(0, "bf16", &bf16));
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
  exports.Set("_gemm", Napi::Function::New(env, gemm, "_gemm"));
  exports.Set("_gemmIsa", Napi::Function::New(env, gemm_isa_js, "_gemmIsa"));
  exports.Set("_gemmCeiling", Napi::Function::New(env, gemm_ceiling, "_gemmCeiling"));
}

}  // namespace
MMPREF_REGISTER_BINDING(init);
}  // namespace mmpref::napi

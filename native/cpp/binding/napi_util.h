// N-API glue shared by every binding/<op>.cc: typed errors, argument readers that trust nothing,
// CUDA device buffers, and the sync/async job runner.
//
// Calling convention (lib/ops/*.ts -> native): positional arguments; tensors are lib Tensor
// objects (fields _store, _code, shape, _device); outputs are allocated by JS and passed in like
// inputs; the last argument is `async` (boolean). Sync calls return the job's result or throw an
// MmprefError; async calls return a Promise that settles the same way, and run on a libuv thread.
#pragma once

#include <napi.h>

#include <memory>
#include <string>
#include <vector>

#include "../core/status.h"
#include "../core/tensor_view.h"

namespace mmpref::napi {

// ---- errors ---------------------------------------------------------------------------------
const char* code_name(Code code);
// A real `instanceof MmprefError` (the constructor is handed over by lib/native.ts via init()).
Napi::Error make_error(Napi::Env env, const Status& st);
Status arg_error(const std::string& op, const std::string& what);  // ERR_ARGUMENT

// ---- CUDA device memory owned by JS tensors ---------------------------------------------------
struct DeviceBuffer {
  void* ptr = nullptr;
  size_t bytes = 0;
  int device = 0;
  ~DeviceBuffer();
};
// Reads a device-buffer External made by deviceAlloc (type-tagged; anything else is rejected).
Status read_device_buffer(Napi::Env env, const Napi::Value& v, const std::string& what,
                          std::shared_ptr<DeviceBuffer>* out);

// A new External owning `buf` (type-tagged, finalizer frees the memory unless a job holds it).
Napi::Value make_device_buffer_external(Napi::Env env, std::shared_ptr<DeviceBuffer> buf);
// dispose(): drops the External's reference now; false if `v` is not a device buffer.
bool release_device_buffer_external(Napi::Env env, const Napi::Value& v);

// ---- jobs -------------------------------------------------------------------------------------
class Job {
 public:
  virtual ~Job() = default;
  // Runs the op. Called on the main thread (sync) or a libuv thread (async): no napi calls here.
  virtual Status run() = 0;
  // Builds the JS result on the main thread after a successful run (default: undefined).
  virtual Napi::Value result(Napi::Env env) { return env.Undefined(); }

  // Keep-alives for every tensor read through Args::tensor (buffers cannot be collected, device
  // memory cannot be freed by dispose(), while the job runs).
  std::vector<Napi::ObjectReference> js_refs;
  std::vector<std::shared_ptr<DeviceBuffer>> dev_refs;
};

// Picks an op's CPU or CUDA launcher by device. In a build without CUDA the CUDA call is not
// compiled at all and a CUDA tensor is ERR_DEVICE:
//   Status run() override { return MMPREF_RUN_ON_DEVICE("linear", args.device, linear_cpu(args), linear_cuda(args)); }
#if MMPREF_HAVE_CUDA
#define MMPREF_RUN_ON_DEVICE(op, device, cpu_call, cuda_call) ((device) >= 0 ? (cuda_call) : (cpu_call))
#else
#define MMPREF_RUN_ON_DEVICE(op, device, cpu_call, cuda_call)                                                  \
  ((device) >= 0 ? ::mmpref::make_status(::mmpref::Code::kDevice, std::string(op) + ": this build has no CUDA support") \
                 : (cpu_call))
#endif

// Runs `job` now (async = false: returns result or throws) or on the libuv pool (returns a
// Promise). Any C++ exception inside run() becomes ERR_OOM (bad_alloc) or ERR_ARGUMENT.
Napi::Value run_job(Napi::Env env, std::unique_ptr<Job> job, bool async);

// ---- argument readers -------------------------------------------------------------------------
class Args {
 public:
  Args(const Napi::CallbackInfo& info, const char* op) : info_(info), op_(op) {}

  Napi::Env env() const { return info_.Env(); }
  const char* op() const { return op_; }
  size_t size() const { return info_.Length(); }
  bool is_nullish(size_t i) const;
  // The trailing `async` flag: info[size()-1] must be a boolean.
  Status async_flag(bool* out) const;

  // A tensor argument; its keep-alive goes into `job`. `dtype_mask` is a bit set of allowed
  // dtype codes (1 << int(DType)), 0 = any.
  Status tensor(size_t i, const char* name, Job* job, TensorView* out, uint32_t dtype_mask = 0) const;
  // Same, but null/undefined gives *present = false.
  Status optional_tensor(size_t i, const char* name, Job* job, TensorView* out, bool* present,
                         uint32_t dtype_mask = 0) const;
  Status number(size_t i, const char* name, double* out) const;  // finite or not: caller checks
  Status integer(size_t i, const char* name, int64_t lo, int64_t hi, int64_t* out) const;
  Status boolean(size_t i, const char* name, bool* out) const;
  Status string(size_t i, const char* name, std::string* out) const;
  // A seed/offset: non-negative integer Number (<= 2^53) or BigInt (< 2^64).
  Status u64(size_t i, const char* name, uint64_t* out) const;

 private:
  Status need(size_t i, const char* name) const;
  const Napi::CallbackInfo& info_;
  const char* op_;
};

// Dtype masks for Args::tensor.
constexpr uint32_t dtype_bit(DType t) { return 1u << int(t); }
constexpr uint32_t kFloatMask =
    dtype_bit(DType::kFloat32) | dtype_bit(DType::kFloat16) | dtype_bit(DType::kBFloat16);

// Every tensor on one device (all host, or all the same CUDA device).
Status same_device(const char* op, std::initializer_list<const TensorView*> views);
// Shape helpers for messages: "[4, 128, 32000]".
std::string shape_str(const TensorView& v);

// ---- registration -----------------------------------------------------------------------------
using InitFn = void (*)(Napi::Env env, Napi::Object exports);
// Per-env state and the `init(MmprefError)` export; addon.cc calls it before the registry.
void init_env(Napi::Env env, Napi::Object exports);
std::vector<InitFn>& registry();
struct Registrar {
  explicit Registrar(InitFn fn) { registry().push_back(fn); }
};

}  // namespace mmpref::napi

// In binding/<op>.cc:  MMPREF_REGISTER_BINDING(init_log_sum_exp);
// addon.cc calls every registered init at load, so adding an op never edits a shared file.
#define MMPREF_REGISTER_BINDING(fn) static ::mmpref::napi::Registrar mmpref_registrar_##fn(fn)

// Early-return for Status inside a binding function body (returns the thrown JS error).
#define MMPREF_NAPI_TRY(env, expr)                                              \
  do {                                                                          \
    ::mmpref::Status _mmpref_st = (expr);                                       \
    if (!_mmpref_st.ok()) {                                                     \
      ::mmpref::napi::make_error((env), _mmpref_st).ThrowAsJavaScriptException(); \
      return (env).Undefined();                                                 \
    }                                                                           \
  } while (0)

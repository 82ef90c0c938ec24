// N-API glue shared by every binding: typed errors, CUDA device buffers, the Job an op runs, and
// scalar readers for the runtime functions. Op arguments are read by binding/op_call.h from the
// op's declaration (lib/ops/<stem>.args.ts); no binding reads tensors by hand.
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
// Host memory a job owns: a copied index tensor or an Async copy of an ArrayBuffer's bytes.
struct HostCopy {
  std::unique_ptr<uint8_t[]> bytes;
  size_t size = 0;
  const char* op = "";       // the op and the argument, for messages
  const char* name = "";
  napi_ref source = nullptr;  // written argument (Async): the JS typed array to copy back into
};

class Job {
 public:
  virtual ~Job() = default;
  // Runs the op. Called on the main thread (sync) or a libuv thread (async): no napi calls here.
  virtual Status run() = 0;
  // Builds the JS result on the main thread after a successful run (default: undefined).
  virtual Napi::Value result(Napi::Env env) { return env.Undefined(); }

  // What keeps the op's memory in place until it settles (filled by Call::read, released by
  // run_op): references to SharedArrayBuffer views, host copies, shared CUDA buffers.
  std::vector<napi_ref> refs;
  std::vector<HostCopy> copies;
  std::vector<std::shared_ptr<DeviceBuffer>> dev_refs;
};


// ---- scalar readers (runtime functions; ops use binding/op_call.h) ----------------------------
class Args {
 public:
  Args(const Napi::CallbackInfo& info, const char* op) : info_(info), op_(op) {}
  Status integer(size_t i, const char* name, int64_t lo, int64_t hi, int64_t* out) const;

 private:
  const Napi::CallbackInfo& info_;
  const char* op_;
};
std::string type_of(const Napi::Value& v);

// The Tensor field names (_code, shape, _device, _store) as strings created once per env.
constexpr int kTensorKeyCount = 4;
bool tensor_keys(napi_env env, napi_value* keys);

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

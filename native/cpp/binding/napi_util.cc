#include "napi_util.h"

#include <cmath>
#include <new>
#include <sstream>

#if MMPREF_HAVE_CUDA
#include "../core/cuda_api.h"
#endif

namespace mmpref::napi {

// ---- errors ---------------------------------------------------------------------------------

const char* code_name(Code code) {
  switch (code) {
    case Code::kOk: return "OK";
    case Code::kShape: return "ERR_SHAPE";
    case Code::kDtype: return "ERR_DTYPE";
    case Code::kRange: return "ERR_RANGE";
    case Code::kDevice: return "ERR_DEVICE";
    case Code::kOom: return "ERR_OOM";
    case Code::kDetached: return "ERR_DETACHED";
    case Code::kArgument: return "ERR_ARGUMENT";
  }
  return "ERR_ARGUMENT";
}

struct EnvData {
  Napi::FunctionReference error_ctor;
  // Property names of lib Tensor fields, created once per env (see tensor_keys). NB: N-API 8
  // cannot reference a string, so the names live in an array that is referenced.
  Napi::ObjectReference keys;
};

static EnvData* env_data(Napi::Env env) { return env.GetInstanceData<EnvData>(); }

Napi::Error make_error(Napi::Env env, const Status& st) {
  EnvData* d = env_data(env);
  if (d && !d->error_ctor.IsEmpty()) {
    // Calling the constructor runs JS, which a worker being terminated cannot do: then a plain
    // Error (it will not reach JS either; NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS drops it).
    try {
      Napi::Value e = d->error_ctor.New({Napi::String::New(env, st.message),
                                         Napi::String::New(env, code_name(st.code))});
      return Napi::Error(env, e);
    } catch (const Napi::Error&) {
      bool pending = false;
      napi_is_exception_pending(env, &pending);
      if (pending) {
        napi_value ignored;
        napi_get_and_clear_last_exception(env, &ignored);
      }
    }
  }
  Napi::Error e = Napi::Error::New(env, st.message);
  e.Set("code", Napi::String::New(env, code_name(st.code)));
  return e;
}

Status arg_error(const std::string& op, const std::string& what) {
  return make_status(Code::kArgument, op + ": " + what);
}

static Napi::Value init(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsFunction()) {
    Napi::TypeError::New(env, "init: expected the MmprefError constructor").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  EnvData* d = env_data(env);
  d->error_ctor = Napi::Persistent(info[0].As<Napi::Function>());
  return env.Undefined();
}

// ---- device buffers ---------------------------------------------------------------------------

DeviceBuffer::~DeviceBuffer() {
#if MMPREF_HAVE_CUDA
  cuda::free(device, ptr);
#endif
}

namespace {
// Type tag for device-buffer Externals: a forged or foreign External is rejected.
constexpr napi_type_tag kDeviceBufferTag = {0x6d6d70726566ull, 0x64657662756621ull};

struct DeviceHandle {
  std::shared_ptr<DeviceBuffer> buf;  // reset by deviceFree (dispose); jobs may still hold it
};
}  // namespace

Status read_device_buffer(Napi::Env env, const Napi::Value& v, const std::string& what,
                          std::shared_ptr<DeviceBuffer>* out) {
  bool tagged = false;
  if (v.IsExternal()) napi_check_object_type_tag(env, v, &kDeviceBufferTag, &tagged);
  if (!tagged) return make_status(Code::kArgument, what + ": expected CUDA tensor storage");
  auto* h = v.As<Napi::External<DeviceHandle>>().Data();
  if (!h || !h->buf) return make_status(Code::kDetached, what + ": the CUDA tensor was disposed");
  *out = h->buf;
  return Status::Ok();
}

// ---- scalar readers ---------------------------------------------------------------------------

std::string type_of(const Napi::Value& v) {
  if (v.IsUndefined()) return "undefined";
  if (v.IsNull()) return "null";
  if (v.IsBoolean()) return "a boolean";
  if (v.IsNumber()) return "a number";
  if (v.IsBigInt()) return "a bigint";
  if (v.IsString()) return "a string";
  if (v.IsTypedArray()) return "a typed array";
  if (v.IsArray()) return "an array";
  if (v.IsFunction()) return "a function";
  if (v.IsExternal()) return "an external";
  return "an object";
}

std::string shape_str(const TensorView& v) {
  std::ostringstream s;
  s << '[';
  for (int i = 0; i < v.ndim; ++i) s << (i ? ", " : "") << v.shape[i];
  s << ']';
  return s.str();
}

Status Args::integer(size_t i, const char* name, int64_t lo, int64_t hi, int64_t* out) const {
  if (i >= info_.Length() || !info_[i].IsNumber())
    return arg_error(op_, std::string("expected a number for ") + name + " but received " +
                              (i >= info_.Length() ? std::string("nothing") : type_of(info_[i])));
  const double d = info_[i].As<Napi::Number>().DoubleValue();
  if (std::floor(d) != d || d < double(lo) || d > double(hi))
    return make_status(Code::kRange, std::string(op_) + ": expected " + name + " to be an integer in [" +
                                         std::to_string(lo) + ", " + std::to_string(hi) + "] but received " +
                                         std::to_string(d));
  *out = int64_t(d);
  return Status::Ok();
}

bool tensor_keys(napi_env env, napi_value* keys) {
  EnvData* d = env_data(Napi::Env(env));
  if (!d) return false;
  napi_value arr;
  if (napi_get_reference_value(env, d->keys, &arr) != napi_ok) return false;
  for (int i = 0; i < kTensorKeyCount; ++i)
    if (napi_get_element(env, arr, uint32_t(i), &keys[i]) != napi_ok) return false;
  return true;
}

std::vector<InitFn>& registry() {
  static std::vector<InitFn> fns;
  return fns;
}

// ---- init (registered like any op) ------------------------------------------------------------

void init_env(Napi::Env env, Napi::Object exports) {
  auto* d = new EnvData();
  const char* names[kTensorKeyCount] = {"_code", "shape", "_device", "_store"};
  Napi::Array keys = Napi::Array::New(env, kTensorKeyCount);
  for (int i = 0; i < kTensorKeyCount; ++i) keys.Set(uint32_t(i), Napi::String::New(env, names[i]));
  d->keys = Napi::Persistent(static_cast<Napi::Object>(keys));
  env.SetInstanceData<EnvData>(d);
  exports.Set("init", Napi::Function::New(env, init, "init"));
}

Napi::Value make_device_buffer_external(Napi::Env env, std::shared_ptr<DeviceBuffer> buf) {
  auto* h = new DeviceHandle{std::move(buf)};
  const int64_t bytes = int64_t(h->buf->bytes);
  auto ext = Napi::External<DeviceHandle>::New(env, h, [bytes](Napi::Env e, DeviceHandle* hh) {
    if (hh->buf) Napi::MemoryManagement::AdjustExternalMemory(e, -bytes);
    delete hh;
  });
  napi_type_tag_object(env, ext, &kDeviceBufferTag);
  Napi::MemoryManagement::AdjustExternalMemory(env, bytes);
  return ext;
}

bool release_device_buffer_external(Napi::Env env, const Napi::Value& v) {
  bool tagged = false;
  if (v.IsExternal()) napi_check_object_type_tag(env, v, &kDeviceBufferTag, &tagged);
  if (!tagged) return false;
  auto* h = v.As<Napi::External<DeviceHandle>>().Data();
  if (h && h->buf) {
    Napi::MemoryManagement::AdjustExternalMemory(env, -int64_t(h->buf->bytes));
    h->buf.reset();  // frees now unless an async job still holds it
  }
  return true;
}

}  // namespace mmpref::napi

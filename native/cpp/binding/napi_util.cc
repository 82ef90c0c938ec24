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
};

static EnvData* env_data(Napi::Env env) { return env.GetInstanceData<EnvData>(); }

Napi::Error make_error(Napi::Env env, const Status& st) {
  EnvData* d = env_data(env);
  if (d && !d->error_ctor.IsEmpty()) {
    Napi::Value e = d->error_ctor.New({Napi::String::New(env, st.message),
                                       Napi::String::New(env, code_name(st.code))});
    return Napi::Error(env, e);
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

// ---- jobs -------------------------------------------------------------------------------------

static Status run_guarded(Job* job) {
  try {
    return job->run();
  } catch (const std::bad_alloc&) {
    return make_status(Code::kOom, "out of host memory");
  } catch (const std::exception& e) {
    return make_status(Code::kArgument, e.what());
  }
}

namespace {
class JobWorker : public Napi::AsyncWorker {
 public:
  JobWorker(Napi::Env env, std::unique_ptr<Job> job)
      : Napi::AsyncWorker(env, "mmpref"), deferred_(Napi::Promise::Deferred::New(env)),
        job_(std::move(job)) {}
  Napi::Promise promise() { return deferred_.Promise(); }
  void Execute() override { status_ = run_guarded(job_.get()); }
  void OnOK() override {
    Napi::Env env = Env();
    Napi::HandleScope scope(env);
    if (!status_.ok()) {
      deferred_.Reject(make_error(env, status_).Value());
      return;
    }
    Napi::Value r;
    try {
      r = job_->result(env);
    } catch (const Napi::Error& e) {
      deferred_.Reject(e.Value());
      return;
    }
    deferred_.Resolve(r);
  }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  std::unique_ptr<Job> job_;
  Status status_;
};
}  // namespace

Napi::Value run_job(Napi::Env env, std::unique_ptr<Job> job, bool async) {
  if (async) {
    auto* w = new JobWorker(env, std::move(job));
    Napi::Promise p = w->promise();
    w->Queue();
    return p;
  }
  Status st = run_guarded(job.get());
  if (!st.ok()) {
    make_error(env, st).ThrowAsJavaScriptException();
    return env.Undefined();
  }
  return job->result(env);
}

// ---- argument readers -------------------------------------------------------------------------

static std::string type_of(const Napi::Value& v) {
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

bool Args::is_nullish(size_t i) const {
  return i >= info_.Length() || info_[i].IsUndefined() || info_[i].IsNull();
}

Status Args::need(size_t i, const char* name) const {
  if (i >= info_.Length())
    return arg_error(op_, std::string("missing argument ") + name);
  return Status::Ok();
}

Status Args::async_flag(bool* out) const {
  if (info_.Length() == 0 || !info_[info_.Length() - 1].IsBoolean())
    return arg_error(op_, "expected a trailing async flag (boolean)");
  *out = info_[info_.Length() - 1].As<Napi::Boolean>().Value();
  return Status::Ok();
}

static napi_typedarray_type typed_array_for(DType t) {
  switch (t) {
    case DType::kFloat32: return napi_float32_array;
    case DType::kFloat16:
    case DType::kBFloat16: return napi_uint16_array;
    case DType::kInt32: return napi_int32_array;
    case DType::kInt64: return napi_bigint64_array;
    default: return napi_uint8_array;
  }
}

Status Args::tensor(size_t i, const char* name, Job* job, TensorView* out,
                    uint32_t dtype_mask) const {
  MMPREF_RETURN_IF_ERROR(need(i, name));
  Napi::Env env = info_.Env();
  const std::string what = std::string(op_) + ": " + name;
  Napi::Value v = info_[i];
  if (!v.IsObject() || v.IsTypedArray())
    return make_status(Code::kArgument, what + ": expected a Tensor but received " + type_of(v));
  Napi::Object o = v.As<Napi::Object>();

  // dtype
  Napi::Value code_v = o.Get("_code");
  if (!code_v.IsNumber())
    return make_status(Code::kArgument, what + ": expected a Tensor but received " + type_of(v));
  const int32_t code = code_v.As<Napi::Number>().Int32Value();
  if (!dtype_valid(code) || double(code) != code_v.As<Napi::Number>().DoubleValue())
    return make_status(Code::kDtype, what + ": unknown dtype code " + std::to_string(code));
  TensorView t;
  t.dtype = DType(code);
  if (dtype_mask && !(dtype_mask & (1u << code))) {
    std::string allowed;
    for (int c = 0; c < kNumDTypes; ++c)
      if (dtype_mask & (1u << c)) allowed += std::string(allowed.empty() ? "" : ", ") + dtype_name(DType(c));
    return make_status(Code::kDtype, what + ": expected dtype " + allowed + " but received " +
                                         dtype_name(t.dtype));
  }

  // shape: at most kMaxDims non-negative integers, product checked for int64 overflow
  Napi::Value shape_v = o.Get("shape");
  if (!shape_v.IsArray()) return make_status(Code::kShape, what + ": shape must be an array");
  Napi::Array shape = shape_v.As<Napi::Array>();
  if (shape.Length() > uint32_t(kMaxDims))
    return make_status(Code::kShape, what + ": at most " + std::to_string(kMaxDims) +
                                         " dimensions are supported, received " +
                                         std::to_string(shape.Length()));
  t.ndim = int(shape.Length());
  int64_t numel = 1;
  for (int d = 0; d < t.ndim; ++d) {
    Napi::Value e = shape.Get(uint32_t(d));
    const double dv = e.IsNumber() ? e.As<Napi::Number>().DoubleValue() : -1.0;
    if (!(dv >= 0 && dv <= 9007199254740992.0) || std::floor(dv) != dv)
      return make_status(Code::kShape, what + ": shape entries must be non-negative integers");
    t.shape[d] = int64_t(dv);
    if (__builtin_mul_overflow(numel, t.shape[d], &numel))
      return make_status(Code::kShape, what + ": element count overflows int64");
  }
  t.numel = numel;
  int64_t nbytes = 0;
  if (__builtin_mul_overflow(numel, int64_t(dtype_size(t.dtype)), &nbytes))
    return make_status(Code::kShape, what + ": byte size overflows int64");

  // device
  Napi::Value dev_v = o.Get("_device");
  const double dev = dev_v.IsNumber() ? dev_v.As<Napi::Number>().DoubleValue() : -2.0;
  if (!(dev >= -1 && dev < 1024) || std::floor(dev) != dev)
    return make_status(Code::kDevice, what + ": invalid device");
  t.device = int(dev);

  Napi::Value store = o.Get("_store");
  if (store.IsUndefined() || store.IsNull())
    return make_status(Code::kDetached, what + ": the tensor was disposed");

  if (t.device < 0) {
    if (!store.IsTypedArray())
      return make_status(Code::kArgument, what + ": host tensor storage must be a typed array");
    Napi::TypedArray ta = store.As<Napi::TypedArray>();
    if (ta.TypedArrayType() != typed_array_for(t.dtype))
      return make_status(Code::kDtype, what + ": storage typed array does not match dtype " +
                                           dtype_name(t.dtype));
    napi_typedarray_type tt;
    size_t len = 0, off = 0;
    void* data = nullptr;
    napi_value ab = nullptr;
    if (napi_get_typedarray_info(env, ta, &tt, &len, &data, &ab, &off) != napi_ok)
      return make_status(Code::kArgument, what + ": could not read typed array");
    const int64_t have = int64_t(len) * dtype_size(t.dtype);
    if (have != nbytes) {
      bool is_ab = false, detached = false;
      napi_is_arraybuffer(env, ab, &is_ab);  // false for a SharedArrayBuffer (never detaches)
      if (is_ab) napi_is_detached_arraybuffer(env, ab, &detached);
      if (detached) return make_status(Code::kDetached, what + ": its ArrayBuffer is detached");
      return make_status(Code::kShape, what + ": shape " + shape_str(t) + " of " +
                                           dtype_name(t.dtype) + " needs " + std::to_string(nbytes) +
                                           " bytes but its buffer view holds " + std::to_string(have));
    }
    if (nbytes > 0 && data == nullptr)
      return make_status(Code::kDetached, what + ": its ArrayBuffer is detached");
    t.data = data;
    job->js_refs.push_back(Napi::Persistent(ta.As<Napi::Object>()));
  } else {
    std::shared_ptr<DeviceBuffer> buf;
    MMPREF_RETURN_IF_ERROR(read_device_buffer(env, store, what, &buf));
    if (buf->device != t.device)
      return make_status(Code::kDevice, what + ": tensor says cuda:" + std::to_string(t.device) +
                                            " but its memory is on cuda:" + std::to_string(buf->device));
    if (int64_t(buf->bytes) < nbytes)
      return make_status(Code::kShape, what + ": shape " + shape_str(t) + " needs " +
                                           std::to_string(nbytes) + " bytes but the device buffer holds " +
                                           std::to_string(buf->bytes));
    t.data = buf->ptr;
    job->dev_refs.push_back(std::move(buf));
  }
  *out = t;
  return Status::Ok();
}

Status Args::optional_tensor(size_t i, const char* name, Job* job, TensorView* out, bool* present,
                             uint32_t dtype_mask) const {
  *present = !is_nullish(i);
  if (!*present) return Status::Ok();
  return tensor(i, name, job, out, dtype_mask);
}

Status Args::number(size_t i, const char* name, double* out) const {
  MMPREF_RETURN_IF_ERROR(need(i, name));
  if (!info_[i].IsNumber())
    return arg_error(op_, std::string(name) + ": expected a number but received " + type_of(info_[i]));
  *out = info_[i].As<Napi::Number>().DoubleValue();
  return Status::Ok();
}

Status Args::integer(size_t i, const char* name, int64_t lo, int64_t hi, int64_t* out) const {
  double d = 0;
  MMPREF_RETURN_IF_ERROR(number(i, name, &d));
  if (std::floor(d) != d || d < double(lo) || d > double(hi))
    return make_status(Code::kRange, std::string(op_) + ": " + name + ": expected an integer in [" +
                                         std::to_string(lo) + ", " + std::to_string(hi) +
                                         "] but received " + std::to_string(d));
  *out = int64_t(d);
  return Status::Ok();
}

Status Args::boolean(size_t i, const char* name, bool* out) const {
  MMPREF_RETURN_IF_ERROR(need(i, name));
  if (!info_[i].IsBoolean())
    return arg_error(op_, std::string(name) + ": expected a boolean but received " + type_of(info_[i]));
  *out = info_[i].As<Napi::Boolean>().Value();
  return Status::Ok();
}

Status Args::string(size_t i, const char* name, std::string* out) const {
  MMPREF_RETURN_IF_ERROR(need(i, name));
  if (!info_[i].IsString())
    return arg_error(op_, std::string(name) + ": expected a string but received " + type_of(info_[i]));
  *out = info_[i].As<Napi::String>().Utf8Value();
  return Status::Ok();
}

Status Args::u64(size_t i, const char* name, uint64_t* out) const {
  MMPREF_RETURN_IF_ERROR(need(i, name));
  Napi::Value v = info_[i];
  if (v.IsBigInt()) {
    bool lossless = false;
    const uint64_t u = v.As<Napi::BigInt>().Uint64Value(&lossless);
    if (!lossless)
      return make_status(Code::kRange, std::string(op_) + ": " + name + ": expected a bigint in [0, 2^64)");
    *out = u;
    return Status::Ok();
  }
  if (v.IsNumber()) {
    const double d = v.As<Napi::Number>().DoubleValue();
    if (!(d >= 0 && d <= 9007199254740991.0) || std::floor(d) != d)
      return make_status(Code::kRange, std::string(op_) + ": " + name +
                                           ": expected a non-negative safe integer or a bigint");
    *out = uint64_t(d);
    return Status::Ok();
  }
  return arg_error(op_, std::string(name) + ": expected a number or bigint but received " + type_of(v));
}

Status same_device(const char* op, std::initializer_list<const TensorView*> views) {
  const TensorView* first = nullptr;
  for (const TensorView* v : views) {
    if (!v) continue;
    if (!first) {
      first = v;
    } else if (v->device != first->device) {
      auto name = [](int d) { return d < 0 ? std::string("cpu") : "cuda:" + std::to_string(d); };
      return make_status(Code::kDevice, std::string(op) + ": all tensors must be on one device, " +
                                            "received " + name(first->device) + " and " + name(v->device));
    }
  }
  return Status::Ok();
}

std::vector<InitFn>& registry() {
  static std::vector<InitFn> fns;
  return fns;
}

// ---- init (registered like any op) ------------------------------------------------------------

void init_env(Napi::Env env, Napi::Object exports) {
  env.SetInstanceData<EnvData>(new EnvData());
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

// Backend report, thread-pool control and CUDA device memory for lib/tensor.ts and lib/backend.ts.
#include <cstring>

#include "../core/thread_pool.h"
#include "napi_util.h"

#if MMPREF_HAVE_CUDA
#include "../core/cuda_api.h"
#endif

#ifndef MMPREF_VERSION
#define MMPREF_VERSION "0.0.0"
#endif

namespace mmpref::napi {
namespace {

Napi::Value throw_status(Napi::Env env, const Status& st) {
  make_error(env, st).ThrowAsJavaScriptException();
  return env.Undefined();
}

// backendInfo() -> { version, compiledWithCuda, cpu: {threads, simd}, cuda: {...} }
Napi::Value backend_info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object r = Napi::Object::New(env);
  r.Set("version", MMPREF_VERSION);
  Napi::Object cpu = Napi::Object::New(env);
  cpu.Set("threads", num_threads());
  cpu.Set("simd", cpu_simd_level());
  r.Set("cpu", cpu);
  Napi::Object cu = Napi::Object::New(env);
  Napi::Array devs = Napi::Array::New(env);
#if MMPREF_HAVE_CUDA
  r.Set("compiledWithCuda", true);
  const cuda::Probe& p = cuda::probe();
  cu.Set("available", p.available);
  cu.Set("reason", p.available ? env.Null() : Napi::Value(Napi::String::New(env, p.reason)));
  cu.Set("runtimeVersion", p.runtime_version);
  cu.Set("driverVersion", p.driver_version);
  for (size_t i = 0; i < p.devices.size(); ++i) {
    const cuda::DeviceInfo& d = p.devices[i];
    Napi::Object o = Napi::Object::New(env);
    o.Set("index", d.index);
    o.Set("name", d.name);
    o.Set("computeCapability", std::to_string(d.major) + "." + std::to_string(d.minor));
    o.Set("totalMemory", double(d.total_memory));
    o.Set("multiProcessors", d.multiprocessors);
    devs.Set(uint32_t(i), o);
  }
#else
  r.Set("compiledWithCuda", false);
  cu.Set("available", false);
  cu.Set("reason", "this build of mmpref was compiled without CUDA (nvcc was not found at build time)");
  cu.Set("runtimeVersion", 0);
  cu.Set("driverVersion", 0);
#endif
  cu.Set("devices", devs);
  r.Set("cuda", cu);
  return r;
}

Napi::Value set_threads(const Napi::CallbackInfo& info) {
  Args a(info, "setNumThreads");
  int64_t n = 0;
  MMPREF_NAPI_TRY(info.Env(), a.integer(0, "threads", 1, 1024, &n));
  set_num_threads(int(n));
  return Napi::Number::New(info.Env(), num_threads());
}

Napi::Value get_threads(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), num_threads());
}

#if MMPREF_HAVE_CUDA
Status check_device(const char* op, int64_t device) {
  const cuda::Probe& p = cuda::probe();
  if (!p.available) return make_status(Code::kDevice, std::string(op) + ": CUDA is not available: " + p.reason);
  // By device number, not list position: the probe skips a device it could not query.
  for (const cuda::DeviceInfo& d : p.devices)
    if (d.index == device) return Status::Ok();
  return make_status(Code::kDevice, std::string(op) + ": no device cuda:" + std::to_string(device) + " (found " +
                                        std::to_string(p.devices.size()) + ")");
}

// deviceAlloc(device, bytes) -> External
Napi::Value device_alloc(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Args a(info, "deviceAlloc");
  int64_t device = 0, bytes = 0;
  MMPREF_NAPI_TRY(env, a.integer(0, "device", 0, 1023, &device));
  MMPREF_NAPI_TRY(env, a.integer(1, "bytes", 0, int64_t(1) << 50, &bytes));
  MMPREF_NAPI_TRY(env, check_device("deviceAlloc", device));
  auto buf = std::make_shared<DeviceBuffer>();
  buf->device = int(device);
  buf->bytes = size_t(bytes);
  MMPREF_NAPI_TRY(env, cuda::malloc(int(device), size_t(bytes), &buf->ptr));
  return make_device_buffer_external(env, std::move(buf));
}

// Reads a host typed array's pointer and byte length (never its ArrayBuffer: SAB-safe).
Status host_view(Napi::Env env, const Napi::Value& v, const char* what, void** data, size_t* bytes) {
  if (!v.IsTypedArray()) return make_status(Code::kArgument, std::string(what) + ": expected a typed array");
  napi_typedarray_type tt;
  size_t len = 0, off = 0;
  napi_value ab = nullptr;
  if (napi_get_typedarray_info(env, v, &tt, &len, data, &ab, &off) != napi_ok)
    return make_status(Code::kArgument, std::string(what) + ": could not read typed array");
  *bytes = len * size_t(v.As<Napi::TypedArray>().ElementSize());
  return Status::Ok();
}

// copyHostToDevice(ext, typedArray) / copyDeviceToHost(typedArray, ext): whole buffer.
Napi::Value copy_h2d(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2) return throw_status(env, arg_error("copyHostToDevice", "expected 2 arguments"));
  std::shared_ptr<DeviceBuffer> buf;
  MMPREF_NAPI_TRY(env, read_device_buffer(env, info[0], "copyHostToDevice: dst", &buf));
  void* src = nullptr;
  size_t bytes = 0;
  MMPREF_NAPI_TRY(env, host_view(env, info[1], "copyHostToDevice: src", &src, &bytes));
  if (bytes != buf->bytes)
    return throw_status(env, make_status(Code::kShape, "copyHostToDevice: size mismatch (" +
                                                           std::to_string(bytes) + " vs " +
                                                           std::to_string(buf->bytes) + " bytes)"));
  MMPREF_NAPI_TRY(env, cuda::memcpy_h2d(buf->device, buf->ptr, src, bytes));
  return env.Undefined();
}

Napi::Value copy_d2h(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2) return throw_status(env, arg_error("copyDeviceToHost", "expected 2 arguments"));
  void* dst = nullptr;
  size_t bytes = 0;
  MMPREF_NAPI_TRY(env, host_view(env, info[0], "copyDeviceToHost: dst", &dst, &bytes));
  std::shared_ptr<DeviceBuffer> buf;
  MMPREF_NAPI_TRY(env, read_device_buffer(env, info[1], "copyDeviceToHost: src", &buf));
  if (bytes != buf->bytes)
    return throw_status(env, make_status(Code::kShape, "copyDeviceToHost: size mismatch (" +
                                                           std::to_string(bytes) + " vs " +
                                                           std::to_string(buf->bytes) + " bytes)"));
  MMPREF_NAPI_TRY(env, cuda::memcpy_d2h(buf->device, dst, buf->ptr, bytes));
  return env.Undefined();
}

// A byte range [offset, offset + bytes) of a device buffer: the optional trailing arguments of
// copyDeviceToDevice / deviceMemset (whole buffers without them).
Status byte_range(const Args& a, const char* op, size_t first, const char* name, const DeviceBuffer& buf, int64_t* offset, int64_t bytes) {
  MMPREF_RETURN_IF_ERROR(a.integer(first, name, 0, int64_t(1) << 50, offset));
  if (*offset + bytes > int64_t(buf.bytes))
    return make_status(Code::kRange, std::string(op) + ": expected " + name + " + bytes <= " + std::to_string(buf.bytes) + " but received " +
                                         std::to_string(*offset) + " + " + std::to_string(bytes));
  return Status::Ok();
}

// copyDeviceToDevice(dstExt, srcExt[, dstOffset, srcOffset, bytes]): the whole buffer, or a byte
// range of it (ranges of one buffer must not overlap)
Napi::Value copy_d2d(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 2 && info.Length() != 5) return throw_status(env, arg_error("copyDeviceToDevice", "expected 2 or 5 arguments"));
  std::shared_ptr<DeviceBuffer> dst, src;
  MMPREF_NAPI_TRY(env, read_device_buffer(env, info[0], "copyDeviceToDevice: dst", &dst));
  MMPREF_NAPI_TRY(env, read_device_buffer(env, info[1], "copyDeviceToDevice: src", &src));
  if (dst->device != src->device) return throw_status(env, make_status(Code::kDevice, "copyDeviceToDevice: expected one device"));
  int64_t d_off = 0, s_off = 0, bytes = int64_t(dst->bytes);
  if (info.Length() == 5) {
    Args a(info, "copyDeviceToDevice");
    MMPREF_NAPI_TRY(env, a.integer(4, "bytes", 0, int64_t(1) << 50, &bytes));
    MMPREF_NAPI_TRY(env, byte_range(a, "copyDeviceToDevice", 2, "dstOffset", *dst, &d_off, bytes));
    MMPREF_NAPI_TRY(env, byte_range(a, "copyDeviceToDevice", 3, "srcOffset", *src, &s_off, bytes));
    if (dst == src && d_off < s_off + bytes && s_off < d_off + bytes)
      return throw_status(env, arg_error("copyDeviceToDevice", "expected disjoint ranges of one buffer"));
  } else if (dst->bytes != src->bytes) {
    return throw_status(env, make_status(Code::kShape, "copyDeviceToDevice: size or device mismatch"));
  }
  if (bytes > 0)
    MMPREF_NAPI_TRY(env, cuda::memcpy_d2d(dst->device, static_cast<char*>(dst->ptr) + d_off, static_cast<const char*>(src->ptr) + s_off, size_t(bytes)));
  return env.Undefined();
}

// deviceMemset(ext, byteValue[, offset, bytes])
Napi::Value device_memset(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Args a(info, "deviceMemset");
  std::shared_ptr<DeviceBuffer> buf;
  if (info.Length() != 2 && info.Length() != 4) return throw_status(env, arg_error("deviceMemset", "expected 2 or 4 arguments"));
  MMPREF_NAPI_TRY(env, read_device_buffer(env, info[0], "deviceMemset: dst", &buf));
  int64_t value = 0, off = 0, bytes = int64_t(buf->bytes);
  MMPREF_NAPI_TRY(env, a.integer(1, "value", 0, 255, &value));
  if (info.Length() == 4) {
    MMPREF_NAPI_TRY(env, a.integer(3, "bytes", 0, int64_t(1) << 50, &bytes));
    MMPREF_NAPI_TRY(env, byte_range(a, "deviceMemset", 2, "offset", *buf, &off, bytes));
  }
  if (bytes > 0) MMPREF_NAPI_TRY(env, cuda::memset(buf->device, static_cast<char*>(buf->ptr) + off, int(value), size_t(bytes)));
  return env.Undefined();
}

// deviceMemInfo(device) -> { free, total }
Napi::Value device_mem_info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Args a(info, "deviceMemInfo");
  int64_t device = 0;
  MMPREF_NAPI_TRY(env, a.integer(0, "device", 0, 1023, &device));
  MMPREF_NAPI_TRY(env, check_device("deviceMemInfo", device));
  uint64_t f = 0, t = 0;
  MMPREF_NAPI_TRY(env, cuda::mem_info(int(device), &f, &t));
  Napi::Object o = Napi::Object::New(env);
  o.Set("free", double(f));
  o.Set("total", double(t));
  const cuda::CacheStats cs = cuda::cache_stats(int(device));
  o.Set("allocated", double(cs.allocated));
  o.Set("cached", double(cs.cached));
  return o;
}

// deviceEmptyCache(): returns cached blocks to the driver.
Napi::Value device_empty_cache(const Napi::CallbackInfo& info) {
  cuda::empty_cache();
  return info.Env().Undefined();
}
#endif

// deviceFree(ext): dispose() of a CUDA tensor. Safe to call twice.
Napi::Value device_free(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !release_device_buffer_external(env, info[0]))
    return throw_status(env, arg_error("deviceFree", "expected CUDA tensor storage"));
  return env.Undefined();
}

void init_runtime(Napi::Env env, Napi::Object exports) {
  exports.Set("backendInfo", Napi::Function::New(env, backend_info, "backendInfo"));
  exports.Set("setNumThreads", Napi::Function::New(env, set_threads, "setNumThreads"));
  exports.Set("numThreads", Napi::Function::New(env, get_threads, "numThreads"));
  exports.Set("deviceFree", Napi::Function::New(env, device_free, "deviceFree"));
#if MMPREF_HAVE_CUDA
  exports.Set("deviceAlloc", Napi::Function::New(env, device_alloc, "deviceAlloc"));
  exports.Set("copyHostToDevice", Napi::Function::New(env, copy_h2d, "copyHostToDevice"));
  exports.Set("copyDeviceToHost", Napi::Function::New(env, copy_d2h, "copyDeviceToHost"));
  exports.Set("copyDeviceToDevice", Napi::Function::New(env, copy_d2d, "copyDeviceToDevice"));
  exports.Set("deviceMemset", Napi::Function::New(env, device_memset, "deviceMemset"));
  exports.Set("deviceMemInfo", Napi::Function::New(env, device_mem_info, "deviceMemInfo"));
  exports.Set("deviceEmptyCache", Napi::Function::New(env, device_empty_cache, "deviceEmptyCache"));
#endif
}

}  // namespace

MMPREF_REGISTER_BINDING(init_runtime);

}  // namespace mmpref::napi

#include "op_call.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <utility>

namespace mmpref::napi {

namespace {

napi_typedarray_type typed_array_for(DType t) {
  switch (t) {
    case DType::kFloat32: return napi_float32_array;
    case DType::kFloat16:
    case DType::kBFloat16: return napi_uint16_array;
    case DType::kInt32: return napi_int32_array;
    case DType::kInt64: return napi_bigint64_array;
    default: return napi_uint8_array;
  }
}

size_t element_bytes(napi_typedarray_type t) {
  switch (t) {
    case napi_int8_array:
    case napi_uint8_array:
    case napi_uint8_clamped_array: return 1;
    case napi_int16_array:
    case napi_uint16_array: return 2;
    case napi_int32_array:
    case napi_uint32_array:
    case napi_float32_array: return 4;
    default: return 8;
  }
}

std::string dtype_list(uint32_t mask) {
  std::string s;
  int n = 0, seen = 0;
  for (int c = 0; c < kNumDTypes; ++c) n += (mask >> c) & 1;
  for (int c = 0; c < kNumDTypes; ++c) {
    if (!((mask >> c) & 1)) continue;
    s += (seen == 0 ? "" : seen == n - 1 ? " or " : ", ");
    s += dtype_name(DType(c));
    ++seen;
  }
  return s;
}

std::string describe(napi_env env, napi_value v) { return type_of(Napi::Value(env, v)); }

// A getter that threw leaves a pending exception: clear it, the caller reports a Status instead.
void clear_exception(napi_env env) {
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (pending) {
    napi_value e;
    napi_get_and_clear_last_exception(env, &e);
  }
}

Status run_guarded(Job* job) {
  try {
    return job->run();
  } catch (const std::bad_alloc&) {
    return make_status(Code::kOom, "out of host memory");
  } catch (const std::exception& e) {
    return make_status(Code::kArgument, e.what());
  } catch (...) {
    return make_status(Code::kArgument, "unknown native error");
  }
}

void release(napi_env env, Job* job) {
  for (napi_ref r : job->refs) napi_delete_reference(env, r);
  job->refs.clear();
  for (HostCopy& c : job->copies)
    if (c.source) napi_delete_reference(env, c.source), c.source = nullptr;
}

// Async, on the main thread: written host copies go back into their typed arrays, which must
// still hold the same bytes (a detached or shrunk buffer gets nothing: ERR_DETACHED).
Status copy_back(napi_env env, Job* job) {
  for (HostCopy& c : job->copies) {
    if (!c.source) continue;
    napi_value ta = nullptr, ab = nullptr;
    napi_typedarray_type type;
    size_t len = 0, off = 0;
    void* data = nullptr;
    if (napi_get_reference_value(env, c.source, &ta) != napi_ok || ta == nullptr ||
        napi_get_typedarray_info(env, ta, &type, &len, &data, &ab, &off) != napi_ok ||
        len * element_bytes(type) != c.size || data == nullptr)
      return make_status(Code::kDetached, std::string(c.op) + ": expected " + c.name +
                                              "'s buffer to stay attached until the Async op settled but it was detached or "
                                              "resized meanwhile; the result was dropped");
    std::memcpy(data, c.bytes.get(), c.size);
  }
  return Status::Ok();
}

struct Pending {
  napi_async_work work = nullptr;
  napi_deferred deferred = nullptr;
  std::unique_ptr<Job> job;
  Status status;
};

void execute(napi_env, void* data) {
  auto* p = static_cast<Pending*>(data);
  p->status = run_guarded(p->job.get());
}

// Only C N-API calls whose failure is ignored, and every C++ exception caught: during worker
// teardown JS cannot run, settling the promise fails, and that must not abort the process.
void complete(napi_env env, napi_status status, void* data) {
  std::unique_ptr<Pending> p(static_cast<Pending*>(data));
  Status st = p->status;
  if (status != napi_ok && st.ok()) st = make_status(Code::kArgument, "the operation was cancelled");
  try {
    if (st.ok()) st = copy_back(env, p->job.get());
    if (st.ok()) {
      Napi::Value r = p->job->result(Napi::Env(env));
      if (napi_resolve_deferred(env, p->deferred, r) != napi_ok) clear_exception(env);
    } else {
      Napi::Error e = make_error(Napi::Env(env), st);
      if (napi_reject_deferred(env, p->deferred, e.Value()) != napi_ok) clear_exception(env);
    }
  } catch (...) {
    clear_exception(env);
  }
  release(env, p->job.get());
  napi_delete_async_work(env, p->work);
}

}  // namespace

// ---- Call -------------------------------------------------------------------------------------

Status Call::error(Code code, const std::string& msg) const {
  return make_status(code, std::string(decl_.label) + ": " + msg);
}

Status Call::read() {
  const int n = decl_.count;
  if (n > kMaxArgs) return error(Code::kArgument, "too many declared arguments");
  if (info_.Length() != size_t(n) + 1) {
    std::string names;
    for (int i = 0; i < n; ++i) names += std::string(decl_.args[i].name) + ", ";
    return error(Code::kArgument, "expected " + std::to_string(n + 1) + " arguments (" + names + "then the async flag) but received " +
                                      std::to_string(info_.Length()));
  }
  Napi::Value flag = info_[n];
  if (!flag.IsBoolean())
    return error(Code::kArgument, "expected the async flag (a boolean) last but received " + type_of(flag));
  async_ = flag.As<Napi::Boolean>().Value();

  // 1. every JS value: getters, proxies and shape entries run here, before any pointer exists
  for (int i = 0; i < n; ++i) MMPREF_RETURN_IF_ERROR(read_js(i));
  // 2. pointers: from here on no JS runs until the op has its memory
  for (int i = 0; i < n; ++i)
    if (decl_.args[i].kind == ArgKind::kTensor && v_[i].present) MMPREF_RETURN_IF_ERROR(take_tensor(i));
  MMPREF_RETURN_IF_ERROR(check_shapes());
  MMPREF_RETURN_IF_ERROR(check_overlaps());
  for (int i = 0; i < n; ++i)
    if (decl_.args[i].kind == ArgKind::kTensor && v_[i].present) MMPREF_RETURN_IF_ERROR(copy_host(i));
  return Status::Ok();
}

Status Call::read_js(int i) {
  napi_env env = info_.Env();
  const ArgDecl& a = decl_.args[i];
  Value& v = v_[i];
  napi_value x = info_[i];
  napi_valuetype ty;
  napi_typeof(env, x, &ty);
  const auto expected = [&](const char* want) {
    return error(Code::kArgument, std::string("expected ") + want + " for " + a.name + " but received " + describe(env, x));
  };
  switch (a.kind) {
    case ArgKind::kNumber:
    case ArgKind::kInteger: {
      if (ty != napi_number) return expected("a number");
      napi_get_value_double(env, x, &v.num);
      if (a.kind == ArgKind::kInteger) {
        if (!(std::floor(v.num) == v.num && v.num >= double(a.lo) && v.num <= double(a.hi)))
          return error(Code::kRange, std::string("expected ") + a.name + " to be an integer in [" + std::to_string(a.lo) +
                                         ", " + std::to_string(a.hi) + "] but received " + std::to_string(v.num));
        v.i64 = int64_t(v.num);
      }
      v.present = true;
      return check_range(i);
    }
    case ArgKind::kBoolean:
      if (ty != napi_boolean) return expected("a boolean");
      napi_get_value_bool(env, x, &v.flag);
      v.present = true;
      return Status::Ok();
    case ArgKind::kString: {
      if (ty != napi_string) return expected("a string");
      v.str = Napi::Value(env, x).As<Napi::String>().Utf8Value();
      v.present = true;
      return Status::Ok();
    }
    case ArgKind::kU64: {
      if (ty == napi_bigint) {
        bool lossless = false;
        napi_get_value_bigint_uint64(env, x, &v.u, &lossless);
        if (!lossless)
          return error(Code::kRange, std::string("expected ") + a.name + " in [0, 2^64) but received another bigint");
      } else if (ty == napi_number) {
        double d = 0;
        napi_get_value_double(env, x, &d);
        if (!(d >= 0 && d <= 9007199254740991.0) || std::floor(d) != d)
          return error(Code::kRange, std::string("expected ") + a.name +
                                         " to be a non-negative safe integer or a bigint but received " + std::to_string(d));
        v.u = uint64_t(d);
      } else {
        return expected("a number or bigint");
      }
      v.present = true;
      return Status::Ok();
    }
    case ArgKind::kDims: {
      bool arr = false;
      napi_is_array(env, x, &arr);
      if (!arr) return expected("an array of integers");
      uint32_t len = 0;
      napi_get_array_length(env, x, &len);
      if (len > uint32_t(kMaxDims))
        return error(Code::kShape, std::string("expected ") + a.name + " with at most " + std::to_string(kMaxDims) + " entries but received " +
                                       std::to_string(len));
      for (uint32_t k = 0; k < len; ++k) {
        napi_value e;
        double d = 0;
        if (napi_get_element(env, x, k, &e) != napi_ok) {
          clear_exception(env);
          return error(Code::kArgument, std::string("expected ") + a.name + " to be readable but reading it threw");
        }
        if (napi_get_value_double(env, e, &d) != napi_ok || std::floor(d) != d || std::fabs(d) > 9007199254740991.0)
          return error(Code::kRange, std::string("expected ") + a.name + " entries to be integers but received " + describe(env, e));
        v.dims.push_back(int64_t(d));
      }
      v.present = true;
      return Status::Ok();
    }
    case ArgKind::kU64Array: {
      if (ty == napi_undefined || ty == napi_null) return Status::Ok();
      bool is_ta = false;
      napi_is_typedarray(env, x, &is_ta);
      napi_typedarray_type tt = napi_int8_array;
      size_t len = 0, off = 0;
      void* data = nullptr;
      napi_value ab;
      if (is_ta) napi_get_typedarray_info(env, x, &tt, &len, &data, &ab, &off);
      if (!is_ta || tt != napi_biguint64_array) return expected("null or a BigUint64Array");
      if (len > 0 && data == nullptr) return error(Code::kDetached, std::string("expected ") + a.name + "'s ArrayBuffer to be attached but received a detached one");
      const uint64_t* p = static_cast<const uint64_t*>(data);
      v.u64s.assign(p, p + len);  // copied now: later getters or writers cannot change it
      v.present = true;
      return Status::Ok();
    }
    case ArgKind::kTensor: break;
  }

  if (ty == napi_undefined || ty == napi_null) {
    if (a.flags & kOptional) return Status::Ok();
    return expected("a Tensor");
  }
  bool is_ta = false;
  napi_is_typedarray(env, x, &is_ta);
  if (ty != napi_object || is_ta) return expected("a Tensor");
  if (!have_keys_) {
    if (!tensor_keys(env, keys_)) return error(Code::kArgument, "the addon was not initialised");
    have_keys_ = true;
  }
  napi_value f[kTensorKeyCount];
  for (int k = 0; k < kTensorKeyCount; ++k)
    if (napi_get_property(env, x, keys_[k], &f[k]) != napi_ok) {
      clear_exception(env);
      return error(Code::kArgument, std::string("expected a Tensor for ") + a.name + " but reading its fields threw");
    }
  if (napi_get_value_double(env, f[0], &v.code) != napi_ok) return expected("a Tensor");
  if (napi_get_value_double(env, f[2], &v.device) != napi_ok) v.device = -2;
  v.store = f[3];

  // shape: at most kMaxDims non-negative integers, product checked for int64 overflow
  bool is_array = false;
  napi_is_array(env, f[1], &is_array);
  if (!is_array) return error(Code::kShape, std::string("expected ") + a.name + "'s shape to be an array but received " + describe(env, f[1]));
  uint32_t nd = 0;
  napi_get_array_length(env, f[1], &nd);
  if (nd > uint32_t(kMaxDims))
    return error(Code::kShape, std::string("expected ") + a.name + " with at most " + std::to_string(kMaxDims) +
                                   " dimensions but received " + std::to_string(nd));
  TensorView& t = v.t;
  t.ndim = int(nd);
  int64_t numel = 1;
  for (uint32_t d = 0; d < nd; ++d) {
    napi_value e;
    double dv = -1;
    if (napi_get_element(env, f[1], d, &e) != napi_ok) {
      clear_exception(env);
      return error(Code::kShape, std::string("expected ") + a.name + "'s shape to be readable but reading it threw");
    }
    if (napi_get_value_double(env, e, &dv) != napi_ok) dv = -1;
    if (!(dv >= 0 && dv <= 9007199254740992.0) || std::floor(dv) != dv)
      return error(Code::kShape, std::string("expected ") + a.name + "'s shape entries to be non-negative integers but received " +
                                     describe(env, e) + (napi_get_value_double(env, e, &dv) == napi_ok ? " " + std::to_string(dv) : ""));
    t.shape[d] = int64_t(dv);
    if (__builtin_mul_overflow(numel, t.shape[d], &numel))
      return error(Code::kShape, std::string("expected ") + a.name + "'s element count to fit int64 but its shape overflows");
  }
  t.numel = numel;
  v.present = true;
  return Status::Ok();
}

Status Call::take_tensor(int i) {
  napi_env env = info_.Env();
  const ArgDecl& a = decl_.args[i];
  Value& v = v_[i];
  TensorView& t = v.t;
  const std::string w = a.name;
  if (!(std::floor(v.code) == v.code && dtype_valid(int32_t(v.code))))
    return error(Code::kDtype, "expected " + w + " of a known dtype but received dtype code " + std::to_string(v.code));
  t.dtype = DType(int(v.code));
  if (!(a.dtypes & (1u << int(t.dtype))))
    return error(Code::kDtype, "expected " + w + " of dtype " + dtype_list(a.dtypes) + " but received " + dtype_name(t.dtype));
  int64_t nbytes = 0;
  if (__builtin_mul_overflow(t.numel, int64_t(dtype_size(t.dtype)), &nbytes))
    return error(Code::kShape, "expected " + w + "'s byte size to fit int64 but received shape " + shape_str(t));
  if (!(v.device >= -1 && v.device < 1024) || std::floor(v.device) != v.device)
    return error(Code::kDevice, "expected " + w + " on cpu (-1) or a CUDA device (0..1023) but received device " + std::to_string(v.device));
  t.device = int(v.device);
  napi_valuetype sty;
  napi_typeof(env, v.store, &sty);
  if (sty == napi_undefined || sty == napi_null)
    return error(Code::kDetached, "expected " + w + " to be a live tensor but received a disposed one");

  if (t.device < 0) {
    bool is_ta = false;
    napi_is_typedarray(env, v.store, &is_ta);
    if (!is_ta) return error(Code::kArgument, "expected " + w + "'s host storage to be a typed array but received " + describe(env, v.store));
    napi_typedarray_type tt;
    size_t len = 0, off = 0;
    void* data = nullptr;
    napi_value ab = nullptr;
    if (napi_get_typedarray_info(env, v.store, &tt, &len, &data, &ab, &off) != napi_ok)
      return error(Code::kArgument, "expected " + w + "'s typed array to be readable");
    if (tt != typed_array_for(t.dtype))
      return error(Code::kDtype, "expected " + w + "'s storage to match dtype " + dtype_name(t.dtype) + " but received another typed array");
    bool is_ab = false, detached = false;
    napi_is_arraybuffer(env, ab, &is_ab);  // false for a SharedArrayBuffer (never detaches)
    if (is_ab) napi_is_detached_arraybuffer(env, ab, &detached);
    const int64_t have = int64_t(len) * dtype_size(t.dtype);
    if (detached || (nbytes > 0 && data == nullptr))
      return error(Code::kDetached, "expected " + w + "'s ArrayBuffer to be attached but received a detached one");
    if (have != nbytes)
      return error(Code::kShape, "expected " + w + "'s buffer to match its shape: shape " + shape_str(t) + " of " + dtype_name(t.dtype) +
                                     " needs " + std::to_string(nbytes) + " bytes but its buffer view holds " + std::to_string(have));
    t.data = data;
    v.shared = !is_ab;
    v.typed_array = v.store;
  } else {
    std::shared_ptr<DeviceBuffer> buf;
    MMPREF_RETURN_IF_ERROR(read_device_buffer(Napi::Env(env), Napi::Value(env, v.store), std::string(decl_.label) + ": " + w, &buf));
    if (buf->device != t.device)
      return error(Code::kDevice, "expected " + w + "'s memory on cuda:" + std::to_string(t.device) + " but received memory on cuda:" +
                                      std::to_string(buf->device));
    if (int64_t(buf->bytes) < nbytes)
      return error(Code::kShape, "expected " + w + "'s device buffer to hold " + std::to_string(nbytes) + " bytes (shape " + shape_str(t) +
                                     ") but received " + std::to_string(buf->bytes));
    t.data = buf->ptr;
    job_->dev_refs.push_back(std::move(buf));
  }
  orig_[i] = t.data;
  return Status::Ok();
}

Status Call::check_overlaps() const {
  for (int i = 0; i < decl_.count; ++i) {
    const ArgDecl& a = decl_.args[i];
    if (a.kind != ArgKind::kTensor || !(a.flags & kWrite) || !v_[i].present) continue;
    const TensorView& o = v_[i].t;
    const char* ob = static_cast<const char*>(o.data);
    const int64_t on = o.nbytes();
    for (int j = 0; j < decl_.count; ++j) {
      if (j == i || decl_.args[j].kind != ArgKind::kTensor || !v_[j].present) continue;
      const TensorView& u = v_[j].t;
      const char* ub = static_cast<const char*>(u.data);
      const int64_t un = u.nbytes();
      if (u.device != o.device || on == 0 || un == 0 || !(ob < ub + un && ub < ob + on)) continue;
      const bool may = (a.in_place >> j) & 1u;
      if (may && ob == ub && on == un && o.dtype == u.dtype) continue;
      if (may)
        return error(Code::kArgument, std::string("expected ") + a.name + " to be " + decl_.args[j].name + " itself (in place) or disjoint from it, but " +
                                          a.name + " overlaps " + decl_.args[j].name + " without being it");
      return error(Code::kArgument, std::string("expected ") + a.name + " disjoint from " + decl_.args[j].name + " but received one that shares memory with it" +
                                        " (this op does not work in place on it)");
    }
  }
  return Status::Ok();
}

Status Call::copy_host(int i) {
  napi_env env = info_.Env();
  const ArgDecl& a = decl_.args[i];
  Value& v = v_[i];
  TensorView& t = v.t;
  const size_t nb = size_t(t.nbytes());
  if (t.device >= 0 || nb == 0) return Status::Ok();
  const bool write = a.flags & kWrite;
  if (!(a.flags & kIndex) && !(async_ && !v.shared)) {
    // in place (sync, or a SharedArrayBuffer): Async keeps the view alive with a reference
    if (async_) {
      napi_ref r;
      if (napi_create_reference(env, v.typed_array, 1, &r) != napi_ok) return error(Code::kArgument, "could not reference " + std::string(a.name));
      job_->refs.push_back(r);
    }
    return Status::Ok();
  }
  // an output that is exactly an earlier (copied) input shares its copy
  if (write)
    for (int j = 0; j < i; ++j)
      if (decl_.args[j].kind == ArgKind::kTensor && v_[j].present && orig_[j] == orig_[i] && v_[j].t.nbytes() == t.nbytes() &&
          v_[j].t.device < 0 && v_[j].t.data != orig_[j]) {
        t.data = v_[j].t.data;
        for (HostCopy& c : job_->copies)
          if (c.bytes.get() == t.data && !c.source) {
            if (napi_create_reference(env, v.typed_array, 1, &c.source) != napi_ok) return error(Code::kArgument, "could not reference " + std::string(a.name));
            c.name = a.name;
            c.op = decl_.label;
          }
        return Status::Ok();
      }
  HostCopy c;
  c.bytes.reset(new (std::nothrow) uint8_t[nb]);
  if (!c.bytes) return error(Code::kOom, "expected " + std::to_string(nb) + " bytes of host memory for a copy of " + a.name + " but the allocation failed");
  std::memcpy(c.bytes.get(), t.data, nb);
  c.size = nb;
  c.name = a.name;
  c.op = decl_.label;
  if (write && napi_create_reference(env, v.typed_array, 1, &c.source) != napi_ok)
    return error(Code::kArgument, "could not reference " + std::string(a.name));
  t.data = c.bytes.get();
  job_->copies.push_back(std::move(c));
  return Status::Ok();
}

// ---- declared shapes and ranges (the same rules and messages as lib/op_call.ts checkDeclared) ----

namespace {

// A number as JavaScript's String(v) writes it (shortest round trip, "1e-7", "1e+21").
std::string js_number(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "Infinity" : "-Infinity";
  if (v == std::floor(v) && std::fabs(v) < 1e21) return std::to_string(int64_t(v));
  char buf[40];
  for (int p = 1; p <= 17; ++p) {
    std::snprintf(buf, sizeof buf, "%.*g", p, v);
    if (std::strtod(buf, nullptr) == v) break;
  }
  std::string s = buf;
  const size_t e = s.find('e');
  if (e != std::string::npos) {  // "1e-07" -> "1e-7"
    size_t d = e + 2;
    while (d + 1 < s.size() && s[d] == '0') s.erase(d, 1);
  }
  return s;
}

std::string dims_str(const int64_t* d, int n) {
  std::string s = "[";
  for (int i = 0; i < n; ++i) s += (i ? ", " : "") + std::to_string(d[i]);
  return s + "]";
}

}  // namespace

Status Call::check_range(int i) const {
  const NumRange* r = decl_.args[i].range;
  if (r == nullptr) return Status::Ok();
  const double x = v_[i].num;
  if (std::isnan(x)) return error(Code::kArgument, std::string("expected a number for ") + decl_.args[i].name + " but received number NaN");
  const bool bad = !std::isfinite(x) || ((r->has & kHasMin) && x < r->min) || ((r->has & kHasMax) && x > r->max) ||
                   ((r->has & kHasGt) && !(x > r->gt)) || ((r->has & kHasLt) && !(x < r->lt));
  if (!bad) return Status::Ok();
  return error(Code::kRange, std::string("expected ") + decl_.args[i].name + " " + r->text + " but received " + js_number(x));
}

// Pattern arguments in declaration order bind the named dims and the '...' group; then each `like`
// argument must have its reference's shape and dtype.
Status Call::check_shapes() {
  if (decl_.dim_count > kMaxNamedDims) return error(Code::kArgument, "too many declared dims");
  for (int k = 0; k < decl_.dim_count; ++k) dims_[k] = -1, dim_from_[k] = -1;
  lead_from_ = -1;
  lead_numel_ = 1;
  for (int i = 0; i < decl_.count; ++i)
    if (decl_.args[i].shape && v_[i].present) MMPREF_RETURN_IF_ERROR(check_pattern(i));
  for (int i = 0; i < decl_.count; ++i) {
    const int l = decl_.args[i].like;
    if (l < 0 || !v_[i].present || !v_[l].present) continue;
    MMPREF_RETURN_IF_ERROR(same_shape(i, l, true));
  }
  return Status::Ok();
}

Status Call::check_pattern(int i) {
  const ArgDecl& a = decl_.args[i];
  const TensorView& x = v_[i].t;
  const bool ell = a.shape_len > 0 && a.shape[0] == kEllipsis;
  const int fixed = a.shape_len - (ell ? 1 : 0);
  const auto plural = [](int n) { return std::to_string(n) + (n == 1 ? " dimension" : " dimensions"); };
  if (!ell && x.ndim != fixed)
    return error(Code::kShape, std::string("expected ") + a.name + " with " + plural(fixed) + " but received " + shape_str(x));
  if (ell && x.ndim < fixed)
    return error(Code::kShape, std::string("expected ") + a.name + " with at least " + plural(fixed) + " but received " +
                                   (x.ndim == 0 ? std::string("a scalar") : shape_str(x)));
  const int lead = x.ndim - fixed;
  // the expected shape: the bound group and dims where bound, this argument's own sizes elsewhere
  int64_t want[kMaxDims];
  int from = -1;
  bool ok = true;
  if (ell) {
    const TensorView* g = lead_from_ >= 0 ? &v_[lead_from_].t : nullptr;
    const int glead = g ? g->ndim - (decl_.args[lead_from_].shape_len - 1) : lead;
    if (g && glead != lead) ok = false, from = lead_from_;
    for (int d = 0; d < lead; ++d) {
      want[d] = g && d < glead ? g->shape[d] : x.shape[d];
      if (want[d] != x.shape[d] && ok) ok = false, from = lead_from_;
    }
    if (g && !ok) {  // a different group length: show the group as bound
      int n = 0;
      int64_t w[kMaxDims];
      for (int d = 0; d < glead && n < kMaxDims; ++d) w[n++] = g->shape[d];
      for (int j = 0; j < fixed && n < kMaxDims; ++j) w[n++] = x.shape[lead + j];
      if (glead != lead)
        return error(Code::kShape, std::string("expected ") + a.name + " of shape " + dims_str(w, n) + " (from " + name(from) + " " +
                                       shape_str(v_[from].t) + ") but received " + shape_str(x));
    }
  }
  for (int j = 0; j < fixed; ++j) {
    const int32_t e = a.shape[j + (ell ? 1 : 0)];
    const int64_t got = x.shape[lead + j];
    if (e >= 0) {
      want[lead + j] = e;
      if (got != e && ok) ok = false;
    } else {
      const int k = kNamedDim - e;
      want[lead + j] = dims_[k] >= 0 ? dims_[k] : got;
      if (want[lead + j] != got && ok) ok = false, from = dim_from_[k];
    }
  }
  if (!ok) {
    std::string msg = std::string("expected ") + a.name + " of shape " + dims_str(want, x.ndim);
    if (from >= 0) msg += std::string(" (from ") + name(from) + " " + shape_str(v_[from].t) + ")";
    return error(Code::kShape, msg + " but received " + shape_str(x));
  }
  // bind what was not bound
  if (ell && lead_from_ < 0) {
    lead_from_ = i;
    lead_numel_ = 1;  // NB: the leading dims may overflow int64 only when a later dim is 0
    for (int d = 0; d < lead; ++d)
      if (__builtin_mul_overflow(lead_numel_, x.shape[d], &lead_numel_))
        return error(Code::kShape, std::string("expected ") + a.name + "'s leading dims to fit int64 but received " + shape_str(x));
  }
  for (int j = 0; j < fixed; ++j) {
    const int32_t e = a.shape[j + (ell ? 1 : 0)];
    if (e >= 0) continue;
    const int k = kNamedDim - e;
    if (dims_[k] < 0) dims_[k] = x.shape[lead + j], dim_from_[k] = i;
  }
  return Status::Ok();
}

// ---- relation checks --------------------------------------------------------------------------

Status Call::same_shape(int a, int b, bool dtype) const {
  const TensorView &x = t(a), &y = t(b);
  bool same = x.ndim == y.ndim;
  for (int d = 0; same && d < x.ndim; ++d) same = x.shape[d] == y.shape[d];
  if (!same)
    return error(Code::kShape, std::string("expected ") + name(a) + " of shape " + shape_str(y) + " (from " + name(b) + ") but received " +
                                   shape_str(x));
  return dtype ? same_dtype(a, b) : Status::Ok();
}

Status Call::same_dtype(int a, int b) const {
  if (t(a).dtype == t(b).dtype) return Status::Ok();
  return error(Code::kDtype, std::string("expected ") + name(a) + " of dtype " + dtype_name(t(b).dtype) + " (from " + name(b) +
                                 ") but received " + dtype_name(t(a).dtype));
}

Status Call::shape_is(int a, std::initializer_list<int64_t> dims, const std::string& from) const {
  const TensorView& x = t(a);
  bool same = x.ndim == int(dims.size());
  int d = 0;
  for (int64_t e : dims) same = same && x.shape[d++] == e;
  if (same) return Status::Ok();
  std::string want = "[";
  d = 0;
  for (int64_t e : dims) want += (d++ ? ", " : "") + std::to_string(e);
  return error(Code::kShape, std::string("expected ") + name(a) + " of shape " + want + "] (from " + from + ") but received " + shape_str(x));
}

Status Call::numel_is(int a, int64_t n, const std::string& from) const {
  if (t(a).numel == n) return Status::Ok();
  return error(Code::kShape, std::string("expected ") + name(a) + " of " + std::to_string(n) + " elements (" + from + ") but received " +
                                 shape_str(t(a)));
}

Status Call::one_device() const {
  int first = -1;
  for (int i = 0; i < decl_.count; ++i) {
    if (decl_.args[i].kind != ArgKind::kTensor || !v_[i].present) continue;
    if (first < 0) {
      first = i;
    } else if (t(i).device != t(first).device) {
      auto dn = [](int d) { return d < 0 ? std::string("cpu") : "cuda:" + std::to_string(d); };
      return error(Code::kDevice, std::string("expected ") + name(i) + " on the same device as " + name(first) + " (" +
                                      dn(t(first).device) + ") but received " + dn(t(i).device));
    }
  }
  return Status::Ok();
}

Status Call::finite_in(int a, double lo, double hi) const {
  const double x = number(a);
  if (std::isfinite(x) && x >= lo && x <= hi) return Status::Ok();
  return error(Code::kRange, std::string("expected ") + name(a) + " in [" + std::to_string(lo) + ", " + std::to_string(hi) +
                                 "] but received " + std::to_string(x));
}

// ---- the generic entry point ------------------------------------------------------------------

Napi::Value run_op(const Napi::CallbackInfo& info, const OpDecl& decl, MakeJobFn make, PrepareFn prepare) {
  napi_env env = info.Env();
  std::unique_ptr<Job> job = make();
  Call c(info, decl, job.get());
  Status st = c.read();
  if (st.ok()) st = prepare(c, job.get());
  if (!st.ok()) {
    release(env, job.get());
    make_error(info.Env(), st).ThrowAsJavaScriptException();
    return info.Env().Undefined();
  }
  if (!c.async()) {
    st = run_guarded(job.get());
    if (!st.ok()) {
      make_error(info.Env(), st).ThrowAsJavaScriptException();
      return info.Env().Undefined();
    }
    return job->result(info.Env());
  }
  auto* p = new Pending();
  p->job = std::move(job);
  napi_value promise = nullptr, name = nullptr;
  if (napi_create_promise(env, &p->deferred, &promise) != napi_ok ||
      napi_create_string_utf8(env, decl.name, NAPI_AUTO_LENGTH, &name) != napi_ok ||
      napi_create_async_work(env, nullptr, name, execute, complete, p, &p->work) != napi_ok ||
      napi_queue_async_work(env, p->work) != napi_ok) {
    // NB: a created promise whose deferred is never settled is only a small leak on this error path
    release(env, p->job.get());
    if (p->work) napi_delete_async_work(env, p->work);
    delete p;
    clear_exception(env);
    make_error(info.Env(), make_status(Code::kArgument, std::string(decl.name) + ": could not queue the Async op")).ThrowAsJavaScriptException();
    return info.Env().Undefined();
  }
  return Napi::Value(env, promise);
}

namespace {
std::vector<std::pair<const char*, Napi::Value (*)(const Napi::CallbackInfo&)>>& ops() {
  static std::vector<std::pair<const char*, Napi::Value (*)(const Napi::CallbackInfo&)>> v;
  return v;
}
void init_ops(Napi::Env env, Napi::Object exports) {
  for (auto& [name, entry] : ops()) exports.Set(name, Napi::Function::New(env, entry, name));
}
}  // namespace

OpRegistrar::OpRegistrar(const OpDecl& decl, Napi::Value (*entry)(const Napi::CallbackInfo&)) {
  static Registrar once(init_ops);
  ops().emplace_back(decl.name, entry);
}

}  // namespace mmpref::napi

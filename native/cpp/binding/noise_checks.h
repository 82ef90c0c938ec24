// Argument checks shared by the random / noise bindings (random_fill, visual_tokens, diffuse,
// neftune, prediction_loss): shapes, aliasing, finite scalars. Each returns a Status whose
// message names the op and the argument.
#pragma once

#include <cmath>
#include <string>

#include "napi_util.h"

namespace mmpref::napi {

constexpr uint32_t kMaskDtypes = dtype_bit(DType::kBool) | dtype_bit(DType::kUInt8);

inline Status expect_ndim(const char* op, const char* name, const TensorView& v, int ndim) {
  if (v.ndim == ndim) return Status::Ok();
  return make_status(Code::kShape, std::string(op) + ": expected " + name + " with " + std::to_string(ndim) +
                                       " dimensions but received " + shape_str(v));
}

inline Status expect_shape_as(const char* op, const char* name, const TensorView& v, const char* ref_name,
                              const TensorView& ref) {
  bool same = v.ndim == ref.ndim;
  for (int d = 0; same && d < v.ndim; ++d) same = v.shape[d] == ref.shape[d];
  if (same) return Status::Ok();
  return make_status(Code::kShape, std::string(op) + ": expected " + name + " of shape " + shape_str(ref) +
                                       " (from " + ref_name + ") but received " + shape_str(v));
}

// A tensor of exactly the given leading dims (e.g. a mask [B, N] of x [B, N, D]).
inline Status expect_dims(const char* op, const char* name, const TensorView& v,
                          std::initializer_list<int64_t> dims, const char* from) {
  bool same = v.ndim == int(dims.size());
  int d = 0;
  for (int64_t e : dims) same = same && v.shape[d++] == e;
  if (same) return Status::Ok();
  std::string want = "[";
  d = 0;
  for (int64_t e : dims) want += (d++ ? ", " : "") + std::to_string(e);
  return make_status(Code::kShape, std::string(op) + ": expected " + name + " of shape " + want + "] (from " + from +
                                       ") but received " + shape_str(v));
}

inline Status expect_dtype_as(const char* op, const char* name, const TensorView& v, const TensorView& ref) {
  if (v.dtype == ref.dtype) return Status::Ok();
  return make_status(Code::kDtype, std::string(op) + ": expected " + name + " of dtype " + dtype_name(ref.dtype) +
                                       " but received " + dtype_name(v.dtype));
}

// An output may be its input exactly (in place) but must not partly overlap it.
inline Status expect_no_partial_overlap(const char* op, const char* name, const TensorView& out,
                                        const TensorView& in) {
  if (out.data == in.data || out.nbytes() == 0 || in.nbytes() == 0 || out.device != in.device)
    return Status::Ok();
  const char* o = static_cast<const char*>(out.data);
  const char* i = static_cast<const char*>(in.data);
  if (o < i + in.nbytes() && i < o + out.nbytes())
    return make_status(Code::kArgument, std::string(op) + ": " + name + " partly overlaps its input");
  return Status::Ok();
}

// An output must not share memory with an input at all.
inline Status expect_disjoint(const char* op, const char* name, const TensorView& out, const TensorView& in) {
  if (out.nbytes() == 0 || in.nbytes() == 0 || out.device != in.device) return Status::Ok();
  const char* o = static_cast<const char*>(out.data);
  const char* i = static_cast<const char*>(in.data);
  if (o < i + in.nbytes() && i < o + out.nbytes())
    return make_status(Code::kArgument, std::string(op) + ": " + name + " shares memory with an input");
  return Status::Ok();
}

// A finite float32-representable number in [lo, hi].
inline Status finite_in(const char* op, const char* name, double v, double lo, double hi) {
  if (std::isfinite(v) && v >= lo && v <= hi) return Status::Ok();
  return make_status(Code::kRange, std::string(op) + ": expected " + name + " in [" + std::to_string(lo) + ", " +
                                       std::to_string(hi) + "] but received " + std::to_string(v));
}

constexpr double kFloatMax = 3.4028234663852886e38;

}  // namespace mmpref::napi

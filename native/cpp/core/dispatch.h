// Float dtype dispatch for host code (CPU kernels, launchers): calls fn(T{}) with T = float,
// half_t or bfloat16_t, so a kernel is written once as a template:
//   return dispatch_float(a.dtype, "linear", [&](auto t) { run<decltype(t)>(a); });
// fn may return void or Status; any other dtype is ERR_DTYPE naming the op and the dtype received.
#pragma once

#include <string>
#include <type_traits>

#include "dtype.h"
#include "half.h"
#include "status.h"

namespace mmpref {

template <class F>
Status dispatch_float(DType dtype, const char* op, F&& fn) {
  auto call = [&](auto tag) -> Status {
    if constexpr (std::is_same_v<decltype(fn(tag)), Status>) {
      return fn(tag);
    } else {
      fn(tag);
      return Status::Ok();
    }
  };
  switch (dtype) {
    case DType::kFloat32: return call(float{});
    case DType::kFloat16: return call(half_t{});
    case DType::kBFloat16: return call(bfloat16_t{});
    default:
      return make_status(Code::kDtype, std::string(op) + ": expected float32, float16 or bfloat16 but received " +
                                           dtype_name(dtype));
  }
}

}  // namespace mmpref

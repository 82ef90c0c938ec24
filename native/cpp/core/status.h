// Status: how ops and launchers report failure. No C++ exception crosses into JS; only the binding
// turns a Status into an MmprefError with the matching code.
#pragma once

#include <string>
#include <utility>

namespace mmpref {

// Keep in sync with lib/errors.ts (ERROR_CODES) and binding/napi_util.cc (code_name).
enum class Code : int {
  kOk = 0,
  kShape,     // ERR_SHAPE
  kDtype,     // ERR_DTYPE
  kRange,     // ERR_RANGE
  kDevice,    // ERR_DEVICE (also CUDA runtime failures)
  kOom,       // ERR_OOM
  kDetached,  // ERR_DETACHED
  kArgument,  // ERR_ARGUMENT
};

struct Status {
  Code code = Code::kOk;
  std::string message;

  bool ok() const { return code == Code::kOk; }
  static Status Ok() { return {}; }
};

inline Status make_status(Code code, std::string message) { return Status{code, std::move(message)}; }

}  // namespace mmpref

#define MMPREF_RETURN_IF_ERROR(expr)        \
  do {                                      \
    ::mmpref::Status _mmpref_st = (expr);   \
    if (!_mmpref_st.ok()) return _mmpref_st; \
  } while (0)

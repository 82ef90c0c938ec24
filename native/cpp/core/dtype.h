// Element types. Codes are part of the JS<->native contract (lib/dtype.ts DTYPE_CODES).
#pragma once

#include <cstdint>

#include "hd.h"

namespace mmpref {

enum class DType : int32_t {
  kFloat32 = 0,
  kFloat16 = 1,   // IEEE binary16, stored as uint16 bits
  kBFloat16 = 2,  // bfloat16, stored as uint16 bits
  kInt32 = 3,
  kInt64 = 4,
  kUInt8 = 5,
  kBool = 6,  // one byte, 0 or 1
};
constexpr int kNumDTypes = 7;

MMPREF_HD int dtype_size(DType t) {
  switch (t) {
    case DType::kFloat32:
    case DType::kInt32: return 4;
    case DType::kFloat16:
    case DType::kBFloat16: return 2;
    case DType::kInt64: return 8;
    default: return 1;
  }
}

inline const char* dtype_name(DType t) {
  switch (t) {
    case DType::kFloat32: return "float32";
    case DType::kFloat16: return "float16";
    case DType::kBFloat16: return "bfloat16";
    case DType::kInt32: return "int32";
    case DType::kInt64: return "int64";
    case DType::kUInt8: return "uint8";
    case DType::kBool: return "bool";
  }
  return "unknown";
}

inline bool dtype_valid(int32_t code) { return code >= 0 && code < kNumDTypes; }

inline bool dtype_is_float(DType t) {
  return t == DType::kFloat32 || t == DType::kFloat16 || t == DType::kBFloat16;
}

}  // namespace mmpref

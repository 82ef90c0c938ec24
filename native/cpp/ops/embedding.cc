#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "../core/dispatch.h"
#include "../core/half.h"
#include "../core/thread_pool.h"
#include "embedding.h"

namespace mmpref {

Status embedding_cpu(const EmbeddingArgs& a) {
  const int64_t isz = dtype_size(a.dtype);
  // 1. validate every token first, so a bad one leaves the output untouched
  for (int64_t i = 0; i < a.N; ++i) {
    const int64_t tok = a.token_dtype == DType::kInt64 ? static_cast<const int64_t*>(a.tokens)[i]
                                                       : static_cast<const int32_t*>(a.tokens)[i];
    if (tok < 0 || tok >= a.V)
      return make_status(Code::kRange, "embedding: token " + std::to_string(tok) + " at index " + std::to_string(i) +
                                           " is outside [0, " + std::to_string(a.V) + ")");
  }
  // 2. copy rows
  parallel_for(a.N, 16, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) {
      const int64_t tok = a.token_dtype == DType::kInt64 ? static_cast<const int64_t*>(a.tokens)[i]
                                                         : static_cast<const int32_t*>(a.tokens)[i];
      std::memcpy(static_cast<char*>(a.y) + i * a.D * isz, static_cast<const char*>(a.table) + tok * a.D * isz,
                  size_t(a.D * isz));
    }
  });
  return Status::Ok();
}

}  // namespace mmpref

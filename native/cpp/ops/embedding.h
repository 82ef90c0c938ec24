// Embedding lookup: y[i, :] = table[tokens[i], :]; a token outside [0, V) is ERR_RANGE and leaves
// y untouched (every token is checked before any row is copied). The binding hands the kernel a
// private copy of tokens, so the check and the copy read the same values.
#pragma once

#include <cmath>
#include <cstdint>

#include "../core/dtype.h"
#include "../core/hd.h"
#include "../core/math.h"
#include "../core/status.h"

namespace mmpref {

struct EmbeddingArgs {
  const void* table;  // [V, D]
  const void* tokens; // int32 or int64 [N]
  void* y;            // [N, D]
  DType dtype, token_dtype;
  int64_t V, D, N;
  int device;
};

Status embedding_cpu(const EmbeddingArgs& a);
Status embedding_cuda(const EmbeddingArgs& a);
}  // namespace mmpref

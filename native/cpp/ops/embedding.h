// Embedding lookup: y[i, :] = table[tokens[i], :]; a token outside [0, V) is ERR_RANGE and leaves
// y untouched (every token is checked before any row is copied). The binding hands the kernel a
// private copy of tokens, so the check and the copy read the same values.
//
// Backward (scatter-add): dTable[v, :] = (accumulate ? dTable[v, :] : 0) + sum over rows i with
// tokens[i] == v of dy[i, :], summed in float32 in increasing i (PyTorch: the gradient of
// F.embedding). NB: deterministic by construction, with no float atomics: the rows are grouped by
// token with a stable counting sort (embedding_group_rows, on the host for both devices), and each
// element dTable[v, d] is summed by one thread in that fixed order, so the bits depend neither on
// the thread count nor on the CUDA launch shape, and CPU and CUDA agree bit for bit.
#pragma once

#include <cmath>
#include <cstdint>
#include <vector>

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

struct EmbeddingBackwardArgs {
  const void* dy;      // [N, D] float32 / float16 / bfloat16
  const void* tokens;  // int32 or int64 [N] (a private copy on the host; device memory on CUDA)
  float* dtable;       // [V, D] float32
  DType dtype, token_dtype;
  int64_t V, D, N;
  bool accumulate;
  int device;
};

// Rows grouped by token: the rows of segment s are order[begin[s] .. begin[s + 1]) (increasing),
// all with token seg_token[s]; segments in increasing token order.
struct EmbeddingGroups {
  std::vector<int64_t> order, begin, seg_token;
};

// Checks every token against [0, V) (ERR_RANGE naming the first bad index) and groups the rows.
Status embedding_group_rows(const void* tokens, DType token_dtype, int64_t N, int64_t V, EmbeddingGroups* g);

Status embedding_backward_cpu(const EmbeddingBackwardArgs& a);
Status embedding_backward_cuda(const EmbeddingBackwardArgs& a);
}  // namespace mmpref

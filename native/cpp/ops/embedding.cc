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

// ---- backward ---------------------------------------------------------------------------------

namespace mmpref {

Status embedding_group_rows(const void* tokens, DType token_dtype, int64_t N, int64_t V, EmbeddingGroups* g) {
  auto tok = [&](int64_t i) -> int64_t {
    return token_dtype == DType::kInt64 ? static_cast<const int64_t*>(tokens)[i] : static_cast<const int32_t*>(tokens)[i];
  };
  // 1. every token in range before anything is written
  for (int64_t i = 0; i < N; ++i)
    if (tok(i) < 0 || tok(i) >= V)
      return make_status(Code::kRange, "embeddingBackward: token " + std::to_string(tok(i)) + " at index " + std::to_string(i) +
                                           " is outside [0, " + std::to_string(V) + ")");
  // 2. stable counting sort of the rows by token (O(N + V); NB: V ints is small next to the
  //    [V, D] float32 gradient the op writes)
  std::vector<int64_t> start(size_t(V) + 1, 0);
  for (int64_t i = 0; i < N; ++i) ++start[size_t(tok(i)) + 1];
  g->begin.clear();
  g->seg_token.clear();
  for (int64_t v = 0; v < V; ++v) {
    if (start[size_t(v) + 1]) {
      g->seg_token.push_back(v);
      g->begin.push_back(start[size_t(v)]);
    }
    start[size_t(v) + 1] += start[size_t(v)];
  }
  g->begin.push_back(N);
  g->order.assign(size_t(N), 0);
  for (int64_t i = 0; i < N; ++i) g->order[size_t(start[size_t(tok(i))]++)] = i;
  return Status::Ok();
}

namespace {

// acc[d] += dy[d] for d < n: one float32 add per element, so any vector width gives the same bits.
template <class T>
MMPREF_CPU_CLONES void embedding_add_row(float* acc, const T* dy, int64_t n) {
  for (int64_t d = 0; d < n; ++d) acc[d] += to_float(dy[d]);
}

constexpr int64_t kCols = 512;  // columns per work item (2 KiB of float32, stays in L1)

}  // namespace

Status embedding_backward_cpu(const EmbeddingBackwardArgs& a) {
  // 1. check and group (nothing written on a bad token)
  EmbeddingGroups g;
  MMPREF_RETURN_IF_ERROR(embedding_group_rows(a.tokens, a.token_dtype, a.N, a.V, &g));
  return dispatch_float(a.dtype, "embeddingBackward", [&](auto tag) {
    using T = decltype(tag);
    const T* dy = static_cast<const T*>(a.dy);
    // 2. zero the table unless accumulating (rows of absent tokens stay 0)
    if (!a.accumulate)
      parallel_for(a.V, 64, [&](int64_t v0, int64_t v1) { std::memset(a.dtable + v0 * a.D, 0, size_t((v1 - v0) * a.D) * sizeof(float)); });
    // 3. work item = (token segment, column block): each element summed by one thread, rows in
    //    increasing index order, so the bits do not depend on how items are spread over threads
    const int64_t col_blocks = (a.D + kCols - 1) / kCols;
    const int64_t segs = int64_t(g.seg_token.size());
    parallel_for(segs * col_blocks, 1, [&](int64_t w0, int64_t w1) {
      for (int64_t w = w0; w < w1; ++w) {
        const int64_t s = w / col_blocks, c0 = (w % col_blocks) * kCols, n = std::min(kCols, a.D - c0);
        float* acc = a.dtable + g.seg_token[size_t(s)] * a.D + c0;
        for (int64_t k = g.begin[size_t(s)]; k < g.begin[size_t(s) + 1]; ++k) embedding_add_row(acc, dy + g.order[size_t(k)] * a.D + c0, n);
      }
    });
  });
}

}  // namespace mmpref

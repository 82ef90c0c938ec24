// CUDA kernels for ops.embedding (ops/embedding.h): tokens checked first, then a block per row copy.
// embeddingBackward: rows grouped by token on the host (embedding_group_rows, the CPU's code), then
// one thread per (token, column) sums its rows in increasing index order (no atomics).
#include <string>
#include <vector>

#include "../cpp/ops/embedding.h"
#include "common.cuh"

namespace mmpref {
namespace {

template <class I>
__global__ void embedding_check_kernel(const I* tokens, int64_t V, int64_t N, int* flag) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < N; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t tok = int64_t(tokens[i]);
    if (tok < 0 || tok >= V) atomicMax(flag, 1);
  }
}

// Tokens are checked first (embedding_check_kernel): every token here is in [0, V).
template <class I>
__global__ void embedding_kernel(const char* table, const I* tokens, char* y, int64_t row_bytes, int64_t N) {
  for (int64_t i = blockIdx.x; i < N; i += gridDim.x) {
    const int64_t tok = int64_t(tokens[i]);
    for (int64_t k = threadIdx.x; k < row_bytes; k += blockDim.x) y[i * row_bytes + k] = table[tok * row_bytes + k];
  }
}

// The CPU's message for the first token outside [0, V) (error path: tokens read back).
template <class I>
Status embedding_token_error(const EmbeddingArgs& a) {
  std::vector<I> host(size_t(a.N));
  MMPREF_RETURN_IF_ERROR(cuda::memcpy_d2h(a.device, host.data(), a.tokens, size_t(a.N) * sizeof(I)));
  for (int64_t i = 0; i < a.N; ++i) {
    const int64_t tok = int64_t(host[size_t(i)]);
    if (tok < 0 || tok >= a.V)
      return make_status(Code::kRange, "embedding: token " + std::to_string(tok) + " at index " + std::to_string(i) +
                                           " is outside [0, " + std::to_string(a.V) + ")");
  }
  return make_status(Code::kRange, "embedding: a token is outside [0, " + std::to_string(a.V) + ")");
}

// Work item w = (segment s, column d): dtable[tok, d] += dy[row, d] over the segment's rows in
// order. Any grid or block shape gives the same bits: an element is only ever summed by one thread.
template <class T>
__global__ void embedding_backward_kernel(const T* dy, const int64_t* order, const int64_t* begin, const int64_t* seg_token,
                                          float* dtable, int64_t segs, int64_t D) {
  for (int64_t w = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; w < segs * D; w += int64_t(gridDim.x) * blockDim.x) {
    const int64_t s = w / D, d = w - s * D;
    float* out = dtable + seg_token[s] * D + d;
    float acc = *out;
    for (int64_t k = begin[s]; k < begin[s + 1]; ++k) acc += to_float(dy[order[k] * D + d]);
    *out = acc;
  }
}

}  // namespace

Status embedding_backward_cuda(const EmbeddingBackwardArgs& a) {
  MMPREF_RETURN_IF_ERROR(cuda::set_device(a.device));
  // 1. a private host copy of the tokens: checked and grouped there (nothing written on a bad token)
  const size_t isz = a.token_dtype == DType::kInt64 ? 8 : 4;
  std::vector<char> host(size_t(a.N) * isz);
  if (a.N) MMPREF_RETURN_IF_ERROR(cuda::memcpy_d2h(a.device, host.data(), a.tokens, host.size()));
  EmbeddingGroups g;
  MMPREF_RETURN_IF_ERROR(embedding_group_rows(host.data(), a.token_dtype, a.N, a.V, &g));
  // 2. zero the table unless accumulating
  if (!a.accumulate && a.V * a.D) MMPREF_RETURN_IF_ERROR(cuda::memset(a.device, a.dtable, 0, size_t(a.V * a.D) * sizeof(float)));
  const int64_t segs = int64_t(g.seg_token.size());
  if (segs == 0 || a.D == 0) return Status::Ok();
  // 3. the grouping to the device, then the sums
  cuda::DeviceScratch order, begin, seg_token;
  MMPREF_RETURN_IF_ERROR(order.upload(g.order.data(), g.order.size() * sizeof(int64_t), "embeddingBackward"));
  MMPREF_RETURN_IF_ERROR(begin.upload(g.begin.data(), g.begin.size() * sizeof(int64_t), "embeddingBackward"));
  MMPREF_RETURN_IF_ERROR(seg_token.upload(g.seg_token.data(), g.seg_token.size() * sizeof(int64_t), "embeddingBackward"));
  return MMPREF_CUDA_DISPATCH_FLOAT(a.dtype, T, "embeddingBackward", {
    cuda::launch(MMPREF_KERNEL(embedding_backward_kernel<T>), cuda::grid_for(segs * a.D, 256), 256, 0, cuda::op_stream())(
        static_cast<const T*>(a.dy), order.get<int64_t>(), begin.get<int64_t>(), seg_token.get<int64_t>(), a.dtable, segs, a.D);
    return cuda::check_launch_and_sync("embeddingBackward");
  });
}

Status embedding_cuda(const EmbeddingArgs& a) {
  MMPREF_RETURN_IF_ERROR(cuda::set_device(a.device));
  if (a.N == 0) return Status::Ok();
  // 1. every token is checked before anything is written (a bad one leaves `out` untouched, as on the CPU)
  cuda::DeviceFlag flag;
  MMPREF_RETURN_IF_ERROR(flag.init());
  const bool i64 = a.token_dtype == DType::kInt64;
  if (i64)
    cuda::launch(MMPREF_KERNEL(embedding_check_kernel<int64_t>), cuda::grid_for(a.N, 256), 256, 0, cuda::op_stream())(
        static_cast<const int64_t*>(a.tokens), a.V, a.N, flag.get());
  else
    cuda::launch(MMPREF_KERNEL(embedding_check_kernel<int32_t>), cuda::grid_for(a.N, 256), 256, 0, cuda::op_stream())(
        static_cast<const int32_t*>(a.tokens), a.V, a.N, flag.get());
  MMPREF_RETURN_IF_ERROR(cuda::check_launch_and_sync("embedding"));
  int bad = 0;
  MMPREF_RETURN_IF_ERROR(flag.read(&bad));
  if (bad) return i64 ? embedding_token_error<int64_t>(a) : embedding_token_error<int32_t>(a);
  // 2. copy rows
  const int64_t row_bytes = a.D * dtype_size(a.dtype);
  const int grid = int(std::min<int64_t>(a.N, 65535 * 8));
  if (i64)
    cuda::launch(MMPREF_KERNEL(embedding_kernel<int64_t>), grid, 128, 0, cuda::op_stream())(static_cast<const char*>(a.table), static_cast<const int64_t*>(a.tokens),
                                                                   static_cast<char*>(a.y), row_bytes, a.N);
  else
    cuda::launch(MMPREF_KERNEL(embedding_kernel<int32_t>), grid, 128, 0, cuda::op_stream())(static_cast<const char*>(a.table), static_cast<const int32_t*>(a.tokens),
                                                                   static_cast<char*>(a.y), row_bytes, a.N);
  return cuda::check_launch_and_sync("embedding");
}

}  // namespace mmpref

// CUDA kernels for ops.embedding (ops/embedding.h): tokens checked first, then a block per row copy.
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

}  // namespace

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

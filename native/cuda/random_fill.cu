// CUDA random fill: one thread per Philox block (4 consecutive elements), grid-stride; vector
// stores when the output is aligned and starts on a block boundary, element stores otherwise.
#include "../cpp/core/normal.h"
#include "../cpp/ops/random_fill.h"
#include "noise_common.cuh"

namespace mmpref {
namespace {

// Thread k takes stream block start_block + k, whose words are output elements 4k - skip ..
// 4k + 3 - skip (those inside [0, n)).
template <class T, RandomKind KIND>
__global__ void random_fill_kernel(T* out, int64_t n, float a, float b, uint64_t seed, uint64_t offset,
                                   uint64_t start_block, int skip, bool vec) {
  const int64_t blocks = (n + skip + 3) / 4;
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t k = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; k < blocks; k += stride) {
    const Philox4 w = philox_block(seed, offset, start_block + uint64_t(k));
    const int64_t e = 4 * k - skip;  // output index of word 0
    const bool full = vec && skip == 0 && e + 3 < n;
    if constexpr (KIND == RandomKind::kBits) {
      uint32_t* o = reinterpret_cast<uint32_t*>(out);
      if (full) {
        *reinterpret_cast<uint4*>(o + e) = make_uint4(w.v[0], w.v[1], w.v[2], w.v[3]);
      } else {
        for (int q = 0; q < 4; ++q)
          if (e + q >= 0 && e + q < n) o[e + q] = w.v[q];
      }
    } else {
      float v[4];
      if constexpr (KIND == RandomKind::kNormal) {
        box_muller(w.v[0], w.v[1], &v[0], &v[1]);
        box_muller(w.v[2], w.v[3], &v[2], &v[3]);
      } else {
#pragma unroll
        for (int q = 0; q < 4; ++q) v[q] = uniform01(w.v[q]);
      }
#pragma unroll
      for (int q = 0; q < 4; ++q) v[q] = random_affine(v[q], a, b);
      if (full) {
        cuda::store4(out + e, v);
      } else {
        for (int q = 0; q < 4; ++q)
          if (e + q >= 0 && e + q < n) out[e + q] = from_float<T>(v[q]);
      }
    }
  }
}

template <class T, RandomKind KIND>
Status launch(const RandomFillArgs& a) {
  constexpr int kBlock = 256;
  T* out = static_cast<T*>(a.out);
  const int grid = cuda::grid_for((a.n + a.start_skip + 3) / 4, kBlock);
  const bool vec = KIND == RandomKind::kBits ? cuda::vec4_aligned<uint32_t>(out) : cuda::vec4_aligned<T>(out);
  cuda::launch(MMPREF_KERNEL(random_fill_kernel<T, KIND>), grid, kBlock, 0, cuda::op_stream())(out, a.n, a.a, a.b, a.seed, a.offset, a.start_block,
                                                                     a.start_skip, vec);
  return cuda::check_launch_and_sync("random");
}

template <class T>
Status launch_kind(const RandomFillArgs& a) {
  if (a.kind == RandomKind::kNormal) return launch<T, RandomKind::kNormal>(a);
  return launch<T, RandomKind::kUniform>(a);
}

}  // namespace

Status random_fill_cuda(const RandomFillArgs& a) {
  MMPREF_RETURN_IF_ERROR(cuda::set_device(a.device));
  if (a.n == 0) return Status::Ok();
  if (a.kind == RandomKind::kBits) {
    if (a.dtype != DType::kInt32)
      return make_status(Code::kDtype, std::string("random.bits: expected an int32 output but received ") +
                                           dtype_name(a.dtype));
    return launch<int32_t, RandomKind::kBits>(a);
  }
  return MMPREF_CUDA_DISPATCH_FLOAT(a.dtype, T, "random", { return launch_kind<T>(a); });
}

}  // namespace mmpref

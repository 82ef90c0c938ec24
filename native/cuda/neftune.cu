// CUDA NEFTune: 1. one block per row counts its real tokens (or range-checks its length) and
// writes the row's noise magnitude to scratch memory; the launcher reports a bad length before
// anything is written. 2. one block per position adds alpha / sqrt(L_b D) * uniform(-1, 1) noise
// in groups of 4 elements (one Philox block -> 4 words), vector loads/stores when aligned.
#include "../cpp/core/normal.h"
#include "../cpp/ops/neftune.h"
#include "noise_common.cuh"

namespace mmpref {
namespace {

__global__ void neftune_rows_kernel(int64_t batch, int64_t seq, int64_t dim, const int32_t* lengths,
                                    const uint8_t* mask, float alpha, bool padded_norm, float* mag, int* flag) {
  MMPREF_SHARED(unsigned long long, part, [32]);
  for (int64_t b = blockIdx.x; b < batch; b += gridDim.x) {
    int64_t count = seq;
    if (lengths) {
      const int32_t len = lengths[b];
      if (len < 0 || int64_t(len) > seq) {
        if (threadIdx.x == 0) {
          atomicMax(flag, int(batch - b));  // max flag = first bad row
          mag[b] = 0.0f;
        }
        continue;
      }
      count = len;
    } else if (mask) {
      unsigned long long c = 0;
      for (int64_t n = threadIdx.x; n < seq; n += blockDim.x) c += mask[b * seq + n] != 0;
#pragma unroll
      for (int o = 16; o > 0; o >>= 1) c += __shfl_xor_sync(0xffffffffu, c, o);
      __syncthreads();
      if ((threadIdx.x & 31) == 0) part[threadIdx.x >> 5] = c;
      __syncthreads();
      c = 0;
      for (int w = 0; w < int(blockDim.x >> 5); ++w) c += part[w];
      count = int64_t(c);
    }
    if (threadIdx.x == 0) mag[b] = neftune_magnitude(alpha, padded_norm, count, seq, dim);
  }
}

template <class T>
__global__ void neftune_apply_kernel(const T* x, T* y, int64_t npos, int64_t seq, int64_t dim,
                                     const int32_t* lengths, const uint8_t* mask, const float* mag,
                                     uint64_t seed, uint64_t offset, bool vec) {
  for (int64_t p = blockIdx.x; p < npos; p += gridDim.x) {
    const int64_t b = p / seq, n = p % seq, e0 = p * dim;
    const bool real = lengths ? n < lengths[b] : mask ? mask[p] != 0 : true;
    const float m = mag[b];
    if (real && m != 0.0f) {
      cuda::add_noise_row(x, y, e0, dim, m, vec, [&](uint64_t k, float* v) {
        const Philox4 w = philox_block(seed, offset, k);
#pragma unroll
        for (int q = 0; q < 4; ++q) v[q] = uniform_pm1(w.v[q]);
      });
    } else if (y != x) {  // padding: raw copy, bit for bit
      cuda::copy_row(x, y, e0, dim, vec);
    }
  }
}

template <class T>
Status launch(const NeftuneArgs& a) {
  if (a.batch > INT32_MAX) return make_status(Code::kShape, "noise.neftune: batch too large for CUDA");
  cuda::DeviceFlag flag;
  MMPREF_RETURN_IF_ERROR(flag.init());
  cuda::DeviceScratch mag;
  MMPREF_RETURN_IF_ERROR(mag.alloc_n<float>(a.batch, "neftune"));
  const int rows_grid = int(a.batch < 65535 ? a.batch : 65535);
  cuda::launch(MMPREF_KERNEL(neftune_rows_kernel), rows_grid, 256, 0, cuda::op_stream())(a.batch, a.seq, a.dim, a.lengths, a.mask, a.alpha,
                                                                 a.padded_norm, mag.get<float>(), flag.get());
  MMPREF_RETURN_IF_ERROR(cuda::check_launch_and_sync("noise.neftune"));
  int bad = 0;
  MMPREF_RETURN_IF_ERROR(flag.read(&bad));
  if (bad != 0) {
    const int64_t b = a.batch - bad;
    int32_t len = 0;
    MMPREF_RETURN_IF_ERROR(cuda::memcpy_d2h(a.device, &len, a.lengths + b, sizeof(int32_t)));
    return make_status(Code::kRange, "noise.neftune: expected lengths in [0, " + std::to_string(a.seq) +
                                         "] but received " + std::to_string(len) + " for row " + std::to_string(b));
  }
  const T* x = static_cast<const T*>(a.x);
  T* y = static_cast<T*>(a.y);
  const int64_t npos = a.batch * a.seq;
  if (npos == 0 || a.dim == 0) return Status::Ok();  // lengths checked, nothing to write
  const int block = cuda::row_block_threads(a.dim);
  const int grid = int(npos < 65535 * 8 ? npos : 65535 * 8);
  const bool vec = a.dim % 4 == 0 && cuda::vec4_aligned<T>(x) && cuda::vec4_aligned<T>(y);
  cuda::launch(MMPREF_KERNEL(neftune_apply_kernel<T>), grid, block, 0, cuda::op_stream())(x, y, npos, a.seq, a.dim, a.lengths, a.mask,
                                                                  mag.get<float>(), a.seed, a.offset, vec);
  return cuda::check_launch_and_sync("noise.neftune");
}

}  // namespace

Status neftune_cuda(const NeftuneArgs& a) {
  MMPREF_RETURN_IF_ERROR(cuda::set_device(a.device));
  // NB: L = 0 or D = 0 still range-checks lengths (as the CPU does); launch() skips the rest
  if (a.batch == 0) return Status::Ok();
  return MMPREF_CUDA_DISPATCH_FLOAT(a.dtype, T, "noise.neftune", { return launch<T>(a); });
}

}  // namespace mmpref

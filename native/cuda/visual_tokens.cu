// CUDA NoiseBoost: one thread block per token (grid-stride over tokens). For a relative scale
// the block first reduces the token's statistics (block_sum; the token stays in L1/L2 for the
// noise pass); then each thread takes groups of 4 elements (one Philox block -> 4 normals) with
// vector loads/stores (cuda::add_noise_row). Tokens that are not perturbed are copied bit for bit
// (out of place) or left alone (in place). x and y may alias (in place): no __restrict__.
#include "../cpp/core/normal.h"
#include "../cpp/ops/visual_tokens.h"
#include "noise_common.cuh"

namespace mmpref {
namespace {

template <class T, TokenScale MODE>
__global__ void visual_tokens_kernel(const T* x, T* y, int64_t ntok, int64_t tokens, int64_t dim,
                                     const uint8_t* mask, const uint8_t* rows, float sigma, float prob,
                                     uint64_t seed, uint64_t offset, bool vec) {
  MMPREF_SHARED(float, sh, [33]);
  for (int64_t t = blockIdx.x; t < ntok; t += gridDim.x) {
    const int64_t e0 = t * dim;
    // `on` and `s` depend on t only: uniform over the block, so block_sum is safe.
    const bool on = mask[t] != 0 && (rows == nullptr || rows[t / tokens] != 0) &&
                    token_drawn(seed, offset, prob, t);
    float s = sigma;
    if (MODE != TokenScale::kAbsolute && on) {
      // 1. token statistics, float32 (two passes for the standard deviation)
      float acc = 0.0f;
      if (MODE == TokenScale::kRms) {
        for (int64_t d = threadIdx.x; d < dim; d += blockDim.x) {
          const float v = to_float(x[e0 + d]);
          acc = fmaf(v, v, acc);
        }
      } else {
        for (int64_t d = threadIdx.x; d < dim; d += blockDim.x) acc += to_float(x[e0 + d]);
        const float mean = cuda::block_sum(acc, sh) / float(dim);
        acc = 0.0f;
        for (int64_t d = threadIdx.x; d < dim; d += blockDim.x) {
          const float v = to_float(x[e0 + d]) - mean;
          acc = fmaf(v, v, acc);
        }
      }
      s = token_noise_scale(MODE, sigma, cuda::block_sum(acc, sh), dim);
    }
    // 2. y = x + s z (z = normals of the token's elements), or the token unchanged
    if (on && s != 0.0f)
      cuda::add_noise_row(x, y, e0, dim, s, vec, [&](uint64_t k, float* z) { normal4(seed, offset, k, z); });
    else if (y != x)
      cuda::copy_row(x, y, e0, dim, vec);
  }
}

template <class T>
Status launch(const VisualTokensArgs& a) {
  const T* x = static_cast<const T*>(a.x);
  T* y = static_cast<T*>(a.y);
  const int64_t ntok = a.batch * a.tokens;
  const int block = cuda::row_block_threads(a.dim);  // a multiple of 32, as block_sum needs
  const int grid = int(ntok < 65535 * 8 ? ntok : 65535 * 8);
  const bool vec = a.dim % 4 == 0 && cuda::vec4_aligned<T>(x) && cuda::vec4_aligned<T>(y);
  switch (a.scale) {
    case TokenScale::kAbsolute:
      cuda::launch(MMPREF_KERNEL(visual_tokens_kernel<T, TokenScale::kAbsolute>), grid, block, 0, cuda::op_stream())(
          x, y, ntok, a.tokens, a.dim, a.mask, a.rows, a.sigma, a.prob, a.seed, a.offset, vec);
      break;
    case TokenScale::kRms:
      cuda::launch(MMPREF_KERNEL(visual_tokens_kernel<T, TokenScale::kRms>), grid, block, 0, cuda::op_stream())(
          x, y, ntok, a.tokens, a.dim, a.mask, a.rows, a.sigma, a.prob, a.seed, a.offset, vec);
      break;
    case TokenScale::kStd:
      cuda::launch(MMPREF_KERNEL(visual_tokens_kernel<T, TokenScale::kStd>), grid, block, 0, cuda::op_stream())(
          x, y, ntok, a.tokens, a.dim, a.mask, a.rows, a.sigma, a.prob, a.seed, a.offset, vec);
      break;
    default:
      return make_status(Code::kArgument, "noise.visualTokens: unknown scale mode");
  }
  return cuda::check_launch_and_sync("noise.visualTokens");
}

}  // namespace

Status visual_tokens_cuda(const VisualTokensArgs& a) {
  MMPREF_RETURN_IF_ERROR(cuda::set_device(a.device));
  if (a.batch * a.tokens == 0 || a.dim == 0) return Status::Ok();
  return MMPREF_CUDA_DISPATCH_FLOAT(a.dtype, T, "noise.visualTokens", { return launch<T>(a); });
}

}  // namespace mmpref

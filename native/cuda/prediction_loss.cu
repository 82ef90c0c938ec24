// CUDA prediction loss: 1. per-sample weights and gradient coefficients (a bad timestep is
// reported before anything else is written); 2. a 2-D grid of (16384-element chunk, sample)
// blocks: float32 squared-error sums reduced per block, gradient written in the same pass;
// 3. one block merges the chunk partials in float64, in order (as the CPU does).
#include "../cpp/ops/prediction_loss.h"
#include "noise_common.cuh"

namespace mmpref {
namespace {

__global__ void loss_weights_kernel(PredictionLossArgs a, float* coef, int* flag) {
  for (int64_t b = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; b < a.batch; b += int64_t(gridDim.x) * blockDim.x) {
    float w = 0.0f;
    if (!loss_weight(a, b, &w)) {
      atomicMax(flag, int(a.batch - b));  // max flag = first bad sample
      w = 0.0f;
    }
    a.weights_out[b] = w;
    coef[b] = a.sample > 0 ? loss_grad_coef(a.grad_scale, w, a.batch, a.sample) : 0.0f;
  }
}

template <class TP, class TT>
__global__ void loss_partial_kernel(const TP* p, const TT* e, TP* g, const float* coef, int64_t batch, int64_t sample,
                                    int64_t chunks, float* part, bool vec) {
  MMPREF_SHARED(float, sh, [33]);
  for (int64_t b = blockIdx.y; b < batch; b += gridDim.y) {
    const float cg = coef[b];
    for (int64_t c = blockIdx.x; c < chunks; c += gridDim.x) {
      const int64_t j0 = b * sample + c * kLossChunk;
      const int64_t j1 = b * sample + (sample < (c + 1) * kLossChunk ? sample : (c + 1) * kLossChunk);
      float acc = 0.0f;
      if (vec) {  // j0 is a multiple of 4 (sample % 4 == 0): groups of 4, then the tail
        const int64_t n4 = (j1 - j0) / 4;
        for (int64_t k = threadIdx.x; k < n4; k += blockDim.x) {
          float pv[4], ev[4], gv[4];
          cuda::load4(p + j0 + 4 * k, pv);
          cuda::load4(e + j0 + 4 * k, ev);
#pragma unroll
          for (int q = 0; q < 4; ++q) {
            const float d = pv[q] - ev[q];
            acc = fmaf(d, d, acc);
            gv[q] = cg * d;
          }
          if (g) cuda::store4(g + j0 + 4 * k, gv);
        }
        for (int64_t j = j0 + 4 * n4 + threadIdx.x; j < j1; j += blockDim.x) {
          const float d = to_float(p[j]) - to_float(e[j]);
          acc = fmaf(d, d, acc);
          if (g) g[j] = from_float<TP>(cg * d);
        }
      } else {
        for (int64_t j = j0 + threadIdx.x; j < j1; j += blockDim.x) {
          const float d = to_float(p[j]) - to_float(e[j]);
          acc = fmaf(d, d, acc);
          if (g) g[j] = from_float<TP>(cg * d);
        }
      }
      const float s = cuda::block_sum(acc, sh);
      if (threadIdx.x == 0) part[b * chunks + c] = s;
    }
  }
}

__global__ void loss_merge_kernel(const float* part, int64_t batch, int64_t sample, int64_t chunks,
                                  const float* weights, float* per_sample, double* mse, float* loss) {
  for (int64_t b = threadIdx.x; b < batch; b += blockDim.x) {
    double s = 0.0;
    for (int64_t c = 0; c < chunks; ++c) s += double(part[b * chunks + c]);
    const double m = sample > 0 ? s / double(sample) : 0.0;
    mse[b] = m;
    per_sample[b] = float(m);
  }
  __syncthreads();
  if (threadIdx.x == 0) {
    double l = 0.0;
    for (int64_t b = 0; b < batch; ++b) l += double(weights[b]) * mse[b];
    loss[0] = batch > 0 ? float(l / double(batch)) : 0.0f;
  }
}

template <class TP, class TT>
Status launch(const PredictionLossArgs& a, const float* coef, float* part, int64_t chunks) {
  constexpr int kBlock = 256;
  const TP* p = static_cast<const TP*>(a.pred);
  const TT* e = static_cast<const TT*>(a.target);
  TP* g = static_cast<TP*>(a.grad);
  const bool vec = a.sample % 4 == 0 && cuda::vec4_aligned<TP>(p) && cuda::vec4_aligned<TT>(e) &&
                   (g == nullptr || cuda::vec4_aligned<TP>(g));
  const dim3 grid(unsigned(chunks < 65535 ? chunks : 65535), unsigned(a.batch < 65535 ? a.batch : 65535));
  cuda::launch(MMPREF_KERNEL(loss_partial_kernel<TP, TT>), grid, kBlock, 0, cuda::op_stream())(p, e, g, coef, a.batch, a.sample, chunks, part,
                                                                       vec);
  return cuda::check_launch_and_sync("noise.predictionLoss");
}

template <class TP>
Status launch_target(const PredictionLossArgs& a, const float* coef, float* part, int64_t chunks) {
  switch (a.target_dtype) {
    case DType::kFloat32: return launch<TP, float>(a, coef, part, chunks);
    case DType::kFloat16: return launch<TP, half_t>(a, coef, part, chunks);
    case DType::kBFloat16: return launch<TP, bfloat16_t>(a, coef, part, chunks);
    default:
      return make_status(Code::kDtype, std::string("noise.predictionLoss: expected eps of a float dtype but received ") +
                                           dtype_name(a.target_dtype));
  }
}

}  // namespace

Status prediction_loss_cuda(const PredictionLossArgs& a) {
  MMPREF_RETURN_IF_ERROR(cuda::set_device(a.device));
  if (a.batch > INT32_MAX) return make_status(Code::kShape, "noise.predictionLoss: batch too large for CUDA");
  if (a.batch == 0) return cuda::memset(a.device, a.loss, 0, sizeof(float));
  // 1. weights
  cuda::DeviceFlag flag;
  MMPREF_RETURN_IF_ERROR(flag.init());
  cuda::DeviceScratch coef;
  MMPREF_RETURN_IF_ERROR(coef.alloc_n<float>(a.batch, "predictionLoss"));
  cuda::launch(MMPREF_KERNEL(loss_weights_kernel), cuda::grid_for(a.batch, 256), 256, 0, cuda::op_stream())(a, coef.get<float>(), flag.get());
  MMPREF_RETURN_IF_ERROR(cuda::check_launch_and_sync("noise.predictionLoss"));
  int bad = 0;
  MMPREF_RETURN_IF_ERROR(flag.read(&bad));
  if (bad != 0) {
    const int64_t b = a.batch - bad;
    int32_t tb = a.t_scalar;
    if (a.t) MMPREF_RETURN_IF_ERROR(cuda::memcpy_d2h(a.device, &tb, a.t + b, sizeof(int32_t)));
    return timestep_error("noise.predictionLoss", a.steps, b, tb);
  }
  // 2. chunk partials (+ gradient)
  const int64_t chunks = a.sample > 0 ? (a.sample + kLossChunk - 1) / kLossChunk : 1;
  cuda::DeviceScratch part;
  MMPREF_RETURN_IF_ERROR(part.alloc_n<float>(a.batch * chunks, "predictionLoss"));
  cuda::DeviceScratch mse;
  MMPREF_RETURN_IF_ERROR(mse.alloc_n<double>(a.batch, "predictionLoss"));
  Status st;
  switch (a.pred_dtype) {
    case DType::kFloat32: st = launch_target<float>(a, coef.get<float>(), part.get<float>(), chunks); break;
    case DType::kFloat16: st = launch_target<half_t>(a, coef.get<float>(), part.get<float>(), chunks); break;
    case DType::kBFloat16: st = launch_target<bfloat16_t>(a, coef.get<float>(), part.get<float>(), chunks); break;
    default:
      st = make_status(Code::kDtype, std::string("noise.predictionLoss: expected epsPred of a float dtype but received ") +
                                         dtype_name(a.pred_dtype));
  }
  MMPREF_RETURN_IF_ERROR(st);
  // 3. merge, in order
  cuda::launch(MMPREF_KERNEL(loss_merge_kernel), 1, 256, 0, cuda::op_stream())(part.get<float>(), a.batch, a.sample, chunks, a.weights_out,
                                                       a.per_sample, mse.get<double>(), a.loss);
  return cuda::check_launch_and_sync("noise.predictionLoss");
}

}  // namespace mmpref

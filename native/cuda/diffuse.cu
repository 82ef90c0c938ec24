// CUDA diffusion forward noising: a 2-D grid, y over samples and x over the Philox blocks that
// overlap the sample's elements (grid-stride in both); each thread takes groups of 4 elements
// (one Philox block -> 4 normals), with vector loads/stores when the group lies inside the sample
// and the pointers are aligned. A timestep tensor (B int32) is copied to the host and checked
// before the launch, so a bad t leaves y and eps untouched, as on the CPU; the kernel still skips
// a bad t rather than read outside the schedule.
#include <vector>

#include "../cpp/core/normal.h"
#include "../cpp/ops/diffuse.h"
#include "noise_common.cuh"

namespace mmpref {
namespace {

// Channel of element j of a sample (uint8 normalisation); 32-bit math when the sample fits.
__device__ __forceinline__ int64_t channel_of(int64_t j, int64_t inner, int64_t channels, bool idx32) {
  if (idx32) return int64_t((uint32_t(j) / uint32_t(inner)) % uint32_t(channels));
  return (j / inner) % channels;
}

template <class TI, class TO>
__global__ void diffuse_kernel(const TI* x, TO* y, float* eps, int64_t batch, int64_t sample, const int32_t* t,
                               int32_t t_scalar, const float* ca, const float* cb, int64_t steps,
                               const float* nsub, const float* ndiv, int64_t channels, int64_t inner,
                               uint64_t seed, uint64_t offset, bool vec, bool idx32) {
  constexpr bool kU8 = std::is_same<TI, uint8_t>::value;
  for (int64_t b = blockIdx.y; b < batch; b += gridDim.y) {
    const int32_t tb = t ? t[b] : t_scalar;
    float a = 1.0f, c = 0.0f;
    if (!diffuse_coefs(tb, ca, cb, steps, &a, &c)) continue;  // checked on the host already
    const bool noised = tb != -1;
    const int64_t e0 = b * sample, e1 = e0 + sample;
    const int64_t k0 = e0 / 4, k1 = (e1 + 3) / 4;
    const int64_t stride = int64_t(gridDim.x) * blockDim.x;
    for (int64_t k = k0 + int64_t(blockIdx.x) * blockDim.x + threadIdx.x; k < k1; k += stride) {
      const int64_t e = 4 * k;
      const bool full = vec && e >= e0 && e + 4 <= e1;
      // 1. x0, normalised
      float v[4] = {0.0f, 0.0f, 0.0f, 0.0f};
      if (!noised && !kU8) {  // t = -1 on a float tensor: raw copy, bit for bit
        for (int q = 0; q < 4; ++q)
          if (e + q >= e0 && e + q < e1) reinterpret_cast<TI*>(y)[e + q] = x[e + q];
      } else {
        if (full) {
          cuda::load4(x + e, v);
        } else {
          for (int q = 0; q < 4; ++q)
            if (e + q >= e0 && e + q < e1) v[q] = cuda::load_as_float(x[e + q]);
        }
        if constexpr (kU8) {
#pragma unroll
          for (int q = 0; q < 4; ++q) {
            const int64_t ch = channel_of(e + q - e0 < 0 ? 0 : e + q - e0, inner, channels, idx32);
            v[q] = (v[q] - nsub[ch]) / ndiv[ch];
          }
        }
      }
      // 2. noise (zero for t = -1), x_t = sqrt(abar) x0 + sqrt(1 - abar) eps
      float z[4] = {0.0f, 0.0f, 0.0f, 0.0f};
      if (noised) {
        normal4(seed, offset, uint64_t(k), z);
#pragma unroll
        for (int q = 0; q < 4; ++q) v[q] = fmaf(c, z[q], a * v[q]);
      }
      if (noised || kU8) {
        if (full) {
          cuda::store4(y + e, v);
        } else {
          for (int q = 0; q < 4; ++q)
            if (e + q >= e0 && e + q < e1) y[e + q] = from_float<TO>(v[q]);
        }
      }
      if (eps) {
        if (full) {
          *reinterpret_cast<float4*>(eps + e) = make_float4(z[0], z[1], z[2], z[3]);
        } else {
          for (int q = 0; q < 4; ++q)
            if (e + q >= e0 && e + q < e1) eps[e + q] = z[q];
        }
      }
    }
  }
}

// Every t is checked before anything is written (the CPU's contract); B ints, read back once.
Status check_timesteps(const DiffuseArgs& a) {
  constexpr const char* op = "noise.diffuse";
  if (!a.t) return timestep_ok(a.t_scalar, a.steps) ? Status::Ok() : timestep_error(op, a.steps, 0, a.t_scalar);
  std::vector<int32_t> host(static_cast<size_t>(a.batch));
  MMPREF_RETURN_IF_ERROR(cuda::memcpy_d2h(a.device, host.data(), a.t, host.size() * sizeof(int32_t)));
  for (int64_t b = 0; b < a.batch; ++b)
    if (!timestep_ok(host[size_t(b)], a.steps)) return timestep_error(op, a.steps, b, host[size_t(b)]);
  return Status::Ok();
}

template <class TI, class TO>
Status launch(const DiffuseArgs& a) {
  if (a.batch > INT32_MAX) return make_status(Code::kShape, "noise.diffuse: batch too large for CUDA");
  MMPREF_RETURN_IF_ERROR(check_timesteps(a));
  const TI* x = static_cast<const TI*>(a.x);
  TO* y = static_cast<TO*>(a.y);
  constexpr int kBlock = 256;
  const int64_t groups = a.sample / 4 + 2;  // Philox blocks overlapping one sample
  const int gy = int(a.batch < 65535 ? a.batch : 65535);
  int64_t gx = (groups + kBlock - 1) / kBlock;
  if (gx > 4096) gx = 4096;
  const bool vec = a.sample % 4 == 0 && cuda::vec4_aligned<TI>(x) && cuda::vec4_aligned<TO>(y) &&
                   (a.eps == nullptr || cuda::vec4_aligned<float>(a.eps));
  const bool idx32 = a.sample <= int64_t(UINT32_MAX) - 4;
  cuda::launch(MMPREF_KERNEL(diffuse_kernel<TI, TO>), dim3(unsigned(gx), unsigned(gy)), kBlock, 0, cuda::op_stream())(
      x, y, a.eps, a.batch, a.sample, a.t, a.t_scalar, a.coef_a, a.coef_b, a.steps, a.norm_sub, a.norm_div,
      a.channels, a.inner, a.seed, a.offset, vec, idx32);
  return cuda::check_launch_and_sync("noise.diffuse");
}

}  // namespace

Status diffuse_cuda(const DiffuseArgs& a) {
  MMPREF_RETURN_IF_ERROR(cuda::set_device(a.device));
  if (a.batch == 0) return Status::Ok();
  const std::string bad = std::string("noise.diffuse: unsupported dtypes ") + dtype_name(a.x_dtype) + " -> " +
                          dtype_name(a.y_dtype);
  if (a.x_dtype == DType::kUInt8) {
    if (!a.norm_sub || !a.norm_div || a.channels < 1 || a.inner < 1)
      return make_status(Code::kArgument, "noise.diffuse: uint8 input needs normalisation tables");
    switch (a.y_dtype) {
      case DType::kFloat32: return launch<uint8_t, float>(a);
      case DType::kFloat16: return launch<uint8_t, half_t>(a);
      case DType::kBFloat16: return launch<uint8_t, bfloat16_t>(a);
      default: return make_status(Code::kDtype, bad);
    }
  }
  if (a.x_dtype != a.y_dtype) return make_status(Code::kDtype, bad);
  return MMPREF_CUDA_DISPATCH_FLOAT(a.x_dtype, T, "noise.diffuse", { return launch<T, T>(a); });
}

}  // namespace mmpref

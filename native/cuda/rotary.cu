// CUDA kernel for ops.rotary and ops.rotaryBackward (ops/rotary.h): a thread per (b, h, t, pair).
#include "../cpp/ops/rotary.h"
#include "common.cuh"

namespace mmpref {
namespace {

template <class T>
__global__ void rotary_kernel(const T* x, T* y, int64_t B, int64_t H, int64_t T_, int64_t d, const int32_t* positions,
                              int64_t offset, double theta, bool inverse) {
  const int64_t half = d / 2, total = B * H * T_ * half;
  for (int64_t k = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; k < total; k += int64_t(gridDim.x) * blockDim.x) {
    const int64_t i = k % half, row = k / half;  // row = (b*H + h)*T + t
    const int64_t t = row % T_, b = row / (H * T_);
    const double pos = positions ? double(positions[b * T_ + t]) : double(offset + t);
    double s, c;
    sincos(pos * rotary_inv_freq(int(i), int(d), theta), &s, &c);
    const int64_t base = row * d;
    const float sn = inverse ? -float(s) : float(s);
    const float x1 = to_float(x[base + i]), x2 = to_float(x[base + i + half]);
    y[base + i] = from_float<T>(x1 * float(c) - x2 * sn);
    y[base + i + half] = from_float<T>(x2 * float(c) + x1 * sn);
  }
}

}  // namespace

Status rotary_cuda(const RotaryArgs& a) {
  MMPREF_RETURN_IF_ERROR(cuda::set_device(a.device));
  const int64_t total = a.B * a.H * a.T * (a.d / 2);
  if (total == 0) return Status::Ok();
  return MMPREF_CUDA_DISPATCH_FLOAT(a.dtype, T, a.inverse ? "rotaryBackward" : "rotary", {
    cuda::launch(MMPREF_KERNEL(rotary_kernel<T>), cuda::grid_for(total, 256), 256, 0, cuda::op_stream())(
        static_cast<const T*>(a.x), static_cast<T*>(a.y), a.B, a.H, a.T, a.d, a.positions, a.offset, a.theta, a.inverse);
    return cuda::check_launch_and_sync(a.inverse ? "rotaryBackward" : "rotary");
  });
}

}  // namespace mmpref

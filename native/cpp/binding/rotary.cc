// rotary (ops/rotary.h); arguments declared in lib/ops/rotary.args.ts.
#include <cmath>

#include "../ops/rotary.h"
#include "args/rotary.h"

namespace mmpref::napi {
namespace {

using A = args::rotary;
using RotaryJob = LaunchJob<RotaryArgs, rotary_cpu, MMPREF_CUDA(rotary_cuda)>;

Status prepare(const Call& c, RotaryJob* job) {
  const TensorView& x = c.t(A::x);
  MMPREF_RETURN_IF_ERROR(c.one_device());
  MMPREF_RETURN_IF_ERROR(c.same_shape(A::out, A::x, true));
  if (x.ndim != 4 || x.shape[3] % 2 != 0)
    return c.error(Code::kShape, "expected x of shape [B, H, T, d] with even d but received " + shape_str(x));
  if (c.has(A::positions)) MMPREF_RETURN_IF_ERROR(c.shape_is(A::positions, {x.shape[0], x.shape[2]}, "x " + shape_str(x)));
  const double theta = c.number(A::theta);
  if (!(theta > 0 && std::isfinite(theta))) return c.error(Code::kRange, "expected theta > 0 and finite but received " + std::to_string(theta));
  job->args = RotaryArgs{x.data, c.t(A::out).data, x.dtype, x.shape[0], x.shape[1], x.shape[2], x.shape[3],
                         c.has(A::positions) ? c.t(A::positions).ptr<int32_t>() : nullptr, c.integer(A::offset), theta, x.device};
  return Status::Ok();
}

// rotaryBackward: the same kernels rotating by -angle (dy -> dx).
using B = args::rotary_backward;

Status prepare_backward(const Call& c, RotaryJob* job) {
  const TensorView& dy = c.t(B::dy);
  MMPREF_RETURN_IF_ERROR(c.one_device());
  MMPREF_RETURN_IF_ERROR(c.same_shape(B::dx, B::dy, true));
  if (dy.ndim != 4 || dy.shape[3] % 2 != 0)
    return c.error(Code::kShape, "expected dy of shape [B, H, T, d] with even d but received " + shape_str(dy));
  if (c.has(B::positions)) MMPREF_RETURN_IF_ERROR(c.shape_is(B::positions, {dy.shape[0], dy.shape[2]}, "dy " + shape_str(dy)));
  const double theta = c.number(B::theta);
  if (!(theta > 0 && std::isfinite(theta))) return c.error(Code::kRange, "expected theta > 0 and finite but received " + std::to_string(theta));
  job->args = RotaryArgs{dy.data, c.t(B::dx).data, dy.dtype, dy.shape[0], dy.shape[1], dy.shape[2], dy.shape[3],
                         c.has(B::positions) ? c.t(B::positions).ptr<int32_t>() : nullptr, c.integer(B::offset), theta, dy.device, true};
  return Status::Ok();
}

}  // namespace
MMPREF_BIND_OP(args::rotary, RotaryJob, prepare);
MMPREF_BIND_OP(args::rotary_backward, RotaryJob, prepare_backward);
}  // namespace mmpref::napi

// rmsNorm (ops/rms_norm.h); arguments declared in lib/ops/rms_norm.args.ts.
#include <cmath>

#include "../ops/rms_norm.h"
#include "args/rms_norm.h"

namespace mmpref::napi {
namespace {

using A = args::rms_norm;
using RmsNormJob = LaunchJob<RmsNormArgs, rms_norm_cpu, MMPREF_CUDA(rms_norm_cuda)>;

Status prepare(const Call& c, RmsNormJob* job) {
  const TensorView &x = c.t(A::x), &w = c.t(A::weight);
  MMPREF_RETURN_IF_ERROR(c.one_device());
  MMPREF_RETURN_IF_ERROR(c.same_shape(A::out, A::x, true));
  if (x.ndim < 1) return c.error(Code::kShape, "expected x with at least 1 dimension but received a scalar");
  MMPREF_RETURN_IF_ERROR(c.shape_is(A::weight, {x.size(-1)}, "x " + shape_str(x)));
  if (w.dtype != x.dtype && w.dtype != DType::kFloat32)
    return c.error(Code::kDtype, std::string("expected weight of dtype ") + dtype_name(x.dtype) + " or float32 but received " + dtype_name(w.dtype));
  MMPREF_RETURN_IF_ERROR(c.finite_in(A::eps, 0, kFloatMax));
  const int64_t cols = x.size(-1);
  job->args = RmsNormArgs{x.data, w.data, c.t(A::out).data, x.dtype, w.dtype, cols ? x.numel / cols : 0, cols, float(c.number(A::eps)), x.device};
  return Status::Ok();
}

using B = args::rms_norm_backward;
using RmsNormBackwardJob = LaunchJob<RmsNormBackwardArgs, rms_norm_backward_cpu, MMPREF_CUDA(rms_norm_backward_cuda)>;

Status prepare_backward(const Call& c, RmsNormBackwardJob* job) {
  const TensorView &x = c.t(B::x), &w = c.t(B::weight);
  MMPREF_RETURN_IF_ERROR(c.one_device());
  if (x.ndim < 1) return c.error(Code::kShape, "expected x with at least 1 dimension but received a scalar");
  MMPREF_RETURN_IF_ERROR(c.same_shape(B::dy, B::x, true));
  MMPREF_RETURN_IF_ERROR(c.same_shape(B::dx, B::x, true));
  MMPREF_RETURN_IF_ERROR(c.shape_is(B::weight, {x.size(-1)}, "x " + shape_str(x)));
  MMPREF_RETURN_IF_ERROR(c.shape_is(B::dWeight, {x.size(-1)}, "x " + shape_str(x)));
  if (w.dtype != x.dtype && w.dtype != DType::kFloat32)
    return c.error(Code::kDtype, std::string("expected weight of dtype ") + dtype_name(x.dtype) + " or float32 but received " + dtype_name(w.dtype));
  MMPREF_RETURN_IF_ERROR(c.finite_in(B::eps, 0, kFloatMax));
  const int64_t cols = x.size(-1);
  job->args = RmsNormBackwardArgs{c.t(B::dy).data, x.data, w.data, c.t(B::dx).data, c.t(B::dWeight).ptr<float>(), x.dtype, w.dtype,
                                  cols ? x.numel / cols : 0, cols, float(c.number(B::eps)), c.boolean(B::accumulate), x.device};
  return Status::Ok();
}

}  // namespace
MMPREF_BIND_OP(args::rms_norm, RmsNormJob, prepare);
MMPREF_BIND_OP(args::rms_norm_backward, RmsNormBackwardJob, prepare_backward);
}  // namespace mmpref::napi

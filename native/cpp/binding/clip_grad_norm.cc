// The native halves of optim.clipGradNorm (ops/clip_grad_norm.h); arguments declared in
// lib/ops/clip_grad_norm.args.ts.
#include "../ops/clip_grad_norm.h"
#include "args/clip_grad_norm.h"

namespace mmpref::napi {
namespace {

using S = args::grad_sum_squares;
using SumSquaresJob = LaunchJob<SumSquaresArgs, grad_sum_squares_cpu, MMPREF_CUDA(grad_sum_squares_cuda)>;

Status prepare_sum(const Call& c, SumSquaresJob* job) {
  MMPREF_RETURN_IF_ERROR(c.one_device());
  MMPREF_RETURN_IF_ERROR(c.shape_is(S::out, {2}, "a (hi, lo) pair"));
  const TensorView& x = c.t(S::x);
  job->args = SumSquaresArgs{x.data, static_cast<float*>(c.t(S::out).data), x.dtype, x.numel, x.device};
  return Status::Ok();
}

using G = args::grad_scale;
using GradScaleJob = LaunchJob<GradScaleArgs, grad_scale_cpu, MMPREF_CUDA(grad_scale_cuda)>;

Status prepare_scale(const Call& c, GradScaleJob* job) {
  MMPREF_RETURN_IF_ERROR(c.one_device());
  MMPREF_RETURN_IF_ERROR(c.same_shape(G::out, G::x, true));
  // NB: NaN is allowed: a non-finite norm scales by NaN, as torch does without error_if_nonfinite
  const double coef = c.number(G::coef);
  if (!(coef != coef) && !(coef >= 0 && coef <= 1))
    return c.error(Code::kRange, "expected coef in [0, 1] or NaN but received " + std::to_string(coef));
  const TensorView& x = c.t(G::x);
  job->args = GradScaleArgs{x.data, c.t(G::out).data, x.dtype, x.numel, float(coef), x.device};
  return Status::Ok();
}

}  // namespace
MMPREF_BIND_OP(args::grad_sum_squares, SumSquaresJob, prepare_sum);
MMPREF_BIND_OP(args::grad_scale, GradScaleJob, prepare_scale);
}  // namespace mmpref::napi

// The native halves of optim.clipGradNorm (ops/clip_grad_norm.h); arguments and shapes (the sum's
// out a float32 [2] (hi, lo) pair, the scale's out like x) declared in lib/ops/clip_grad_norm.args.ts.
#include "../ops/clip_grad_norm.h"
#include "args/clip_grad_norm.h"

namespace mmpref::napi {
namespace {

MMPREF_LAUNCH_OP(args::grad_sum_squares, SumSquaresArgs, grad_sum_squares, prepare_sum) {
  MMPREF_RETURN_IF_ERROR(c.one_device());
  const TensorView& x = c.t(A::x);
  job->args = SumSquaresArgs{x.data, static_cast<float*>(c.t(A::out).data), x.dtype, x.numel, x.device};
  return Status::Ok();
}

MMPREF_LAUNCH_OP(args::grad_scale, GradScaleArgs, grad_scale, prepare_scale) {
  MMPREF_RETURN_IF_ERROR(c.one_device());
  // NB: NaN is allowed: a non-finite norm scales by NaN, as torch does without error_if_nonfinite
  const double coef = c.number(A::coef);
  if (!(coef != coef) && !(coef >= 0 && coef <= 1))
    return c.error(Code::kRange, "expected coef in [0, 1] or NaN but received " + std::to_string(coef));
  const TensorView& x = c.t(A::x);
  job->args = GradScaleArgs{x.data, c.t(A::out).data, x.dtype, x.numel, float(coef), x.device};
  return Status::Ok();
}

}  // namespace
}  // namespace mmpref::napi

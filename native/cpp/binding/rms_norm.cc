// rmsNorm (ops/rms_norm.h); arguments, shapes [..., D] / [D] and eps's range declared in lib/ops/rms_norm.args.ts.
#include "../ops/rms_norm.h"
#include "args/rms_norm.h"

namespace mmpref::napi {

// weight is x's dtype or float32 (a relation between dtypes, not a declared set)
static Status weight_dtype(const Call& c, int x, int w) {
  if (c.t(w).dtype == c.t(x).dtype || c.t(w).dtype == DType::kFloat32) return Status::Ok();
  return c.error(Code::kDtype, std::string("expected weight of dtype ") + dtype_name(c.t(x).dtype) + " or float32 but received " + dtype_name(c.t(w).dtype));
}

MMPREF_LAUNCH_OP(args::rms_norm, RmsNormArgs, rms_norm, prepare) {
  const TensorView &x = c.t(A::x), &w = c.t(A::weight);
  MMPREF_RETURN_IF_ERROR(c.one_device());
  MMPREF_RETURN_IF_ERROR(weight_dtype(c, A::x, A::weight));
  const int64_t cols = c.dim(A::dim::D);
  job->args = RmsNormArgs{x.data, w.data, c.t(A::out).data, x.dtype, w.dtype, cols ? x.numel / cols : 0, cols, float(c.number(A::eps)), x.device};
  return Status::Ok();
}

MMPREF_LAUNCH_OP(args::rms_norm_backward, RmsNormBackwardArgs, rms_norm_backward, prepare_backward) {
  const TensorView &x = c.t(A::x), &w = c.t(A::weight);
  MMPREF_RETURN_IF_ERROR(c.one_device());
  MMPREF_RETURN_IF_ERROR(weight_dtype(c, A::x, A::weight));
  const int64_t cols = c.dim(A::dim::D);
  job->args = RmsNormBackwardArgs{c.t(A::dy).data, x.data, w.data, c.t(A::dx).data, c.t(A::dWeight).template ptr<float>(), x.dtype, w.dtype,
                                  cols ? x.numel / cols : 0, cols, float(c.number(A::eps)), c.boolean(A::accumulate), x.device};
  return Status::Ok();
}

}  // namespace mmpref::napi

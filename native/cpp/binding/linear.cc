// linear and linearBackward (ops/linear.h); arguments and shapes declared in lib/ops/linear.args.ts
// (x [..., K], weight [N, K], bias [N], out [..., N]; dx like x, dWeight [N, K], dBias [N]).
// Here: one dtype for x, weight, bias, out, dy, and the backward's dy [..., N].
#include "../ops/linear.h"
#include "args/linear.h"

namespace mmpref::napi {
namespace {

MMPREF_LAUNCH_OP(args::linear, LinearArgs, linear, prepare) {
  const TensorView &x = c.t(A::x), &w = c.t(A::weight), &y = c.t(A::out);
  MMPREF_RETURN_IF_ERROR(c.one_device());
  MMPREF_RETURN_IF_ERROR(c.same_dtype(A::weight, A::x));
  MMPREF_RETURN_IF_ERROR(c.same_dtype(A::out, A::x));
  if (c.has(A::bias)) MMPREF_RETURN_IF_ERROR(c.same_dtype(A::bias, A::x));
  job->args = LinearArgs{x.data, w.data, c.has(A::bias) ? c.t(A::bias).data : nullptr, y.data, x.dtype, c.lead_numel(), c.dim(A::dim::N),
                         c.dim(A::dim::K), x.device};
  return Status::Ok();
}

// Outputs are distinct from the inputs and from each other (op_call).
MMPREF_LAUNCH_OP(args::linear_backward, LinearBackwardArgs, linear_backward, prepare_backward) {
  const TensorView &dy = c.t(A::dy), &x = c.t(A::x), &w = c.t(A::weight);
  MMPREF_RETURN_IF_ERROR(c.one_device());
  MMPREF_RETURN_IF_ERROR(c.same_dtype(A::x, A::dy));
  MMPREF_RETURN_IF_ERROR(c.same_dtype(A::weight, A::dy));
  const int64_t n = c.dim(A::dim::N);
  bool dy_ok = dy.ndim == x.ndim && dy.size(-1) == n;
  for (int d = 0; dy_ok && d < x.ndim - 1; ++d) dy_ok = dy.shape[d] == x.shape[d];
  if (!dy_ok) {
    std::string want = "[";
    for (int d = 0; d < x.ndim - 1; ++d) want += std::to_string(x.shape[d]) + ", ";
    return c.error(Code::kShape, "expected dy of shape " + want + std::to_string(n) + "] (from x " + shape_str(x) + " and weight " + shape_str(w) +
                                     ") but received " + shape_str(dy));
  }
  LinearBackwardArgs& a = job->args;
  a.dy = dy.data;
  a.x = x.data;
  a.w = w.data;
  a.dx = c.has(A::dx) ? c.t(A::dx).data : nullptr;
  a.dw = c.has(A::dWeight) ? c.t(A::dWeight).template ptr<float>() : nullptr;
  a.db = c.has(A::dBias) ? c.t(A::dBias).template ptr<float>() : nullptr;
  a.dtype = dy.dtype;
  a.m = c.lead_numel();
  a.n = n;
  a.k = c.dim(A::dim::K);
  a.accumulate = c.boolean(A::accumulate);
  a.device = dy.device;
  return Status::Ok();
}

}  // namespace
}  // namespace mmpref::napi

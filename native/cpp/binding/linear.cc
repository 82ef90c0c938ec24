// linear (ops/linear.h); arguments declared in lib/ops/linear.args.ts.
#include "../ops/linear.h"
#include "args/linear.h"

namespace mmpref::napi {
namespace {

using A = args::linear;

MMPREF_LAUNCH_OP(args::linear, LinearArgs, linear, prepare) {
  const TensorView &x = c.t(A::x), &w = c.t(A::weight), &y = c.t(A::out);
  MMPREF_RETURN_IF_ERROR(c.one_device());
  MMPREF_RETURN_IF_ERROR(c.same_dtype(A::weight, A::x));
  MMPREF_RETURN_IF_ERROR(c.same_dtype(A::out, A::x));
  if (c.has(A::bias)) MMPREF_RETURN_IF_ERROR(c.same_dtype(A::bias, A::x));
  if (x.ndim < 1 || w.ndim != 2)
    return c.error(Code::kShape, "expected x [..., K] and weight [N, K] but received x " + shape_str(x) + " and weight " + shape_str(w));
  const int64_t k = w.shape[1], n = w.shape[0];
  if (x.size(-1) != k)
    return c.error(Code::kShape, "expected x [..., " + std::to_string(k) + "] (from weight " + shape_str(w) + ") but received " + shape_str(x) +
                                     ": the last dimensions differ");
  int64_t m = 1;
  for (int d = 0; d < x.ndim - 1; ++d) m *= x.shape[d];
  if (c.has(A::bias)) MMPREF_RETURN_IF_ERROR(c.shape_is(A::bias, {n}, "weight " + shape_str(w)));
  bool out_ok = y.ndim == x.ndim && y.size(-1) == n;
  for (int d = 0; out_ok && d < x.ndim - 1; ++d) out_ok = y.shape[d] == x.shape[d];
  if (!out_ok)
    return c.error(Code::kShape, "expected out of x's leading shape and " + std::to_string(n) + " columns (x " + shape_str(x) +
                                     ", weight " + shape_str(w) + ") but received " + shape_str(y));
  job->args = LinearArgs{x.data, w.data, c.has(A::bias) ? c.t(A::bias).data : nullptr, y.data, x.dtype, m, n, k, x.device};
  return Status::Ok();
}

using B = args::linear_backward;

// dy [..., N], x [..., K] (the same leading dims), weight [N, K]; dx like x, dWeight [N, K] and
// dBias [N] float32. Outputs are distinct from the inputs and from each other (op_call).
MMPREF_LAUNCH_OP(args::linear_backward, LinearBackwardArgs, linear_backward, prepare_backward) {
  const TensorView &dy = c.t(A::dy), &x = c.t(A::x), &w = c.t(A::weight);
  MMPREF_RETURN_IF_ERROR(c.one_device());
  MMPREF_RETURN_IF_ERROR(c.same_dtype(A::x, A::dy));
  MMPREF_RETURN_IF_ERROR(c.same_dtype(A::weight, A::dy));
  if (c.has(A::dx)) MMPREF_RETURN_IF_ERROR(c.same_dtype(A::dx, A::dy));
  if (x.ndim < 1 || w.ndim != 2)
    return c.error(Code::kShape, "expected x [..., K] and weight [N, K] but received x " + shape_str(x) + " and weight " + shape_str(w));
  const int64_t n = w.shape[0], k = w.shape[1];
  if (x.size(-1) != k)
    return c.error(Code::kShape, "expected x [..., " + std::to_string(k) + "] (from weight " + shape_str(w) + ") but received " + shape_str(x) +
                                     ": the last dimensions differ");
  bool dy_ok = dy.ndim == x.ndim && dy.size(-1) == n;
  for (int d = 0; dy_ok && d < x.ndim - 1; ++d) dy_ok = dy.shape[d] == x.shape[d];
  if (!dy_ok)
    return c.error(Code::kShape, "expected dy of x's leading shape and " + std::to_string(n) + " columns (x " + shape_str(x) + ", weight " +
                                     shape_str(w) + ") but received " + shape_str(dy));
  int64_t m = 1;
  for (int d = 0; d < x.ndim - 1; ++d) m *= x.shape[d];
  if (c.has(A::dx)) MMPREF_RETURN_IF_ERROR(c.same_shape(A::dx, A::x));
  if (c.has(A::dWeight)) MMPREF_RETURN_IF_ERROR(c.same_shape(A::dWeight, A::weight));
  if (c.has(A::dBias)) MMPREF_RETURN_IF_ERROR(c.shape_is(A::dBias, {n}, "weight " + shape_str(w)));
  LinearBackwardArgs& a = job->args;
  a.dy = dy.data;
  a.x = x.data;
  a.w = w.data;
  a.dx = c.has(A::dx) ? c.t(A::dx).data : nullptr;
  a.dw = c.has(A::dWeight) ? static_cast<float*>(c.t(A::dWeight).data) : nullptr;
  a.db = c.has(A::dBias) ? static_cast<float*>(c.t(A::dBias).data) : nullptr;
  a.dtype = dy.dtype;
  a.m = m;
  a.n = n;
  a.k = k;
  a.accumulate = c.boolean(A::accumulate);
  a.device = dy.device;
  return Status::Ok();
}

}  // namespace
}  // namespace mmpref::napi

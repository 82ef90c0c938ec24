// linear (ops/linear.h); arguments declared in lib/ops/linear.args.ts.
#include "../ops/linear.h"
#include "args/linear.h"

namespace mmpref::napi {
namespace {

using A = args::linear;
using LinearJob = LaunchJob<LinearArgs, linear_cpu, MMPREF_CUDA(linear_cuda)>;

Status prepare(const Call& c, LinearJob* job) {
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
using LinearBackwardJob = LaunchJob<LinearBackwardArgs, linear_backward_cpu, MMPREF_CUDA(linear_backward_cuda)>;

// dy [..., N], x [..., K] (the same leading dims), weight [N, K]; dx like x, dWeight [N, K] and
// dBias [N] float32. Outputs are distinct from the inputs and from each other (op_call).
Status prepare_backward(const Call& c, LinearBackwardJob* job) {
  const TensorView &dy = c.t(B::dy), &x = c.t(B::x), &w = c.t(B::weight);
  MMPREF_RETURN_IF_ERROR(c.one_device());
  MMPREF_RETURN_IF_ERROR(c.same_dtype(B::x, B::dy));
  MMPREF_RETURN_IF_ERROR(c.same_dtype(B::weight, B::dy));
  if (c.has(B::dx)) MMPREF_RETURN_IF_ERROR(c.same_dtype(B::dx, B::dy));
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
  if (c.has(B::dx)) MMPREF_RETURN_IF_ERROR(c.same_shape(B::dx, B::x));
  if (c.has(B::dWeight)) MMPREF_RETURN_IF_ERROR(c.same_shape(B::dWeight, B::weight));
  if (c.has(B::dBias)) MMPREF_RETURN_IF_ERROR(c.shape_is(B::dBias, {n}, "weight " + shape_str(w)));
  LinearBackwardArgs& a = job->args;
  a.dy = dy.data;
  a.x = x.data;
  a.w = w.data;
  a.dx = c.has(B::dx) ? c.t(B::dx).data : nullptr;
  a.dw = c.has(B::dWeight) ? static_cast<float*>(c.t(B::dWeight).data) : nullptr;
  a.db = c.has(B::dBias) ? static_cast<float*>(c.t(B::dBias).data) : nullptr;
  a.dtype = dy.dtype;
  a.m = m;
  a.n = n;
  a.k = k;
  a.accumulate = c.boolean(B::accumulate);
  a.device = dy.device;
  return Status::Ok();
}

}  // namespace
MMPREF_BIND_OP(args::linear, LinearJob, prepare);
MMPREF_BIND_OP(args::linear_backward, LinearBackwardJob, prepare_backward);
}  // namespace mmpref::napi

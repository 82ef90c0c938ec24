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

}  // namespace
MMPREF_BIND_OP(args::linear, LinearJob, prepare);
}  // namespace mmpref::napi

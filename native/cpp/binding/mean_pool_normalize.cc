// meanPoolNormalize (ops/mean_pool_normalize.h); arguments declared in lib/ops/mean_pool_normalize.args.ts.
#include "../ops/mean_pool_normalize.h"
#include "args/mean_pool_normalize.h"

namespace mmpref::napi {
MMPREF_LAUNCH_OP(args::mean_pool_normalize, MeanPoolArgs, mean_pool_normalize, prepare) {
  const TensorView& x = c.t(A::x);
  MMPREF_RETURN_IF_ERROR(c.one_device());
  if (x.ndim != 3) return c.error(Code::kShape, "expected x [M, T, E] but received " + shape_str(x));
  const int64_t m = x.shape[0], t = x.shape[1], e = x.shape[2];
  if (c.has(A::mask)) MMPREF_RETURN_IF_ERROR(c.shape_is(A::mask, {m, t}, "x " + shape_str(x)));
  MMPREF_RETURN_IF_ERROR(c.shape_is(A::out, {m, e}, "x " + shape_str(x)));
  const TensorView& mask = c.t(A::mask);
  job->args = MeanPoolArgs{x.data, x.dtype, m, t, e, c.has(A::mask) ? mask.data : nullptr, mask.dtype, c.boolean(A::normalize),
                           c.t(A::out).template ptr<float>(), x.device};
  return Status::Ok();
}

}  // namespace mmpref::napi

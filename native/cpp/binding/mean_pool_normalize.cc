// meanPoolNormalize (ops/mean_pool_normalize.h); arguments and shapes tokens [M, T, E], mask [M, T],
// out [M, E] declared in lib/ops/mean_pool_normalize.args.ts.
#include "../ops/mean_pool_normalize.h"
#include "args/mean_pool_normalize.h"

namespace mmpref::napi {
MMPREF_LAUNCH_OP(args::mean_pool_normalize, MeanPoolArgs, mean_pool_normalize, prepare) {
  const TensorView &x = c.t(A::tokens), &mask = c.t(A::mask);
  MMPREF_RETURN_IF_ERROR(c.one_device());
  job->args = MeanPoolArgs{x.data, x.dtype, c.dim(A::dim::M), c.dim(A::dim::T), c.dim(A::dim::E), c.has(A::mask) ? mask.data : nullptr,
                           mask.dtype, c.boolean(A::normalize), c.t(A::out).template ptr<float>(), x.device};
  return Status::Ok();
}

}  // namespace mmpref::napi

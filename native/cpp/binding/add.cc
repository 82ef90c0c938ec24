// add (ops/add.h); arguments, `like a` shapes and alpha's range declared in lib/ops/add.args.ts.
#include "../ops/add.h"
#include "args/add.h"

namespace mmpref::napi {

MMPREF_LAUNCH_OP(args::add, ElementwiseArgs, add, prepare) {
  MMPREF_RETURN_IF_ERROR(c.one_device());
  const TensorView& a = c.t(A::a);
  job->args = ElementwiseArgs{a.data, c.t(A::b).data, c.t(A::out).data, a.dtype, a.numel, float(c.number(A::alpha)), a.device};
  return Status::Ok();
}

}  // namespace mmpref::napi

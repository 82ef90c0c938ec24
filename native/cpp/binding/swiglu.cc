// swiglu (ops/swiglu.h); arguments and `like gate` shapes declared in lib/ops/swiglu.args.ts.
#include "../ops/swiglu.h"
#include "args/swiglu.h"

namespace mmpref::napi {

MMPREF_LAUNCH_OP(args::swiglu, ElementwiseArgs, swiglu, prepare) {
  MMPREF_RETURN_IF_ERROR(c.one_device());
  const TensorView& g = c.t(A::gate);
  job->args = ElementwiseArgs{g.data, c.t(A::up).data, c.t(A::out).data, g.dtype, g.numel, 1.0f, g.device};
  return Status::Ok();
}

MMPREF_LAUNCH_OP(args::swiglu_backward, SwigluBackwardArgs, swiglu_backward, prepare_backward) {
  MMPREF_RETURN_IF_ERROR(c.one_device());
  const TensorView& g = c.t(A::gate);
  job->args = SwigluBackwardArgs{c.t(A::dy).data, g.data, c.t(A::up).data, c.t(A::dGate).data, c.t(A::dUp).data, g.dtype, g.numel, g.device};
  return Status::Ok();
}

}  // namespace mmpref::napi

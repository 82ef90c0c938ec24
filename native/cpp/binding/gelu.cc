// gelu and geluBackward (ops/gelu.h); arguments and `like` shapes declared in lib/ops/gelu.args.ts.
#include "../ops/gelu.h"
#include "args/gelu.h"

namespace mmpref::napi {

MMPREF_LAUNCH_OP(args::gelu, GeluArgs, gelu, prepare) {
  MMPREF_RETURN_IF_ERROR(c.one_device());
  const TensorView& x = c.t(A::x);
  job->args = GeluArgs{x.data, nullptr, c.t(A::out).data, x.dtype, x.numel, c.boolean(A::tanh), x.device};
  return Status::Ok();
}

MMPREF_LAUNCH_OP(args::gelu_backward, GeluArgs, gelu_backward, prepare_backward) {
  MMPREF_RETURN_IF_ERROR(c.one_device());
  const TensorView& x = c.t(A::x);
  job->args = GeluArgs{x.data, c.t(A::dy).data, c.t(A::out).data, x.dtype, x.numel, c.boolean(A::tanh), x.device};
  return Status::Ok();
}

}  // namespace mmpref::napi

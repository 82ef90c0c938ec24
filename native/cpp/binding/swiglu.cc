// swiglu (ops/swiglu.h); arguments declared in lib/ops/swiglu.args.ts.
#include "../ops/swiglu.h"
#include "args/swiglu.h"

namespace mmpref::napi {
namespace {

using A = args::swiglu;
using SwigluJob = LaunchJob<ElementwiseArgs, swiglu_cpu, MMPREF_CUDA(swiglu_cuda)>;

Status prepare(const Call& c, SwigluJob* job) {
  MMPREF_RETURN_IF_ERROR(c.one_device());
  MMPREF_RETURN_IF_ERROR(c.same_shape(A::up, A::gate, true));
  MMPREF_RETURN_IF_ERROR(c.same_shape(A::out, A::gate, true));
  const TensorView& x = c.t(A::gate);
  job->args = ElementwiseArgs{x.data, c.t(A::up).data, c.t(A::out).data, x.dtype, x.numel, 1.0f, x.device};
  return Status::Ok();
}

using B = args::swiglu_backward;
using SwigluBackwardJob = LaunchJob<SwigluBackwardArgs, swiglu_backward_cpu, MMPREF_CUDA(swiglu_backward_cuda)>;

Status prepare_backward(const Call& c, SwigluBackwardJob* job) {
  MMPREF_RETURN_IF_ERROR(c.one_device());
  MMPREF_RETURN_IF_ERROR(c.same_shape(B::dy, B::gate, true));
  MMPREF_RETURN_IF_ERROR(c.same_shape(B::up, B::gate, true));
  MMPREF_RETURN_IF_ERROR(c.same_shape(B::dGate, B::gate, true));
  MMPREF_RETURN_IF_ERROR(c.same_shape(B::dUp, B::gate, true));
  const TensorView& g = c.t(B::gate);
  job->args = SwigluBackwardArgs{c.t(B::dy).data, g.data, c.t(B::up).data, c.t(B::dGate).data, c.t(B::dUp).data, g.dtype, g.numel, g.device};
  return Status::Ok();
}

}  // namespace
MMPREF_BIND_OP(args::swiglu, SwigluJob, prepare);
MMPREF_BIND_OP(args::swiglu_backward, SwigluBackwardJob, prepare_backward);
}  // namespace mmpref::napi

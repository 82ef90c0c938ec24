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

}  // namespace
MMPREF_BIND_OP(args::swiglu, SwigluJob, prepare);
}  // namespace mmpref::napi

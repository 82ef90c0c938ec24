// gelu and geluBackward (ops/gelu.h); arguments declared in lib/ops/gelu.args.ts.
#include "../ops/gelu.h"
#include "args/gelu.h"

namespace mmpref::napi {
namespace {

using GeluJob = LaunchJob<GeluArgs, gelu_cpu, MMPREF_CUDA(gelu_cuda)>;

Status prepare(const Call& c, GeluJob* job) {
  using A = args::gelu;
  MMPREF_RETURN_IF_ERROR(c.one_device());
  MMPREF_RETURN_IF_ERROR(c.same_shape(A::out, A::x, true));
  const TensorView& x = c.t(A::x);
  job->args = GeluArgs{x.data, nullptr, c.t(A::out).data, x.dtype, x.numel, c.boolean(A::tanh), x.device};
  return Status::Ok();
}

using GeluBackwardJob = LaunchJob<GeluArgs, gelu_backward_cpu, MMPREF_CUDA(gelu_backward_cuda)>;

Status prepare_backward(const Call& c, GeluBackwardJob* job) {
  using A = args::gelu_backward;
  MMPREF_RETURN_IF_ERROR(c.one_device());
  MMPREF_RETURN_IF_ERROR(c.same_shape(A::dy, A::x, true));
  MMPREF_RETURN_IF_ERROR(c.same_shape(A::out, A::x, true));
  const TensorView& x = c.t(A::x);
  job->args = GeluArgs{x.data, c.t(A::dy).data, c.t(A::out).data, x.dtype, x.numel, c.boolean(A::tanh), x.device};
  return Status::Ok();
}

}  // namespace
MMPREF_BIND_OP(args::gelu, GeluJob, prepare);
MMPREF_BIND_OP(args::gelu_backward, GeluBackwardJob, prepare_backward);
}  // namespace mmpref::napi

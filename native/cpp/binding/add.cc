// add (ops/add.h); arguments declared in lib/ops/add.args.ts.
#include "../ops/add.h"
#include "args/add.h"

namespace mmpref::napi {
namespace {

using A = args::add;
using AddJob = LaunchJob<ElementwiseArgs, add_cpu, MMPREF_CUDA(add_cuda)>;

Status prepare(const Call& c, AddJob* job) {
  MMPREF_RETURN_IF_ERROR(c.one_device());
  MMPREF_RETURN_IF_ERROR(c.same_shape(A::b, A::a, true));
  MMPREF_RETURN_IF_ERROR(c.same_shape(A::out, A::a, true));
  MMPREF_RETURN_IF_ERROR(c.finite_in(A::alpha, -kFloatMax, kFloatMax));
  const TensorView& x = c.t(A::a);
  job->args = ElementwiseArgs{x.data, c.t(A::b).data, c.t(A::out).data, x.dtype, x.numel, float(c.number(A::alpha)), x.device};
  return Status::Ok();
}

}  // namespace
MMPREF_BIND_OP(args::add, AddJob, prepare);
}  // namespace mmpref::napi

// logSumExp (ops/log_sum_exp.h); arguments and shapes x [..., C] -> out [...] declared in lib/ops/log_sum_exp.args.ts.
#include "../ops/log_sum_exp.h"
#include "args/log_sum_exp.h"

namespace mmpref::napi {

MMPREF_LAUNCH_OP(args::log_sum_exp, LogSumExpArgs, log_sum_exp, prepare) {
  const TensorView& x = c.t(A::x);
  MMPREF_RETURN_IF_ERROR(c.one_device());
  job->args = LogSumExpArgs{x.data, c.t(A::out).template ptr<float>(), x.dtype, c.lead_numel(), c.dim(A::dim::C), x.device};
  return Status::Ok();
}

}  // namespace mmpref::napi

// logSumExp (ops/log_sum_exp.h); arguments declared in lib/ops/log_sum_exp.args.ts.
#include "../ops/log_sum_exp.h"
#include "args/log_sum_exp.h"

namespace mmpref::napi {
namespace {

using A = args::log_sum_exp;
using LogSumExpJob = LaunchJob<LogSumExpArgs, log_sum_exp_cpu, MMPREF_CUDA(log_sum_exp_cuda)>;

Status prepare(const Call& c, LogSumExpJob* job) {
  const TensorView& x = c.t(A::x);
  MMPREF_RETURN_IF_ERROR(c.one_device());
  if (x.ndim < 1) return c.error(Code::kShape, "expected x with at least 1 dimension but received a scalar (shape [])");
  int64_t rows = 1;  // the leading dims may overflow only when the last is 0
  for (int d = 0; d < x.ndim - 1; ++d)
    if (__builtin_mul_overflow(rows, x.shape[d], &rows)) return c.error(Code::kShape, "expected x's row count to fit int64 but received " + shape_str(x));
  MMPREF_RETURN_IF_ERROR(c.numel_is(A::out, rows, "one per row of x " + shape_str(x)));
  job->args = LogSumExpArgs{x.data, c.t(A::out).ptr<float>(), x.dtype, rows, x.size(-1), x.device};
  return Status::Ok();
}

}  // namespace
MMPREF_BIND_OP(args::log_sum_exp, LogSumExpJob, prepare);
}  // namespace mmpref::napi

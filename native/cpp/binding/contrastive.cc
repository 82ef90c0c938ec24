// contrastive (ops/contrastive.h); arguments declared in lib/ops/contrastive.args.ts.
#include <cmath>

#include "../ops/contrastive.h"
#include "args/contrastive.h"

namespace mmpref::napi {
MMPREF_LAUNCH_OP(args::contrastive, ContrastiveArgs, contrastive, prepare) {
  const TensorView& l = c.t(A::logits);
  MMPREF_RETURN_IF_ERROR(c.one_device());
  if (l.ndim < 1) return c.error(Code::kShape, "expected logits [..., V] but received a scalar");
  if (!c.same_shape(A::distortedLogits, A::logits).ok() || !c.same_shape(A::out, A::logits).ok())
    return c.error(Code::kShape, "expected logits, distortedLogits and out of one shape [..., V] but received " + shape_str(l) + ", " +
                                     shape_str(c.t(A::distortedLogits)) + " and " + shape_str(c.t(A::out)));
  MMPREF_RETURN_IF_ERROR(c.same_dtype(A::distortedLogits, A::logits));
  const int64_t cols = l.size(-1);
  int64_t rows = 1;
  for (int d = 0; d < l.ndim - 1; ++d)
    if (__builtin_mul_overflow(rows, l.shape[d], &rows)) return c.error(Code::kShape, "expected a row count that fits int64 but received " + shape_str(l));
  if (c.has(A::rowActive)) MMPREF_RETURN_IF_ERROR(c.numel_is(A::rowActive, rows, "one per row of logits " + shape_str(l)));
  const float af = float(c.number(A::alpha));
  if (!std::isfinite(af)) return c.error(Code::kRange, "expected a finite float32 alpha but received " + std::to_string(c.number(A::alpha)));
  MMPREF_RETURN_IF_ERROR(c.finite_in(A::beta, 0, 1));
  job->args = ContrastiveArgs{l.data, c.t(A::distortedLogits).data, c.has(A::rowActive) ? c.t(A::rowActive).template ptr<uint8_t>() : nullptr,
                              c.t(A::out).template ptr<float>(), l.dtype, rows, cols, af, float(std::log(c.number(A::beta))), l.device};
  return Status::Ok();
}

}  // namespace mmpref::napi

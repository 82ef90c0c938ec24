// contrastive (ops/contrastive.h); arguments, shapes logits, distortedLogits, out [..., V],
// rowActive [...] and the ranges of alpha and beta declared in lib/ops/contrastive.args.ts.
#include <cmath>

#include "../ops/contrastive.h"
#include "args/contrastive.h"

namespace mmpref::napi {
MMPREF_LAUNCH_OP(args::contrastive, ContrastiveArgs, contrastive, prepare) {
  const TensorView& l = c.t(A::logits);
  MMPREF_RETURN_IF_ERROR(c.one_device());
  MMPREF_RETURN_IF_ERROR(c.same_dtype(A::distortedLogits, A::logits));
  job->args = ContrastiveArgs{l.data, c.t(A::distortedLogits).data, c.t(A::rowActive).template ptr<uint8_t>(),
                              c.t(A::out).template ptr<float>(), l.dtype, c.lead_numel(), c.dim(A::dim::V), float(c.number(A::alpha)),
                              float(std::log(c.number(A::beta))), l.device};
  return Status::Ok();
}

}  // namespace mmpref::napi

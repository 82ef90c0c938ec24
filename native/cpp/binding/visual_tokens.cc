// noise.visualTokens (ops/visual_tokens.h); arguments, shapes x [B, N, D], out like x (may be x),
// mask bool/uint8 [B, N], rows bool/uint8 [B] or null and the ranges of sigma and prob declared
// in lib/ops/visual_tokens.args.ts; scale 0 absolute, 1 token-rms, 2 token-std.
#include "../ops/visual_tokens.h"
#include "args/visual_tokens.h"

namespace mmpref::napi {
MMPREF_LAUNCH_OP(args::visual_tokens, VisualTokensArgs, visual_tokens, prepare) {
  const TensorView& x = c.t(A::x);
  MMPREF_RETURN_IF_ERROR(c.one_device());
  job->args = VisualTokensArgs{x.data, c.t(A::out).data, x.dtype, c.dim(A::dim::B), c.dim(A::dim::N), c.dim(A::dim::D),
                               c.t(A::mask).template ptr<uint8_t>(), c.t(A::rows).template ptr<uint8_t>(),
                               float(c.number(A::sigma)), TokenScale(c.integer(A::scale)), float(c.number(A::prob)), c.u64(A::seed),
                               c.u64(A::offset), x.device};
  return Status::Ok();
}

}  // namespace mmpref::napi

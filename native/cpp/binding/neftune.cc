// noise.neftune (ops/neftune.h); arguments, shapes embeds [B, L, D], out like embeds (may be
// embeds), lengths int32 [B], mask bool/uint8 [B, L] and alpha's range declared in
// lib/ops/neftune.args.ts; lengths or mask, not both.
#include "../ops/neftune.h"
#include "args/neftune.h"

namespace mmpref::napi {
MMPREF_LAUNCH_OP(args::neftune, NeftuneArgs, neftune, prepare) {
  const TensorView& x = c.t(A::embeds);
  MMPREF_RETURN_IF_ERROR(c.one_device());
  if (c.has(A::lengths) && c.has(A::mask)) return c.error(Code::kArgument, "expected lengths or mask, not both");
  job->args = NeftuneArgs{x.data, c.t(A::out).data, x.dtype, c.dim(A::dim::B), c.dim(A::dim::L), c.dim(A::dim::D),
                          c.t(A::lengths).template ptr<int32_t>(), c.t(A::mask).template ptr<uint8_t>(), float(c.number(A::alpha)),
                          c.boolean(A::paddedNorm), c.u64(A::seed), c.u64(A::offset), x.device};
  return Status::Ok();
}

}  // namespace mmpref::napi

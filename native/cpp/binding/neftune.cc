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
  NeftuneArgs& r = job->args;
  r.x = x.data;
  r.y = c.t(A::out).data;
  r.dtype = x.dtype;
  r.batch = c.dim(A::dim::B);
  r.seq = c.dim(A::dim::L);
  r.dim = c.dim(A::dim::D);
  r.lengths = c.has(A::lengths) ? c.t(A::lengths).template ptr<int32_t>() : nullptr;
  r.mask = c.has(A::mask) ? c.t(A::mask).template ptr<uint8_t>() : nullptr;
  r.alpha = float(c.number(A::alpha));
  r.padded_norm = c.boolean(A::paddedNorm);
  r.seed = c.u64(A::seed);
  r.offset = c.u64(A::offset);
  r.device = x.device;
  return Status::Ok();
}

}  // namespace mmpref::napi

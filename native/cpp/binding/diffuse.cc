// noise.diffuse (ops/diffuse.h); arguments and shapes declared in lib/ops/diffuse.args.ts: x0 float or uint8
// [B, ...], out float (same shape; may be x0 for float x0), eps float32 or null, t int32 [B] or
// null (then tScalar), schedules float32 [T], normSub/normDiv float32 [C] (uint8 only; channel of
// element j of a sample = (j / inner) % C).
#include "../ops/diffuse.h"
#include "args/diffuse.h"

namespace mmpref::napi {
MMPREF_LAUNCH_OP(args::diffuse, DiffuseArgs, diffuse, prepare) {
  const TensorView &x = c.t(A::x0), &ca = c.t(A::sqrtAlphasCumprod);
  MMPREF_RETURN_IF_ERROR(c.one_device());
  if (x.ndim < 1) return c.error(Code::kShape, "expected x0 with a batch dimension but received a scalar");
  const int64_t B = x.shape[0];
  int64_t S = 1;
  for (int d = 1; d < x.ndim; ++d) S *= x.shape[d];  // no overflow: numel was checked (B = 0 aside)
  const bool u8 = x.dtype == DType::kUInt8;
  if (!u8) MMPREF_RETURN_IF_ERROR(c.same_dtype(A::out, A::x0));
  if (c.has(A::t)) MMPREF_RETURN_IF_ERROR(c.shape_is(A::t, {B}, "x0 [B, ...]"));
  if (ca.numel < 1) return c.error(Code::kShape, "expected a schedule of at least 1 step but received 0");
  if (u8 != (c.has(A::normSub) && c.has(A::normDiv)))
    return c.error(Code::kArgument, u8 ? "expected normSub and normDiv for uint8 x0 but received none"
                                       : "expected normSub/normDiv for uint8 x0 only but received them with a float x0");
  const int64_t inner = c.integer(A::inner);
  const int64_t C = u8 ? c.dim(A::dim::C) : 1;
  if (u8 && (C < 1 || S % C != 0 || (S / C) % inner != 0))
    return c.error(Code::kShape, "expected " + std::to_string(C) + " channels with inner size " + std::to_string(inner) + " to tile samples of " +
                                     std::to_string(S) + " elements but received x0 " + shape_str(x) + ": they do not tile");
  const TensorView& out = c.t(A::out);
  job->args = DiffuseArgs{x.data, x.dtype, out.data, out.dtype, c.t(A::eps).template ptr<float>(), B, S, c.t(A::t).template ptr<int32_t>(),
                          int32_t(c.integer(A::tScalar)), ca.ptr<float>(), c.t(A::sqrtOneMinusAlphasCumprod).template ptr<float>(),
                          ca.numel, u8 ? c.t(A::normSub).template ptr<float>() : nullptr, u8 ? c.t(A::normDiv).template ptr<float>() : nullptr, C, inner,
                          c.u64(A::seed), c.u64(A::offset), x.device};
  return Status::Ok();
}

}  // namespace mmpref::napi

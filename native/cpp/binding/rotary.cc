// rotary and rotaryBackward (ops/rotary.h); arguments, shapes x [B, H, T, d], positions [B, T] and
// theta's range declared in lib/ops/rotary.args.ts. rotaryBackward runs the same kernels rotating
// by -angle (dy -> dx).
#include "../ops/rotary.h"
#include "args/rotary.h"

namespace mmpref::napi {

template <class A>
static Status rotary_args(const Call& c, int x_arg, int out_arg, bool backward, RotaryArgs* args) {
  const TensorView& x = c.t(x_arg);
  MMPREF_RETURN_IF_ERROR(c.one_device());
  if (x.shape[3] % 2 != 0)
    return c.error(Code::kShape, std::string("expected an even head dimension but received ") + c.name(x_arg) + " of shape " + shape_str(x));
  *args = RotaryArgs{x.data, c.t(out_arg).data, x.dtype, c.dim(A::dim::B), x.shape[1], c.dim(A::dim::T), c.dim(A::dim::d),
                     c.has(A::positions) ? c.t(A::positions).template ptr<int32_t>() : nullptr, c.integer(A::offset), c.number(A::theta),
                     x.device, backward};
  return Status::Ok();
}

MMPREF_LAUNCH_OP(args::rotary, RotaryArgs, rotary, prepare) { return rotary_args<A>(c, A::x, A::out, false, &job->args); }

MMPREF_LAUNCH_OP(args::rotary_backward, RotaryArgs, rotary, prepare_backward) {
  return rotary_args<A>(c, A::dy, A::dx, true, &job->args);
}

}  // namespace mmpref::napi

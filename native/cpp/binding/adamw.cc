// optim.adamw, one tensor per call (ops/adamw.h); arguments, shapes (grad, m, v, master of param's)
// and the scalars' ranges declared in lib/ops/adamw.args.ts.
#include <cmath>

#include "../ops/adamw.h"
#include "args/adamw.h"

namespace mmpref::napi {
MMPREF_LAUNCH_OP(args::adamw, AdamwArgs, adamw, prepare) {
  const TensorView &p = c.t(A::param), &g = c.t(A::grad);
  MMPREF_RETURN_IF_ERROR(c.one_device());
  if (g.dtype != DType::kFloat32 && g.dtype != p.dtype)
    return c.error(Code::kDtype, std::string("expected grad of dtype float32 or ") + dtype_name(p.dtype) + " (the param's) but received " + dtype_name(g.dtype));
  const double lr = c.number(A::lr), b1 = c.number(A::beta1), b2 = c.number(A::beta2), wd = c.number(A::weightDecay);
  const double t = double(c.integer(A::step));
  // NB: the scalars in float64 as torch computes them in Python, each rounded to float32 once
  const double bc1 = 1.0 - std::pow(b1, t), bc2 = 1.0 - std::pow(b2, t);
  AdamwArgs& a = job->args;
  a = AdamwArgs{};
  a.param = p.data;
  a.grad = g.data;
  a.m = static_cast<float*>(c.t(A::m).data);
  a.v = static_cast<float*>(c.t(A::v).data);
  a.master = c.has(A::master) ? static_cast<float*>(c.t(A::master).data) : nullptr;
  a.param_dtype = p.dtype;
  a.grad_dtype = g.dtype;
  a.n = p.numel;
  a.decay = float(1.0 - lr * wd);
  a.beta1_w = float(1.0 - b1);
  a.beta2 = float(b2);
  a.beta2_c = float(1.0 - b2);
  a.step_size = float(lr / bc1);
  a.bc2_sqrt = float(std::sqrt(bc2));
  a.eps = float(c.number(A::eps));
  a.device = p.device;
  return Status::Ok();
}

}  // namespace mmpref::napi

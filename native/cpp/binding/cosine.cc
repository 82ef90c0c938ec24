// cosine and similarityFilter (ops/cosine.h); arguments declared in lib/ops/cosine.args.ts.
#include <cmath>

#include "../ops/cosine.h"
#include "args/cosine.h"

namespace mmpref::napi {
namespace {

// The two embedding matrices and the paired flag (indices 0..2 in both decls).
template <class A>
Status read_inputs(const Call& c, CosineArgs* g) {
  constexpr int xa = 0, xb = 1;
  const TensorView &x = c.t(xa), &y = c.t(xb);
  MMPREF_RETURN_IF_ERROR(c.one_device());
  MMPREF_RETURN_IF_ERROR(c.same_dtype(xb, xa));
  g->paired = c.boolean(A::paired);
  if (x.ndim != 2 || y.ndim != 2 || x.shape[1] != y.shape[1] || (g->paired && x.shape[0] != y.shape[0]))
    return c.error(Code::kShape, std::string("expected ") + c.name(xa) + " [N, E] and " + c.name(xb) + (g->paired ? " [N, E]" : " [M, E]") +
                                     " but received " + shape_str(x) + " and " + shape_str(y));
  *g = CosineArgs{};
  g->paired = c.boolean(A::paired);
  g->a = x.data;
  g->b = y.data;
  g->dtype = x.dtype;
  g->n = x.shape[0];
  g->m = y.shape[0];
  g->e = x.shape[1];
  g->device = x.device;
  return Status::Ok();
}

MMPREF_LAUNCH_OP(args::cosine, CosineArgs, cosine, prepare_cosine) {
  static_assert(A::a == 0 && A::b == 1);
  CosineArgs& g = job->args;
  MMPREF_RETURN_IF_ERROR(read_inputs<A>(c, &g));
  if (g.paired) MMPREF_RETURN_IF_ERROR(c.shape_is(A::out, {g.n}, "paired a and b"));
  else MMPREF_RETURN_IF_ERROR(c.shape_is(A::out, {g.n, g.m}, "a and b"));
  g.out = c.t(A::out).template ptr<float>();
  return Status::Ok();
}

MMPREF_LAUNCH_OP(args::similarity_filter, CosineArgs, cosine, prepare_filter) {
  static_assert(A::candidates == 0 && A::references == 1);
  CosineArgs& g = job->args;
  MMPREF_RETURN_IF_ERROR(read_inputs<A>(c, &g));
  MMPREF_RETURN_IF_ERROR(c.finite_in(A::threshold, -kFloatMax, kFloatMax));
  MMPREF_RETURN_IF_ERROR(c.shape_is(A::keep, {g.n}, "candidates"));
  g.threshold = float(c.number(A::threshold));
  g.keep = c.t(A::keep).template ptr<uint8_t>();
  return Status::Ok();
}

}  // namespace
}  // namespace mmpref::napi

// cosine and similarityFilter (ops/cosine.h); arguments, shapes [N, E] / [M, E], keep [N] and
// threshold's range declared in lib/ops/cosine.args.ts.
#include "../ops/cosine.h"
#include "args/cosine.h"

namespace mmpref::napi {
namespace {

// The two embedding matrices (arguments 0 and 1 of both ops, shapes declared) and the paired flag:
// b of a's dtype, and paired's M = N (a flag the pattern cannot state; lib/ops/cosine.ts checkPaired).
template <class A>
Status read_inputs(const Call& c, CosineArgs* g) {
  constexpr int xa = 0, xb = 1;
  const TensorView &x = c.t(xa), &y = c.t(xb);
  MMPREF_RETURN_IF_ERROR(c.one_device());
  MMPREF_RETURN_IF_ERROR(c.same_dtype(xb, xa));
  *g = CosineArgs{};
  g->paired = c.boolean(A::paired);
  if (g->paired && y.shape[0] != x.shape[0])
    return c.error(Code::kShape, std::string("expected ") + c.name(xb) + " of shape " + shape_str(x) + " (from " + c.name(xa) + " " +
                                     shape_str(x) + ", paired) but received " + shape_str(y));
  g->a = x.data;
  g->b = y.data;
  g->dtype = x.dtype;
  g->n = c.dim(A::dim::N);
  g->m = c.dim(A::dim::M);
  g->e = c.dim(A::dim::E);
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
  g.threshold = float(c.number(A::threshold));
  g.keep = c.t(A::keep).template ptr<uint8_t>();
  return Status::Ok();
}

}  // namespace
}  // namespace mmpref::napi

// random (ops/random_fill.h); arguments and the ranges of a, b declared in lib/ops/random_fill.args.ts: fills `out`
// with elements 4 startBlock + startSkip + j of stream (seed, offset): kind 0 bits (int32),
// 1 uniform, 2 normal (float dtypes), value fmaf(v, b, a).
#include "../ops/random_fill.h"
#include "args/random_fill.h"

namespace mmpref::napi {
MMPREF_LAUNCH_OP(args::random_fill, RandomFillArgs, random_fill, prepare) {
  const TensorView& out = c.t(A::out);
  const int64_t kind = c.integer(A::kind);
  if ((kind == 0) != (out.dtype == DType::kInt32))
    return c.error(Code::kDtype, std::string("expected out of dtype ") + (kind == 0 ? "int32" : "float32, float16 or bfloat16") +
                                     " but received " + dtype_name(out.dtype));
  RandomFillArgs& r = job->args;
  r.out = out.data;
  r.dtype = out.dtype;
  r.n = out.numel;
  r.kind = RandomKind(kind);
  r.a = float(c.number(A::a));
  r.b = float(c.number(A::b));
  r.seed = c.u64(A::seed);
  r.offset = c.u64(A::offset);
  r.start_block = c.u64(A::startBlock);
  r.start_skip = int(c.integer(A::startSkip));
  r.device = out.device;
  return Status::Ok();
}

}  // namespace mmpref::napi

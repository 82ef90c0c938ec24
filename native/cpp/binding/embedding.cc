// embedding (ops/embedding.h); arguments declared in lib/ops/embedding.args.ts. tokens is an
// index argument: the kernel reads a private copy, so out overlapping tokens or a concurrent
// writer cannot move a row address after the range check.
#include "../ops/embedding.h"
#include "args/embedding.h"

namespace mmpref::napi {
namespace {

using A = args::embedding;
using EmbeddingJob = LaunchJob<EmbeddingArgs, embedding_cpu, MMPREF_CUDA(embedding_cuda)>;

Status prepare(const Call& c, EmbeddingJob* job) {
  const TensorView &table = c.t(A::table), &tokens = c.t(A::tokens), &out = c.t(A::out);
  MMPREF_RETURN_IF_ERROR(c.one_device());
  MMPREF_RETURN_IF_ERROR(c.ndim_is(A::table, 2));
  MMPREF_RETURN_IF_ERROR(c.same_dtype(A::out, A::table));
  if (out.numel != tokens.numel * table.shape[1] || out.ndim < 1 || out.size(-1) != table.shape[1]) {
    std::string want = shape_str(tokens);
    want = want.substr(0, want.size() - 1) + (tokens.ndim ? ", " : "") + std::to_string(table.shape[1]) + "]";
    return c.error(Code::kShape, "expected out of shape " + want + " (tokens " + shape_str(tokens) + ", table " + shape_str(table) +
                                     ") but received " + shape_str(out));
  }
  job->args = EmbeddingArgs{table.data, tokens.data, out.data, table.dtype, tokens.dtype, table.shape[0], table.shape[1], tokens.numel, table.device};
  return Status::Ok();
}

}  // namespace
MMPREF_BIND_OP(args::embedding, EmbeddingJob, prepare);
}  // namespace mmpref::napi

// embedding and embeddingBackward (ops/embedding.h); arguments declared in lib/ops/embedding.args.ts. tokens is an
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

using EmbeddingBackwardJob = LaunchJob<EmbeddingBackwardArgs, embedding_backward_cpu, MMPREF_CUDA(embedding_backward_cuda)>;

// dy [..., D] with tokens [...] (same element count N), out float32 [V, D].
Status prepare_backward(const Call& c, EmbeddingBackwardJob* job) {
  using B = args::embedding_backward;
  const TensorView &dy = c.t(B::dy), &tokens = c.t(B::tokens), &out = c.t(B::out);
  MMPREF_RETURN_IF_ERROR(c.one_device());
  MMPREF_RETURN_IF_ERROR(c.ndim_is(B::out, 2));
  if (dy.ndim < 1 || dy.size(-1) != out.shape[1] || dy.numel != tokens.numel * out.shape[1])
    return c.error(Code::kShape, "expected dy of shape [" + (tokens.ndim ? shape_str(tokens).substr(1, shape_str(tokens).size() - 2) + ", " : std::string()) +
                                     std::to_string(out.shape[1]) + "] (tokens " + shape_str(tokens) + ", out " + shape_str(out) + ") but received " +
                                     shape_str(dy));
  job->args = EmbeddingBackwardArgs{dy.data,     tokens.data,  out.ptr<float>(), dy.dtype, tokens.dtype, out.shape[0], out.shape[1],
                                    tokens.numel, c.boolean(B::accumulate), dy.device};
  return Status::Ok();
}

}  // namespace
MMPREF_BIND_OP(args::embedding, EmbeddingJob, prepare);
MMPREF_BIND_OP(args::embedding_backward, EmbeddingBackwardJob, prepare_backward);
}  // namespace mmpref::napi

// embedding and embeddingBackward (ops/embedding.h); arguments and shapes (table [V, D], tokens [...],
// out [..., D]; dy [..., D], tokens [...], out float32 [V, D]) declared in lib/ops/embedding.args.ts.
// tokens is an index argument: the kernel reads a private copy, so out overlapping tokens or a
// concurrent writer cannot move a row address after the range check.
#include "../ops/embedding.h"
#include "args/embedding.h"

namespace mmpref::napi {

MMPREF_LAUNCH_OP(args::embedding, EmbeddingArgs, embedding, prepare) {
  const TensorView &table = c.t(A::table), &tokens = c.t(A::tokens);
  MMPREF_RETURN_IF_ERROR(c.one_device());
  MMPREF_RETURN_IF_ERROR(c.same_dtype(A::out, A::table));
  job->args = EmbeddingArgs{table.data, tokens.data, c.t(A::out).data, table.dtype, tokens.dtype, c.dim(A::dim::V), c.dim(A::dim::D), tokens.numel, table.device};
  return Status::Ok();
}

MMPREF_LAUNCH_OP(args::embedding_backward, EmbeddingBackwardArgs, embedding_backward, prepare_backward) {
  const TensorView &dy = c.t(A::dy), &tokens = c.t(A::tokens);
  MMPREF_RETURN_IF_ERROR(c.one_device());
  job->args = EmbeddingBackwardArgs{dy.data, tokens.data, c.t(A::out).template ptr<float>(), dy.dtype, tokens.dtype, c.dim(A::dim::V), c.dim(A::dim::D),
                                    tokens.numel, c.boolean(A::accumulate), dy.device};
  return Status::Ok();
}

}  // namespace mmpref::napi

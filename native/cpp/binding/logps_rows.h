// The row layout the logps ops share (sequenceLogps, logpsBackward, linearLogps,
// linearLogpsScale): padded x [B, T, X] without cuSeqlens, or packed x [N, X] with cuSeqlens
// [B + 1]. x's leading group ('...', the rows) and cuSeqlens' rank are declared; this is the rank
// rule a pattern cannot state, with the wrappers' messages (lib/ops/sequence_logps.ts,
// lib/ops/linear_logps.ts).
#pragma once

#include <cstdint>
#include <string>

#include "op_call.h"

namespace mmpref::napi {

// Fills r->seqs, seq_len, rows and cu_seqlens (LogpsRows and LinearLogpsScaleArgs name them
// alike); `x` and `cu` are argument indices, `last` names x's last dim in messages ("V", "H").
template <class R>
Status row_layout(const Call& c, int x, int cu, const char* last, R* r) {
  const TensorView& t = c.t(x);
  const std::string name = c.name(x), l = last;
  if (!c.has(cu)) {
    if (t.ndim != 3)
      return c.error(Code::kShape, "expected " + name + " of shape [B, T, " + l + "] (or [N, " + l + "] with cuSeqlens) but received " + shape_str(t));
    r->seqs = t.shape[0];
    r->seq_len = t.shape[1];
  } else {
    const TensorView& s = c.t(cu);
    if (t.ndim != 2) return c.error(Code::kShape, "expected packed " + name + " of shape [N, " + l + "] (with cuSeqlens) but received " + shape_str(t));
    if (s.ndim != 1 || s.shape[0] < 1)
      return c.error(Code::kShape, "expected cuSeqlens of shape [B + 1] (at least one element) but received " + shape_str(s));
    r->seqs = s.shape[0] - 1;
    r->cu_seqlens = s.ptr<int32_t>();
  }
  r->rows = c.lead_numel();
  return Status::Ok();
}

}  // namespace mmpref::napi

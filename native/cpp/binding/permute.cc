// permute (ops/permute.h); arguments declared in lib/ops/permute.args.ts.
#include "../ops/permute.h"
#include "args/permute.h"

namespace mmpref::napi {
MMPREF_LAUNCH_OP(args::permute, PermuteArgs, permute, prepare) {
  const TensorView &x = c.t(A::x), &out = c.t(A::out);
  const std::vector<int64_t>& p = c.dims(A::perm);
  MMPREF_RETURN_IF_ERROR(c.one_device());
  if (int(p.size()) != x.ndim)
    return c.error(Code::kShape, "expected perm with one entry per dimension of x " + shape_str(x) + " but received " +
                                     std::to_string(p.size()) + " entries");
  int perm[kMaxDims];
  bool seen[kMaxDims] = {false};
  for (int k = 0; k < x.ndim; ++k) {
    if (p[k] < 0 || p[k] >= x.ndim || seen[p[k]])
      return c.error(Code::kRange, "expected perm to be a permutation of 0.." + std::to_string(x.ndim - 1) + " but received entry " +
                                       std::to_string(p[k]) + " at " + std::to_string(k));
    perm[k] = int(p[k]);
    seen[perm[k]] = true;
  }
  MMPREF_RETURN_IF_ERROR(c.same_dtype(A::out, A::x));
  bool ok = out.ndim == x.ndim;
  for (int k = 0; ok && k < x.ndim; ++k) ok = out.shape[k] == x.shape[perm[k]];
  if (!ok) return c.error(Code::kShape, "expected out of x's permuted shape but received " + shape_str(out) + " (x " + shape_str(x) + ")");
  job->args = permute_plan(x, perm, out.data);
  return Status::Ok();
}

}  // namespace mmpref::napi

// permute: y = x.permute(perm).contiguous(), any dtype, up to kMaxDims dimensions.
//   y[j_0, ..., j_{n-1}] = x[i] with i_{perm[k]} = j_k
// Adjacent dimensions that stay adjacent are merged first, so a [B, T, H, d] -> [B, H, T, d]
// transpose copies runs of d contiguous elements.
#pragma once

#include <cstdint>

#include "../core/status.h"
#include "../core/tensor_view.h"

namespace mmpref {

struct PermuteArgs {
  const void* x;
  void* y;
  int64_t itemsize;
  int ndim;                      // after merging
  int64_t out_shape[kMaxDims];   // shape of y (merged)
  int64_t in_stride[kMaxDims];   // stride in x (elements) of y's dimension k
  int64_t numel;
  int device;
};

// Builds merged PermuteArgs from x's shape and perm (validated by the caller).
PermuteArgs permute_plan(const TensorView& x, const int* perm, void* y);
Status permute_cpu(const PermuteArgs& a);
Status permute_cuda(const PermuteArgs& a);

}  // namespace mmpref

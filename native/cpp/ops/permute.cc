#include "permute.h"

#include <algorithm>
#include <cstring>

#include "../core/thread_pool.h"

namespace mmpref {

PermuteArgs permute_plan(const TensorView& x, const int* perm, void* y) {
  // strides of x
  int64_t xs[kMaxDims];
  int64_t s = 1;
  for (int d = x.ndim - 1; d >= 0; --d) {
    xs[d] = s;
    s *= x.shape[d];
  }
  // y's dims in order, dropping size-1 dims, merging k-1,k when perm[k] == perm[k-1] + 1
  PermuteArgs a{};
  a.x = x.data;
  a.y = y;
  a.itemsize = dtype_size(x.dtype);
  a.numel = x.numel;
  a.device = x.device;
  int n = 0;
  int prev = -2;
  for (int k = 0; k < x.ndim; ++k) {
    const int p = perm[k];
    if (x.shape[p] == 1) continue;
    if (n > 0 && p == prev + 1) {
      a.out_shape[n - 1] *= x.shape[p];
      a.in_stride[n - 1] = xs[p];
    } else {
      a.out_shape[n] = x.shape[p];
      a.in_stride[n] = xs[p];
      ++n;
    }
    prev = p;
  }
  if (n == 0) {  // a scalar or all-ones shape
    a.out_shape[0] = 1;
    a.in_stride[0] = 1;
    n = 1;
  }
  a.ndim = n;
  return a;
}

Status permute_cpu(const PermuteArgs& a) {
  if (a.numel == 0) return Status::Ok();
  const int n = a.ndim;
  const int64_t inner = a.out_shape[n - 1];
  const bool contiguous_inner = a.in_stride[n - 1] == 1;
  const int64_t outer = a.numel / inner;
  const char* x = static_cast<const char*>(a.x);
  char* y = static_cast<char*>(a.y);
  parallel_for(outer, std::max<int64_t>(1, 4096 / inner), [&](int64_t o0, int64_t o1) {
    for (int64_t o = o0; o < o1; ++o) {
      // offset in x of y's row o (decompose o over y's outer dims)
      int64_t rem = o, off = 0;
      for (int k = n - 2; k >= 0; --k) {
        off += (rem % a.out_shape[k]) * a.in_stride[k];
        rem /= a.out_shape[k];
      }
      char* dst = y + o * inner * a.itemsize;
      if (contiguous_inner) {
        std::memcpy(dst, x + off * a.itemsize, size_t(inner * a.itemsize));
      } else {
        const int64_t st = a.in_stride[n - 1];
        for (int64_t i = 0; i < inner; ++i) std::memcpy(dst + i * a.itemsize, x + (off + i * st) * a.itemsize, size_t(a.itemsize));
      }
    }
  });
  return Status::Ok();
}

}  // namespace mmpref

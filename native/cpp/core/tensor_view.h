// A dense, contiguous, row-major tensor as native code sees it: a pointer (host or CUDA device),
// a dtype and a shape. The binding builds these after re-checking everything JS passed.
#pragma once

#include <cstdint>

#include "dtype.h"

namespace mmpref {

constexpr int kMaxDims = 8;

struct TensorView {
  void* data = nullptr;
  DType dtype = DType::kFloat32;
  int ndim = 0;
  int64_t shape[kMaxDims] = {0};
  int64_t numel = 0;
  int device = -1;  // -1 = host memory, >= 0 = CUDA device index

  bool is_cuda() const { return device >= 0; }
  // size(-1) is the last dimension, as in PyTorch.
  int64_t size(int d) const { return shape[d < 0 ? d + ndim : d]; }
  int64_t nbytes() const { return numel * dtype_size(dtype); }
  template <class T>
  T* ptr() const {
    return static_cast<T*>(data);
  }
};

}  // namespace mmpref

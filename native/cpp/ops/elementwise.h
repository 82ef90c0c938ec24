// Arguments of the elementwise binary ops (swiglu.h, add.h): y[i] = f(a[i], b[i]).
#pragma once

#include <cstdint>

#include "../core/dtype.h"

namespace mmpref {

struct ElementwiseArgs {  // swiglu: (a, b) = (gate, up); add: y = a + alpha * b
  const void* a;
  const void* b;
  void* y;
  DType dtype;
  int64_t n;
  float alpha;
  int device;
};

}  // namespace mmpref

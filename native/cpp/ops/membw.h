// Memory-bandwidth ceilings for bench/ (not a public op): each benchmark reports its GB/s against
// these, measured in the same run, because absolute numbers on shared machines are noisy.
//   read:  sum of a float32 buffer (bytes = n * 4)
//   copy:  dst = src (bytes = 2 * n * 4: read + write)
//   rmw:   x = x * a + b in place (bytes = 2 * n * 4: read + write)
#pragma once

#include <cstdint>

#include "../core/status.h"

namespace mmpref {

enum class MemBwKind : int { kRead = 0, kCopy = 1, kRmw = 2 };

struct MemBwArgs {
  MemBwKind kind = MemBwKind::kRead;
  float* x = nullptr;        // read / rmw buffer, copy source
  float* y = nullptr;        // copy destination
  int64_t n = 0;
  int device = -1;
  double result = 0;         // read: the sum (so the loop cannot be elided)
};

Status membw_cpu(MemBwArgs* a);
Status membw_cuda(MemBwArgs* a);

}  // namespace mmpref

#include "membw.h"

#include <cstring>
#include <vector>

#include "../core/thread_pool.h"

namespace mmpref {
namespace {

MMPREF_CPU_CLONES float sum_block(const float* x, int64_t n) {
  float acc[16] = {0};
  int64_t i = 0;
  for (; i + 16 <= n; i += 16)
    for (int j = 0; j < 16; ++j) acc[j] += x[i + j];
  for (; i < n; ++i) acc[0] += x[i];
  float s = 0;
  for (int j = 0; j < 16; ++j) s += acc[j];
  return s;
}

MMPREF_CPU_CLONES void rmw_block(float* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i) x[i] = x[i] * 0.999f + 1e-7f;
}

constexpr int64_t kBlock = 1 << 16;

}  // namespace

Status membw_cpu(MemBwArgs* a) {
  const int64_t blocks = (a->n + kBlock - 1) / kBlock;
  switch (a->kind) {
    case MemBwKind::kRead: {
      std::vector<float> part(size_t(blocks), 0.0f);
      parallel_for(blocks, 1, [&](int64_t b0, int64_t b1) {
        for (int64_t b = b0; b < b1; ++b)
          part[size_t(b)] = sum_block(a->x + b * kBlock, std::min(kBlock, a->n - b * kBlock));
      });
      double s = 0;
      for (float p : part) s += p;
      a->result = s;
      break;
    }
    case MemBwKind::kCopy:
      parallel_for(blocks, 1, [&](int64_t b0, int64_t b1) {
        const int64_t s = b0 * kBlock, e = std::min(a->n, b1 * kBlock);
        std::memcpy(a->y + s, a->x + s, size_t(e - s) * sizeof(float));
      });
      break;
    case MemBwKind::kRmw:
      parallel_for(blocks, 1, [&](int64_t b0, int64_t b1) {
        const int64_t s = b0 * kBlock, e = std::min(a->n, b1 * kBlock);
        rmw_block(a->x + s, e - s);
      });
      break;
  }
  return Status::Ok();
}

}  // namespace mmpref

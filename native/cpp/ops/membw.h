// Ceilings for bench/ (not a public op): every benchmark row is reported against a ceiling
// measured in the same run, next to the op, because absolute numbers on shared machines are noisy.
// Memory ceilings count bytes read + bytes written, the same way the benchmarks count an op's bytes:
//   read:     sum of a float32 buffer with several independent vector accumulators (bytes = 4n)
//   copy:     dst = src with non-temporal stores (no read-for-ownership of dst)  (bytes = 8n)
//   rmw:      x = x * a + b in place                                             (bytes = 8n)
//   write:    dst = constant with non-temporal stores                            (bytes = 4n)
//   copy_lib: dst = src with the C library's memcpy, one call per thread         (bytes = 8n)
// The non-temporal paths are x86-only (AVX-512 / AVX2 chosen at run time, no -march needed);
// elsewhere they fall back to memcpy / memset.
// Compute ceilings (GFLOP/s of a loop that is nothing but independent multiply-adds):
//   f32_fma:   vfmadd on float32 lanes (AVX-512 if present, else AVX2+FMA, else plain C mul+add);
//              2 flops per lane per instruction
//   bf16_dot:  AVX512-BF16 vdpbf16ps (two bfloat16 products summed into each float32 lane);
//              4 flops per lane per instruction; ERR_DEVICE where the CPU lacks AVX512-BF16
#pragma once

#include <cstdint>

#include "../core/status.h"

namespace mmpref {

enum class MemBwKind : int { kRead = 0, kCopy = 1, kRmw = 2, kWrite = 3, kCopyLib = 4 };

struct MemBwArgs {
  MemBwKind kind = MemBwKind::kRead;
  float* x = nullptr;        // read / rmw / write buffer, copy source
  float* y = nullptr;        // copy destination
  int64_t n = 0;
  int device = -1;
  double result = 0;         // read: the sum (so the loop cannot be elided)
};

Status membw_cpu(MemBwArgs* a);
Status membw_cuda(MemBwArgs* a);

enum class FlopsKind : int { kF32Fma = 0, kBf16Dot = 1 };

struct FlopsArgs {
  FlopsKind kind = FlopsKind::kF32Fma;
  int64_t iters = 1 << 20;   // instructions per accumulator per thread
  double flops = 0;          // out: floating-point operations done by one call
  const char* isa = "";      // out: instruction set used ("avx512", "avx2-fma", "avx512-bf16", "c")
  double result = 0;         // out: the accumulators' sum (so the loop cannot be elided)
};

// Runs the loop on every pool thread (parallel_for); the caller times it.
Status flops_cpu(FlopsArgs* a);
// The instruction set flops_cpu would use for `kind`, or nullptr if this CPU has none.
const char* flops_isa(FlopsKind kind);

}  // namespace mmpref

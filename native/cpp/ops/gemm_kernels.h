// Register micro-kernels of the CPU GEMM (gemm.h), one per ISA level, and their cache blocking.
//
// Packed operands for one KC slice (kcp = kc, or kc rounded up to even for bf16 pairs):
//   float32 panels: A micro-panel ap[k * MR + r], B micro-panel bp[k * NR + c] (zero padded).
//   bfloat16 pairs (AVX512-BF16): ap[(k / 2) * 2 * MR + 2 * r + k % 2], bp[(k / 2) * 2 * NR + 2 * c + k % 2],
//   so one 32-bit broadcast of A and one vector of B feed vdpbf16ps.
// micro(kcp, ap, bp, c, ldc, add, rows, cols): C[r, c] = (add ? C[r, c] : 0) + sum over the slice,
// for r < rows <= MR, c < cols <= NR. NB: the accumulators start from C, so a float32 element
// is one FMA chain over all of K whatever KC is.
#pragma once

#include <cstdint>

#include "gemm.h"

namespace mmpref {

using GemmMicroFn = void (*)(int64_t kcp, const void* ap, const void* bp, float* c, int64_t ldc, bool add, int rows,
                             int cols);

struct GemmKernel {
  GemmIsa isa;
  int mr, nr;          // register tile
  int mc, kc, nc;      // cache blocks: A block MC x KC (L2), B micro-panel KC x NR (L1), B block KC x NC (L3)
  bool bf16_pairs;     // packed panels hold bfloat16 k-pairs, else float32
  GemmMicroFn micro;
};

// The kernel for an ISA level (<= what the CPU supports) and input dtype: bf16_pairs only for
// bfloat16 inputs at kAvx512Bf16; other dtypes (and bfloat16 below it) use the float32 kernel.
const GemmKernel& gemm_kernel(GemmIsa isa, bool bf16_input);

// Bench ceiling: `steps` rounds of 12 independent updates with the instruction gemm_kernel(isa,
// bf16_input) is bound by (FMA, vdpbf16ps; baseline: multiply + add); returns the flops done.
int64_t gemm_peak_loop(GemmIsa isa, bool bf16_input, int64_t steps);

}  // namespace mmpref

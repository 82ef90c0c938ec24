// Which CPU variant of the multi-versioned kernels runs, and the MMPREF_CPU_ISA override.
//
// Hot CPU functions carry MMPREF_CPU_CLONES: GCC compiles them three times (x86-64-v4 = AVX-512,
// x86-64-v3 = AVX2+FMA+F16C, baseline x86-64) and an ifunc resolver picks one clone per function
// when the addon is loaded. The resolvers read the CPU features that libgcc's
// __cpu_indicator_init detects; the build wraps that function (-Wl,--wrap=__cpu_indicator_init,
// see cpu_isa.cc) so that MMPREF_CPU_ISA=avx512|avx2|baseline can hide the features above the
// requested level before any resolver runs. The same masked features steer every other run-time
// CPU check in the addon (the Philox kernels in core/philox_batch.cc), so one variable selects
// the whole variant. An unknown value, or a level the CPU lacks, prints one warning to stderr
// naming the variable, the value and the level used. Unset or "auto": the best level the CPU has.
#pragma once

namespace mmpref {

// The variant the dispatchers picked in this process: "avx512", "avx2" or "baseline" (read back
// from a function dispatched exactly as MMPREF_CPU_CLONES functions are; "baseline" on builds
// without clones: non-x86, non-GCC, MMPREF_NO_CLONES).
const char* cpu_simd_level();

// The MMPREF_CPU_ISA warning printed at load ("" when none).
const char* cpu_isa_warning();

}  // namespace mmpref

// Multi-versioned CPU kernels: put this before a hot function (template or not) whose loops are
// written to auto-vectorise. Shipped binaries are built without -march, so they run on any x86-64.
// Everywhere else (arm64, clang, MSVC) it expands to nothing and the one compiled version runs.
#if defined(__x86_64__) && defined(__linux__) && !defined(MMPREF_NO_CLONES) && \
    (defined(__GNUC__) && !defined(__clang__))
#define MMPREF_HAVE_CPU_CLONES 1
#define MMPREF_CPU_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define MMPREF_HAVE_CPU_CLONES 0
#define MMPREF_CPU_CLONES
#endif

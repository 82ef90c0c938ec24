#include "cpu_isa.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include <unistd.h>  // environ

// How MMPREF_CPU_ISA works (GCC >= 12, x86-64 Linux; the build defines MMPREF_CPU_ISA_WRAP when it
// links with -Wl,--wrap=__cpu_indicator_init):
// - every target_clones resolver in this .so first calls __cpu_indicator_init (libgcc, linked
//   statically and hidden, so the feature words below are this addon's private copy), then tests
//   the x86-64-v4 / x86-64-v3 bits of __cpu_features2. The wrap redirects those calls to
//   __wrap___cpu_indicator_init, which runs the real detection once and then clears every feature
//   bit that is not needed by a feature of the requested level. Bits are found by asking
//   __builtin_cpu_supports (the resolvers' own test), never by hard-coded positions: a bit is
//   cleared only if no feature of the level loses support, so the layout of libgcc's words
//   (which grows between GCC versions) does not matter beyond the word count.
// - the wrap calls no library function (see env_value) and formats nothing; a constructor, run
//   after relocation, prints the warning.
// - cpu_simd_level() calls a function multi-versioned the same way (GCC's target attribute with
//   the same three arches); its resolver tests the same bits, so it reports what ran.
#if MMPREF_HAVE_CPU_CLONES && defined(MMPREF_CPU_ISA_WRAP) && __GNUC__ >= 12
#define MMPREF_ISA_OVERRIDE 1
#else
#define MMPREF_ISA_OVERRIDE 0
#endif

namespace mmpref {
namespace {

char g_warning[256];

enum Level { kAuto, kAvx512, kAvx2, kBaseline, kInvalid };

Level requested_level(const char* v) {
  if (v == nullptr || *v == '\0' || std::strcmp(v, "auto") == 0) return kAuto;
  if (std::strcmp(v, "avx512") == 0) return kAvx512;
  if (std::strcmp(v, "avx2") == 0) return kAvx2;
  if (std::strcmp(v, "baseline") == 0) return kBaseline;
  return kInvalid;
}

#if MMPREF_HAVE_CPU_CLONES
// Dispatched like MMPREF_CPU_CLONES (default version first: GCC 12 mis-assembles the other order).
__attribute__((target("default"), noinline)) const char* clone_isa() { return "baseline"; }
__attribute__((target("arch=x86-64-v3"), noinline)) const char* clone_isa() { return "avx2"; }
__attribute__((target("arch=x86-64-v4"), noinline)) const char* clone_isa() { return "avx512"; }
#endif

}  // namespace
}  // namespace mmpref

#if MMPREF_ISA_OVERRIDE
namespace {

struct CpuModel {  // libgcc's struct __processor_model
  unsigned int vendor, type, subtype, features[1];
};
// The feature words of libgcc's cpuinfo (GCC 12 has 3 words in __cpu_features2; later versions
// only add words, so the first 3 always exist).
constexpr int kFeatureWords2 = 3;

// A bit mask of "which features of the kept level does the CPU (still) report".
unsigned baseline_features() {
  return unsigned(__builtin_cpu_supports("x86-64") != 0) | unsigned(__builtin_cpu_supports("cmov") != 0) << 1 |
         unsigned(__builtin_cpu_supports("mmx") != 0) << 2 | unsigned(__builtin_cpu_supports("sse") != 0) << 3 |
         unsigned(__builtin_cpu_supports("sse2") != 0) << 4;
}
unsigned v3_features() {
  return baseline_features() | unsigned(__builtin_cpu_supports("x86-64-v2") != 0) << 5 |
         unsigned(__builtin_cpu_supports("x86-64-v3") != 0) << 6 |
         unsigned(__builtin_cpu_supports("sse3") != 0) << 7 | unsigned(__builtin_cpu_supports("ssse3") != 0) << 8 |
         unsigned(__builtin_cpu_supports("sse4.1") != 0) << 9 |
         unsigned(__builtin_cpu_supports("sse4.2") != 0) << 10 |
         unsigned(__builtin_cpu_supports("popcnt") != 0) << 11 | unsigned(__builtin_cpu_supports("avx") != 0) << 12 |
         unsigned(__builtin_cpu_supports("avx2") != 0) << 13 | unsigned(__builtin_cpu_supports("fma") != 0) << 14 |
         unsigned(__builtin_cpu_supports("f16c") != 0) << 15 | unsigned(__builtin_cpu_supports("bmi") != 0) << 16 |
         unsigned(__builtin_cpu_supports("bmi2") != 0) << 17 | unsigned(__builtin_cpu_supports("movbe") != 0) << 18;
}

// The words are written through names that GCC does not know alias the __cpu_model and
// __cpu_features2 its builtins read: a compiler barrier after each write makes keep() reload them.
inline void barrier() { __asm__ __volatile__("" ::: "memory"); }

// Clears each feature bit whose loss leaves keep() unchanged.
void mask_features(unsigned* word, unsigned (*keep)()) {
  barrier();
  const unsigned want = keep();
  for (int b = 0; b < 32; ++b) {
    const unsigned bit = 1u << b;
    if (!(*word & bit)) continue;
    *word &= ~bit;
    barrier();
    if (keep() != want) *word |= bit;
    barrier();
  }
}

}  // namespace

extern "C" {
extern CpuModel mmpref_cpu_model __asm__("__cpu_model");
extern unsigned int mmpref_cpu_features2[] __asm__("__cpu_features2");
int __real___cpu_indicator_init(void);
int __wrap___cpu_indicator_init(void);
}

namespace mmpref {
namespace {
// Set by the wrap, read by the constructor below (which formats and prints any warning).
Level g_want = kAuto;
bool g_applied = true, g_v4 = false, g_v3 = false;
char g_value[48];

// getenv without libc: resolvers may run while this .so's PLT is not yet relocated (a global
// ifunc bound through a JUMP_SLOT before libc's slots), so the wrap calls no library function
// and reads only `environ` (a GLOB_DAT in .rela.dyn, relocated before any PLT slot).
const char* env_value(const char* name) {
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    const char* s = *e;
    const char* n = name;
    while (*n != '\0' && *s == *n) ++s, ++n;
    if (*n == '\0' && *s == '=') return s + 1;
  }
  return nullptr;
}

bool same(const char* a, const char* b) {
  while (*a != '\0' && *a == *b) ++a, ++b;
  return *a == *b;
}
}  // namespace
}  // namespace mmpref

int __wrap___cpu_indicator_init(void) {
  static bool done = false;  // resolvers run one at a time (loader lock); later calls are no-ops
  const int rc = __real___cpu_indicator_init();
  if (done) return rc;
  done = true;
  using namespace mmpref;
  const char* env = env_value("MMPREF_CPU_ISA");
  if (env != nullptr) {  // keep a copy for the warning (environ may change later)
    int k = 0;
    for (; env[k] != '\0' && k < int(sizeof g_value) - 1; ++k) g_value[k] = env[k];
    g_value[k] = '\0';
  }
  g_want = env == nullptr || *env == '\0' || same(env, "auto") ? kAuto
           : same(env, "avx512")                                ? kAvx512
           : same(env, "avx2")                                  ? kAvx2
           : same(env, "baseline")                              ? kBaseline
                                                                : kInvalid;
  g_v4 = __builtin_cpu_supports("x86-64-v4");
  g_v3 = __builtin_cpu_supports("x86-64-v3");
  if ((g_want == kAvx2 && g_v4) || (g_want == kBaseline && g_v3)) {
    unsigned (*keep)() = g_want == kAvx2 ? v3_features : baseline_features;
    mask_features(&mmpref_cpu_model.features[0], keep);
    for (int w = 0; w < kFeatureWords2; ++w) mask_features(&mmpref_cpu_features2[w], keep);
    g_applied = !__builtin_cpu_supports("x86-64-v4") &&
                (g_want == kBaseline) != bool(__builtin_cpu_supports("x86-64-v3"));
  }
  return rc;
}
#endif  // MMPREF_ISA_OVERRIDE

namespace mmpref {

const char* cpu_simd_level() {
#if MMPREF_HAVE_CPU_CLONES
  return clone_isa();
#else
  return "baseline";
#endif
}

const char* cpu_isa_warning() { return g_warning; }

namespace {
// After relocation (so after every resolver of this .so): print the warning once, or explain why
// this build ignores the variable.
__attribute__((constructor)) void report_cpu_isa() {
#if MMPREF_ISA_OVERRIDE
  __builtin_cpu_init();  // wrapped: applies MMPREF_CPU_ISA if no resolver has run yet
  const char* best = g_v4 ? "avx512" : g_v3 ? "avx2" : "baseline";
  if (g_want == kInvalid)
    std::snprintf(g_warning, sizeof g_warning,
                  "MMPREF_CPU_ISA=%s is not one of avx512, avx2, baseline, auto; using %s (auto)", g_value, best);
  else if ((g_want == kAvx512 && !g_v4) || (g_want == kAvx2 && !g_v3))
    std::snprintf(g_warning, sizeof g_warning, "MMPREF_CPU_ISA=%s: this CPU lacks the %s features; using %s",
                  g_value, g_want == kAvx512 ? "x86-64-v4 (AVX-512)" : "x86-64-v3 (AVX2/FMA/F16C)", best);
  else if (!g_applied)
    std::snprintf(g_warning, sizeof g_warning, "MMPREF_CPU_ISA=%s could not be applied; using %s", g_value,
                  cpu_simd_level());
#else
  const char* env = std::getenv("MMPREF_CPU_ISA");
  const Level want = requested_level(env);
  if (want == kInvalid)
    std::snprintf(g_warning, sizeof g_warning,
                  "MMPREF_CPU_ISA=%.40s is not one of avx512, avx2, baseline, auto; using %s (auto)", env,
                  cpu_simd_level());
  else if (want != kAuto && std::strcmp(env, cpu_simd_level()) != 0)
    std::snprintf(g_warning, sizeof g_warning, "MMPREF_CPU_ISA=%.40s: this build cannot select the CPU variant; using %s",
                  env, cpu_simd_level());
#endif
  if (g_warning[0]) std::fprintf(stderr, "mmpref: warning: %s\n", g_warning);
}
}  // namespace

}  // namespace mmpref

#include "membw.h"

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "../core/thread_pool.h"

// NB: x86 intrinsics live in functions with a target attribute and are called only after a
// run-time CPU check, so the shipped build needs no -march; other targets (linux-arm64, MSVC)
// compile the portable loops only.
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define MMPREF_MEMBW_X86 1
#include <immintrin.h>
#else
#define MMPREF_MEMBW_X86 0
#endif

namespace mmpref {
namespace {

#if MMPREF_MEMBW_X86
bool has_avx512() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f");
}
bool has_avx2_fma() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}
bool has_avx512_bf16() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bf16");
}

// NB: a store and a scalar sum instead of _mm512_reduce_add_ps (GCC 12 warns inside it).
__attribute__((target("avx512f"))) double hsum512(__m512 v) {
  alignas(64) float l[16];
  _mm512_store_ps(l, v);
  double r = 0;
  for (float x : l) r += x;
  return r;
}

// ---- read: 8 independent vector accumulators (one add chain would be latency-bound) ----------
__attribute__((target("avx512f"))) double read_avx512(const float* x, int64_t n) {
  __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
  int64_t i = 0;
  for (; i + 128 <= n; i += 128) {
    a0 = _mm512_add_ps(a0, _mm512_loadu_ps(x + i));
    a1 = _mm512_add_ps(a1, _mm512_loadu_ps(x + i + 16));
    a2 = _mm512_add_ps(a2, _mm512_loadu_ps(x + i + 32));
    a3 = _mm512_add_ps(a3, _mm512_loadu_ps(x + i + 48));
    a4 = _mm512_add_ps(a4, _mm512_loadu_ps(x + i + 64));
    a5 = _mm512_add_ps(a5, _mm512_loadu_ps(x + i + 80));
    a6 = _mm512_add_ps(a6, _mm512_loadu_ps(x + i + 96));
    a7 = _mm512_add_ps(a7, _mm512_loadu_ps(x + i + 112));
  }
  const __m512 s = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)),
                                 _mm512_add_ps(_mm512_add_ps(a4, a5), _mm512_add_ps(a6, a7)));
  double r = hsum512(s);
  for (; i < n; ++i) r += x[i];
  return r;
}

__attribute__((target("avx2,fma"))) double read_avx2(const float* x, int64_t n) {
  __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
  int64_t i = 0;
  for (; i + 64 <= n; i += 64) {
    a0 = _mm256_add_ps(a0, _mm256_loadu_ps(x + i));
    a1 = _mm256_add_ps(a1, _mm256_loadu_ps(x + i + 8));
    a2 = _mm256_add_ps(a2, _mm256_loadu_ps(x + i + 16));
    a3 = _mm256_add_ps(a3, _mm256_loadu_ps(x + i + 24));
    a4 = _mm256_add_ps(a4, _mm256_loadu_ps(x + i + 32));
    a5 = _mm256_add_ps(a5, _mm256_loadu_ps(x + i + 40));
    a6 = _mm256_add_ps(a6, _mm256_loadu_ps(x + i + 48));
    a7 = _mm256_add_ps(a7, _mm256_loadu_ps(x + i + 56));
  }
  const __m256 s = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)),
                                 _mm256_add_ps(_mm256_add_ps(a4, a5), _mm256_add_ps(a6, a7)));
  alignas(32) float l[8];
  _mm256_store_ps(l, s);
  double r = 0;
  for (float v : l) r += v;
  for (; i < n; ++i) r += x[i];
  return r;
}

// ---- copy / write with non-temporal stores (dst is aligned first; the tail is scalar) --------
__attribute__((target("avx512f"))) void copy_nt_avx512(float* y, const float* x, int64_t n) {
  int64_t i = 0;
  for (; i < n && (reinterpret_cast<uintptr_t>(y + i) & 63); ++i) y[i] = x[i];
  for (; i + 64 <= n; i += 64) {
    const __m512 v0 = _mm512_loadu_ps(x + i), v1 = _mm512_loadu_ps(x + i + 16);
    const __m512 v2 = _mm512_loadu_ps(x + i + 32), v3 = _mm512_loadu_ps(x + i + 48);
    _mm512_stream_ps(y + i, v0);
    _mm512_stream_ps(y + i + 16, v1);
    _mm512_stream_ps(y + i + 32, v2);
    _mm512_stream_ps(y + i + 48, v3);
  }
  for (; i < n; ++i) y[i] = x[i];
  _mm_sfence();
}

__attribute__((target("avx2"))) void copy_nt_avx2(float* y, const float* x, int64_t n) {
  int64_t i = 0;
  for (; i < n && (reinterpret_cast<uintptr_t>(y + i) & 31); ++i) y[i] = x[i];
  for (; i + 32 <= n; i += 32) {
    const __m256 v0 = _mm256_loadu_ps(x + i), v1 = _mm256_loadu_ps(x + i + 8);
    const __m256 v2 = _mm256_loadu_ps(x + i + 16), v3 = _mm256_loadu_ps(x + i + 24);
    _mm256_stream_ps(y + i, v0);
    _mm256_stream_ps(y + i + 8, v1);
    _mm256_stream_ps(y + i + 16, v2);
    _mm256_stream_ps(y + i + 24, v3);
  }
  for (; i < n; ++i) y[i] = x[i];
  _mm_sfence();
}

__attribute__((target("avx512f"))) void write_nt_avx512(float* y, int64_t n) {
  const __m512 v = _mm512_set1_ps(1.0f);
  int64_t i = 0;
  for (; i < n && (reinterpret_cast<uintptr_t>(y + i) & 63); ++i) y[i] = 1.0f;
  for (; i + 16 <= n; i += 16) _mm512_stream_ps(y + i, v);
  for (; i < n; ++i) y[i] = 1.0f;
  _mm_sfence();
}

__attribute__((target("avx2"))) void write_nt_avx2(float* y, int64_t n) {
  const __m256 v = _mm256_set1_ps(1.0f);
  int64_t i = 0;
  for (; i < n && (reinterpret_cast<uintptr_t>(y + i) & 31); ++i) y[i] = 1.0f;
  for (; i + 8 <= n; i += 8) _mm256_stream_ps(y + i, v);
  for (; i < n; ++i) y[i] = 1.0f;
  _mm_sfence();
}

// ---- compute: K independent multiply-add chains per thread, nothing else ---------------------
// acc = acc * a + b with a just below 1 keeps every lane near b / (1 - a): no overflow, no
// denormals. K covers latency x throughput (FMA latency 4-5 cycles, up to 2 per cycle).
#define MMPREF_REP24(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11) \
                        X(12) X(13) X(14) X(15) X(16) X(17) X(18) X(19) X(20) X(21) X(22) X(23)
#define MMPREF_REP12(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)

__attribute__((target("avx512f"))) double fma_avx512(int64_t iters) {
  const __m512 a = _mm512_set1_ps(0.9999999f), b = _mm512_set1_ps(1e-7f);
#define DECL(j) __m512 c##j = _mm512_set1_ps(float(j));
#define STEP(j) c##j = _mm512_fmadd_ps(c##j, a, b);
#define SUM(j) s = _mm512_add_ps(s, c##j);
  MMPREF_REP24(DECL)
  for (int64_t i = 0; i < iters; ++i) {
    MMPREF_REP24(STEP)
  }
  __m512 s = _mm512_setzero_ps();
  MMPREF_REP24(SUM)
#undef DECL
#undef STEP
#undef SUM
  return hsum512(s);
}

__attribute__((target("avx2,fma"))) double fma_avx2(int64_t iters) {
  const __m256 a = _mm256_set1_ps(0.9999999f), b = _mm256_set1_ps(1e-7f);
#define DECL(j) __m256 c##j = _mm256_set1_ps(float(j));
#define STEP(j) c##j = _mm256_fmadd_ps(c##j, a, b);
#define SUM(j) s = _mm256_add_ps(s, c##j);
  MMPREF_REP12(DECL)
  for (int64_t i = 0; i < iters; ++i) {
    MMPREF_REP12(STEP)
  }
  __m256 s = _mm256_setzero_ps();
  MMPREF_REP12(SUM)
#undef DECL
#undef STEP
#undef SUM
  alignas(32) float l[8];
  _mm256_store_ps(l, s);
  double r = 0;
  for (float v : l) r += v;
  return r;
}

__attribute__((target("avx512f,avx512bf16"))) double bf16_dot_avx512(int64_t iters) {
  // a = b = bfloat16(2^-10) in every half-lane: each instruction adds 2^-19 to each lane
  const __m512bh a = (__m512bh)_mm512_set1_epi16(0x3A80);
#define DECL(j) __m512 c##j = _mm512_set1_ps(float(j));
#define STEP(j) c##j = _mm512_dpbf16_ps(c##j, a, a);
#define SUM(j) s = _mm512_add_ps(s, c##j);
  MMPREF_REP24(DECL)
  for (int64_t i = 0; i < iters; ++i) {
    MMPREF_REP24(STEP)
  }
  __m512 s = _mm512_setzero_ps();
  MMPREF_REP24(SUM)
#undef DECL
#undef STEP
#undef SUM
  return hsum512(s);
}
#endif  // MMPREF_MEMBW_X86

// Portable fallbacks (also the baseline x86-64 path).
double read_c(const float* x, int64_t n) {
  float acc[32] = {0};
  int64_t i = 0;
  for (; i + 32 <= n; i += 32)
    for (int j = 0; j < 32; ++j) acc[j] += x[i + j];
  double r = 0;
  for (float v : acc) r += v;
  for (; i < n; ++i) r += x[i];
  return r;
}

double mul_add_c(int64_t iters) {
  float c[64];
  for (int j = 0; j < 64; ++j) c[j] = float(j);
  for (int64_t i = 0; i < iters; ++i)
    for (int j = 0; j < 64; ++j) c[j] = c[j] * 0.9999999f + 1e-7f;
  double r = 0;
  for (float v : c) r += v;
  return r;
}

MMPREF_CPU_CLONES void rmw_block(float* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i) x[i] = x[i] * 0.999f + 1e-7f;
}

double read_range(const float* x, int64_t n) {
#if MMPREF_MEMBW_X86
  if (has_avx512()) return read_avx512(x, n);
  if (has_avx2_fma()) return read_avx2(x, n);
#endif
  return read_c(x, n);
}

void copy_range(float* y, const float* x, int64_t n) {
#if MMPREF_MEMBW_X86
  if (has_avx512()) return copy_nt_avx512(y, x, n);
  if (has_avx2_fma()) return copy_nt_avx2(y, x, n);
#endif
  std::memcpy(y, x, size_t(n) * sizeof(float));
}

void write_range(float* y, int64_t n) {
#if MMPREF_MEMBW_X86
  if (has_avx512()) return write_nt_avx512(y, n);
  if (has_avx2_fma()) return write_nt_avx2(y, n);
#endif
  std::fill(y, y + n, 1.0f);
}

constexpr int64_t kBlock = 1 << 16;

}  // namespace

Status membw_cpu(MemBwArgs* a) {
  const int64_t blocks = (a->n + kBlock - 1) / kBlock;
  // Each thread gets contiguous ranges of whole blocks (at most 4 chunks per thread).
  auto range = [&](int64_t b0, int64_t b1, int64_t* s, int64_t* e) {
    *s = b0 * kBlock;
    *e = std::min(a->n, b1 * kBlock);
  };
  switch (a->kind) {
    case MemBwKind::kRead: {
      std::vector<double> part(size_t(blocks), 0.0);
      parallel_for(blocks, 1, [&](int64_t b0, int64_t b1) {
        int64_t s, e;
        range(b0, b1, &s, &e);
        part[size_t(b0)] = read_range(a->x + s, e - s);
      });
      double s = 0;
      for (double p : part) s += p;
      a->result = s;
      break;
    }
    case MemBwKind::kCopy:
    case MemBwKind::kCopyLib:
      parallel_for(blocks, 1, [&](int64_t b0, int64_t b1) {
        int64_t s, e;
        range(b0, b1, &s, &e);
        if (a->kind == MemBwKind::kCopy)
          copy_range(a->y + s, a->x + s, e - s);
        else
          std::memcpy(a->y + s, a->x + s, size_t(e - s) * sizeof(float));
      });
      break;
    case MemBwKind::kRmw:
      parallel_for(blocks, 1, [&](int64_t b0, int64_t b1) {
        int64_t s, e;
        range(b0, b1, &s, &e);
        rmw_block(a->x + s, e - s);
      });
      break;
    case MemBwKind::kWrite:
      parallel_for(blocks, 1, [&](int64_t b0, int64_t b1) {
        int64_t s, e;
        range(b0, b1, &s, &e);
        write_range(a->x + s, e - s);
      });
      break;
  }
  return Status::Ok();
}

const char* flops_isa(FlopsKind kind) {
#if MMPREF_MEMBW_X86
  if (kind == FlopsKind::kBf16Dot) return has_avx512_bf16() ? "avx512-bf16" : nullptr;
  if (has_avx512()) return "avx512";
  if (has_avx2_fma()) return "avx2-fma";
  return "c";
#else
  return kind == FlopsKind::kBf16Dot ? nullptr : "c";
#endif
}

Status flops_cpu(FlopsArgs* a) {
  const char* isa = flops_isa(a->kind);
  if (!isa)
    return make_status(Code::kDevice,
                       "_flops: expected a CPU with AVX512-BF16 for bf16_dot but received one without it");
  a->isa = isa;
  const std::string name(isa);
  // per instruction per thread: lanes x flops per lane; K chains
  double per_iter = 0;
  if (name == "avx512-bf16") per_iter = 24 * 16 * 4;
  else if (name == "avx512") per_iter = 24 * 16 * 2;
  else if (name == "avx2-fma") per_iter = 12 * 8 * 2;
  else per_iter = 64 * 2;
  const int threads = num_threads();
  const int64_t items = int64_t(threads) * 4;  // 4 equal chunks per thread (pool load balance)
  const int64_t iters = std::max<int64_t>(1, a->iters / 4);
  std::vector<double> part(size_t(items), 0.0);
  parallel_for(items, 1, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) {
      double r = 0;
#if MMPREF_MEMBW_X86
      if (name == "avx512-bf16") r = bf16_dot_avx512(iters);
      else if (name == "avx512") r = fma_avx512(iters);
      else if (name == "avx2-fma") r = fma_avx2(iters);
      else r = mul_add_c(iters);
#else
      r = mul_add_c(iters);
#endif
      part[size_t(i)] = r;
    }
  });
  double s = 0;
  for (double p : part) s += p;
  a->result = s;
  a->flops = double(items) * double(iters) * per_iter;
  return Status::Ok();
}

}  // namespace mmpref

// <mma.h> for the emulation build: the nvcuda::wmma subset mmpref uses (native/cuda/gemm_tc.cuh),
// 16x16x16 tiles, __half / __nv_bfloat16 inputs, float accumulators:
//   fragment<matrix_a | matrix_b, 16, 16, 16, T, row_major | col_major>, fragment<accumulator, 16, 16, 16, float>,
//   fill_fragment, load_matrix_sync, mma_sync, store_matrix_sync (mem_row_major | mem_col_major).
// Model: every *_sync call is a warp collective (a __syncwarp of all 32 lanes: a lane that never
// arrives, or a call from a partial warp, fails the launch as on a GPU it hangs or is undefined).
// matrix_a / matrix_b fragments hold the whole 16x16 tile in every lane; an accumulator fragment
// holds the 8 elements its lane owns (element e of lane L is tile position e * 32 + L, row-major),
// so mma_sync computes each output once and store_matrix_sync writes each element from exactly one
// lane (no duplicate writes; the elements other lanes wrote are visible only after a barrier, as
// on hardware). Pointers must be 32-byte aligned and ldm a multiple of 16 bytes, as wmma requires;
// a violation traps with the call site.
// Arithmetic: d = c + sum_k a[i][k] * b[k][j] in float32, k = 0..15 in order, one round-to-nearest
// per addition (the products of two float16 / bfloat16 values are exact in float32). Tensor cores
// do not specify their summation order or the rounding of their adders (they may add several
// products at once and truncate), so results differ from a GPU's in the last bits; tests bound
// both by the same per-step error (test/gpu/gemm.gpu.ts).
#pragma once

#include <cstdint>
#include <string>
#include <type_traits>

#include "cuda_bf16.h"
#include "cuda_fp16.h"
#include "cuda_runtime.h"

namespace nvcuda::wmma {

struct matrix_a {};
struct matrix_b {};
struct accumulator {};
struct row_major {};
struct col_major {};
enum layout_t { mem_row_major, mem_col_major };

namespace detail {
inline float to_f(__half v) { return __half2float(v); }
inline float to_f(__nv_bfloat16 v) { return __bfloat162float(v); }
inline float to_f(float v) { return v; }
inline int lane() { return ::mmpref::emu::t_thread->lane; }
inline void collective(const void* p, unsigned ldm, size_t elem, const char* what, const char* f, int l) {
  __syncwarp(0xffffffffu, f, l);
  if (reinterpret_cast<uintptr_t>(p) % 32 != 0)
    ::mmpref::emu::trap((std::string("wmma::") + what + ": pointer not 32-byte aligned").c_str(), f, l);
  if ((size_t(ldm) * elem) % 16 != 0)
    ::mmpref::emu::trap((std::string("wmma::") + what + ": ldm not a multiple of 16 bytes").c_str(), f, l);
}
}  // namespace detail

template <class Use, int M, int N, int K, class T, class Layout = void>
class fragment;

// matrix_a (16 x 16, M x K) and matrix_b (16 x 16, K x N): the whole tile, row-major, in every lane.
template <class Use, class T, class Layout>
class fragment<Use, 16, 16, 16, T, Layout> {
  static_assert(std::is_same_v<Use, matrix_a> || std::is_same_v<Use, matrix_b>, "wmma emulation: a/b fragment");
  static_assert(std::is_same_v<T, __half> || std::is_same_v<T, __nv_bfloat16>,
                "wmma emulation: a/b fragments of __half or __nv_bfloat16");
  static_assert(std::is_same_v<Layout, row_major> || std::is_same_v<Layout, col_major>,
                "wmma emulation: a/b fragments need row_major or col_major");

 public:
  static constexpr int num_elements = 256;
  T x[num_elements];
};

// accumulator 16 x 16 float: the lane's 8 elements (x[e] is tile position e * 32 + lane).
template <>
class fragment<accumulator, 16, 16, 16, float, void> {
 public:
  static constexpr int num_elements = 8;
  float x[num_elements];
};

template <class Use, class T, class Layout>
inline void fill_fragment(fragment<Use, 16, 16, 16, T, Layout>& a, const T& v) {
  for (auto& e : a.x) e = v;
}
inline void fill_fragment(fragment<accumulator, 16, 16, 16, float>& a, float v) {
  for (auto& e : a.x) e = v;
}

template <class Use, class T, class Layout>
inline void load_matrix_sync(fragment<Use, 16, 16, 16, T, Layout>& a, const T* p, unsigned ldm,
                             const char* f = __builtin_FILE(), int l = __builtin_LINE()) {
  detail::collective(p, ldm, sizeof(T), "load_matrix_sync", f, l);
  constexpr bool row = std::is_same_v<Layout, row_major>;
  for (int r = 0; r < 16; ++r)
    for (int c = 0; c < 16; ++c) a.x[r * 16 + c] = row ? p[size_t(r) * ldm + c] : p[size_t(c) * ldm + r];
}
inline void load_matrix_sync(fragment<accumulator, 16, 16, 16, float>& a, const float* p, unsigned ldm, layout_t layout,
                             const char* f = __builtin_FILE(), int l = __builtin_LINE()) {
  detail::collective(p, ldm, sizeof(float), "load_matrix_sync", f, l);
  for (int e = 0; e < 8; ++e) {
    const int pos = e * 32 + detail::lane(), r = pos / 16, c = pos % 16;
    a.x[e] = layout == mem_row_major ? p[size_t(r) * ldm + c] : p[size_t(c) * ldm + r];
  }
}
inline void store_matrix_sync(float* p, const fragment<accumulator, 16, 16, 16, float>& a, unsigned ldm, layout_t layout,
                              const char* f = __builtin_FILE(), int l = __builtin_LINE()) {
  detail::collective(p, ldm, sizeof(float), "store_matrix_sync", f, l);
  for (int e = 0; e < 8; ++e) {
    const int pos = e * 32 + detail::lane(), r = pos / 16, c = pos % 16;
    (layout == mem_row_major ? p[size_t(r) * ldm + c] : p[size_t(c) * ldm + r]) = a.x[e];
  }
}

template <class T, class LA, class LB>
inline void mma_sync(fragment<accumulator, 16, 16, 16, float>& d, const fragment<matrix_a, 16, 16, 16, T, LA>& a,
                     const fragment<matrix_b, 16, 16, 16, T, LB>& b, const fragment<accumulator, 16, 16, 16, float>& c,
                     bool satf = false, const char* f = __builtin_FILE(), int l = __builtin_LINE()) {
  __syncwarp(0xffffffffu, f, l);
  static_cast<void>(satf);  // float accumulators: satf only clamps infinities / NaN (unused by mmpref)
  for (int e = 0; e < 8; ++e) {
    const int pos = e * 32 + detail::lane(), i = pos / 16, j = pos % 16;
    float s = c.x[e];
    for (int k = 0; k < 16; ++k) s += detail::to_f(a.x[i * 16 + k]) * detail::to_f(b.x[k * 16 + j]);
    d.x[e] = s;  // d may alias c: c.x[e] was read first
  }
}

}  // namespace nvcuda::wmma

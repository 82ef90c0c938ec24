// CPU diffusion forward noising: (sample, 4096-element chunk) work items in parallel; noise is
// generated into an L1 buffer (or straight into eps) and combined with x0 in one pass. uint8
// inputs are normalised per run of one channel for [B, C, H, W] (runs of H W elements), and
// through per-element channel sub/div arrays for [B, H, W, C], precomputed once (chunks start at
// a multiple of C, so every chunk sees the same channel pattern).
#include "diffuse.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <type_traits>
#include <vector>

#include "../core/dispatch.h"
#include "../core/half.h"
#include "../core/philox_batch.h"
#include "../core/thread_pool.h"

namespace mmpref {
namespace {

template <class TI, class TO>
MMPREF_CPU_CLONES void noised_float(const TI* x, const float* z, int64_t n, float ca, float cb, TO* y) {
  for (int64_t i = 0; i < n; ++i) y[i] = from_float<TO>(fmaf(cb, z[i], ca * to_float(x[i])));
}

template <class TO>
MMPREF_CPU_CLONES void noised_u8(const uint8_t* x, const float* z, int64_t n, float ca, float cb,
                                 const float* sub, const float* dv, TO* y) {
  for (int64_t i = 0; i < n; ++i)
    y[i] = from_float<TO>(fmaf(cb, z[i], ca * ((float(x[i]) - sub[i]) / dv[i])));
}

template <class TO>
MMPREF_CPU_CLONES void noised_u8_run(const uint8_t* x, const float* z, int64_t n, float ca, float cb, float sub,
                                     float dv, TO* y) {
  for (int64_t i = 0; i < n; ++i) y[i] = from_float<TO>(fmaf(cb, z[i], ca * ((float(x[i]) - sub) / dv)));
}

template <class TO>
MMPREF_CPU_CLONES void normalize_u8_run(const uint8_t* x, int64_t n, float sub, float dv, TO* y) {
  for (int64_t i = 0; i < n; ++i) y[i] = from_float<TO>((float(x[i]) - sub) / dv);
}

template <class TO>
MMPREF_CPU_CLONES void normalize_u8(const uint8_t* x, int64_t n, const float* sub, const float* dv, TO* y) {
  for (int64_t i = 0; i < n; ++i) y[i] = from_float<TO>((float(x[i]) - sub[i]) / dv[i]);
}

template <class TI, class TO>
Status run(const DiffuseArgs& a) {
  constexpr bool kU8 = std::is_same_v<TI, uint8_t>;
  const int64_t B = a.batch, S = a.sample;
  // 1. per-sample coefficients; every t is checked before anything is written
  std::vector<float> ca(static_cast<size_t>(B)), cb(static_cast<size_t>(B));
  std::vector<uint8_t> noised(static_cast<size_t>(B));
  for (int64_t b = 0; b < B; ++b) {
    const int32_t t = a.t ? a.t[b] : a.t_scalar;
    if (!diffuse_coefs(t, a.coef_a, a.coef_b, a.steps, &ca[size_t(b)], &cb[size_t(b)]))
      return timestep_error("noise.diffuse", a.steps, b, t);
    noised[size_t(b)] = t != -1;
  }
  // 2. chunking; the channel pattern of [B, H, W, C] uint8 images
  const bool pattern = kU8 && a.inner == 1;
  const int64_t chunk = pattern ? a.channels * std::max<int64_t>(1, kDiffuseChunk / a.channels) : kDiffuseChunk;
  std::vector<float> pat_sub, pat_div;
  if (pattern) {
    pat_sub.resize(size_t(chunk));
    pat_div.resize(size_t(chunk));
    for (int64_t i = 0; i < chunk; ++i) {
      pat_sub[size_t(i)] = a.norm_sub[i % a.channels];
      pat_div[size_t(i)] = a.norm_div[i % a.channels];
    }
  }
  const TI* x = static_cast<const TI*>(a.x);
  TO* y = static_cast<TO*>(a.y);
  const PhiloxKeys keys = philox_keys(a.seed, a.offset);
  const int64_t per_sample = std::max<int64_t>(1, (S + chunk - 1) / chunk);
  // 3. (sample, chunk) work items
  parallel_for(B * per_sample, 1, [&](int64_t w0, int64_t w1) {
    std::vector<float> zbuf(a.eps ? 0 : size_t(chunk));
    for (int64_t w = w0; w < w1; ++w) {
      const int64_t b = w / per_sample, j0 = (w % per_sample) * chunk;
      const int64_t n = std::min(chunk, S - j0), e0 = b * S + j0;
      if (n <= 0) continue;
      const bool noisy = noised[size_t(b)] != 0;
      float* z = a.eps ? a.eps + e0 : zbuf.data();
      if (noisy) {
        normal_range(keys, uint64_t(e0), n, z);
      } else if (a.eps) {  // t = -1: eps = 0
        std::memset(a.eps + e0, 0, size_t(n) * sizeof(float));
      }
      const float ca_b = ca[size_t(b)], cb_b = cb[size_t(b)];
      if constexpr (kU8) {
        if (pattern) {
          if (noisy)
            noised_u8<TO>(x + e0, z, n, ca_b, cb_b, pat_sub.data(), pat_div.data(), y + e0);
          else
            normalize_u8<TO>(x + e0, n, pat_sub.data(), pat_div.data(), y + e0);
        } else {
          for (int64_t i = 0; i < n;) {  // runs of one channel
            const int64_t j = j0 + i, c = (j / a.inner) % a.channels;
            const int64_t run = std::min(n - i, a.inner - j % a.inner);
            if (noisy)
              noised_u8_run<TO>(x + e0 + i, z + i, run, ca_b, cb_b, a.norm_sub[c], a.norm_div[c], y + e0 + i);
            else
              normalize_u8_run<TO>(x + e0 + i, run, a.norm_sub[c], a.norm_div[c], y + e0 + i);
            i += run;
          }
        }
      } else if (noisy) {
        noised_float<TI, TO>(x + e0, z, n, ca_b, cb_b, y + e0);
      } else if (static_cast<const void*>(x) != static_cast<const void*>(y)) {  // t = -1: x0, bit for bit
        std::memcpy(y + e0, x + e0, size_t(n) * sizeof(TO));
      }
    }
  });
  return Status::Ok();
}

}  // namespace

Status diffuse_cpu(const DiffuseArgs& a) {
  const std::string bad = std::string("noise.diffuse: unsupported dtypes ") + dtype_name(a.x_dtype) +
                          " -> " + dtype_name(a.y_dtype);
  if (a.x_dtype == DType::kUInt8) {
    if (!a.norm_sub || !a.norm_div || a.channels < 1 || a.inner < 1)
      return make_status(Code::kArgument, "noise.diffuse: uint8 input needs normalisation tables");
    return dispatch_float(a.y_dtype, "noise.diffuse", [&](auto ty) { return run<uint8_t, decltype(ty)>(a); });
  }
  if (a.x_dtype != a.y_dtype) return make_status(Code::kDtype, bad);
  return dispatch_float(a.x_dtype, "noise.diffuse", [&](auto t) { return run<decltype(t), decltype(t)>(a); });
}

}  // namespace mmpref

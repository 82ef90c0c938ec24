// CPU backward of masked attention (ops/attention_masked.h, "backward"). A work item is one
// (b, kv head): its rows are the G = Hq / Hkv query heads of that kv head times all Tq queries
// (query-major, r = i * G + g, as in the forward), so dK/dV (summed over the G heads) and dQ are
// both owned by the item and no two items write the same element. Per item:
//   0. float32 copies of the scaled queries (qs = scale q, as the forward scores them) and of dO,
//      D_r = <dO_r, O_r>, the row's lse and last visible key; a dQ accumulator per row;
//   then for every key block of kKeyBlock keys (blocks whose keys are all masked are skipped):
//   1. K and V block as float32 (padded to kCols columns, masked keys zeroed) and transposed,
//      dK/dV block accumulators zeroed,
//   2. four rows at a time: S = qs K^T and dP = dO V^T (lanes over keys), P = exp(S - lse) (0 if
//      not kept or not visible), dS = P (dP - D); dQ += dS K (lanes over columns),
//   3. dV += P^T dO and dK += dS^T qs over the four rows,
//   4. the block's dK/dV stored in the dtype (dK = scale dS^T q = dS^T qs);
//   5. dQ_r = scale * accumulator, stored.
// No [Tq, Tk] matrix exists: P and dS live for one row and one key block. Every sum runs in an
// order fixed by the shape (rows ascending, keys ascending, fixed lane trees), never by the thread
// count, so the bits are the same for any MMPREF_NUM_THREADS. Parallelism is B * Hkv items.
// Hot loops are lane loops (MMPREF_CPU_CLONES, explicit fmaf) specialised on the padded head dim.
#include <algorithm>
#include <cstring>
#include <vector>

#include "../core/dispatch.h"
#include "../core/half.h"
#include "../core/thread_pool.h"
#include "attention_masked.h"

namespace mmpref {
namespace {

#define MMPREF_BWD_INLINE inline __attribute__((always_inline))

constexpr int kLanes = 16;
constexpr int kCols = 32;      // head dims are padded to this
// Keys per block: K, V (rows and transposed), dK, dV as float32, 6 x 32 KiB at d = 128 (L2);
// measured under load: 64 about as fast as 32 at d = 64/128, 16 slower.
constexpr int kKeyBlock = 64;
constexpr int kRowGroup = 4;   // rows whose dK/dV updates share one pass over the block

inline int64_t round_up(int64_t x, int64_t m) { return (x + m - 1) / m * m; }

template <class T>
MMPREF_CPU_CLONES void load_rows_f32(const T* src, int64_t rows, int64_t d, int64_t dp, float scale, float* dst) {
  for (int64_t r = 0; r < rows; ++r) {
    const T* s = src + r * d;
    float* o = dst + r * dp;
    for (int64_t t = 0; t < d; ++t) o[t] = to_float(s[t]) * scale;
    for (int64_t t = d; t < dp; ++t) o[t] = 0.0f;
  }
}

MMPREF_BWD_INLINE float hsum16(const float (&a)[kLanes]) {
  float b[8], c[4];
  for (int l = 0; l < 8; ++l) b[l] = a[l] + a[l + 8];
  for (int l = 0; l < 4; ++l) c[l] = b[l] + b[l + 4];
  return (c[0] + c[2]) + (c[1] + c[3]);
}

struct RowInfo {
  float lse, D;
  int64_t last;  // last visible key (-1: absent or empty row)
};

// Steps 2 and 3 for one key block [j0, j0 + n) and every row of the item, four rows at a time
// (rows padded to a multiple of four with zero rows whose last key is -1). kb/vb: the block as
// rows (n x DP, masked keys zeroed), kt/vt: the same transposed (DP x kKeyBlock, missing keys
// zero), keep: the block's key mask (nullptr: all kept). dkb/dvb: the block's accumulators
// (n x DP), dq: rows x DP. Each product is a small matrix product with lanes over keys (S, dP) or
// over columns (dQ, dK, dV), so no horizontal sums are needed.
template <int DP>
MMPREF_CPU_CLONES void backward_block(const float* qs, const float* dof, const RowInfo* info, int64_t rows,
                                      int64_t j0, int n, const float* kb, const float* vb, const float* kt,
                                      const float* vt, const uint8_t* keep, float* dq, float* dkb, float* dvb) {
  constexpr int KB = kKeyBlock;
  int kept[KB];
  for (int j = 0; j < KB; ++j) kept[j] = j < n && (!keep || keep[j]);
  for (int64_t r0 = 0; r0 < rows; r0 += kRowGroup) {
    bool any = false;
    for (int rr = 0; rr < kRowGroup; ++rr) any |= info[r0 + rr].last >= j0;
    if (!any) continue;  // every row of the group is empty or sees only earlier keys
    const float* q0 = qs + r0 * DP;
    const float* g0 = dof + r0 * DP;
    // 2a. S = qs K^T and dP = dO V^T for the four rows, lanes over keys
    float s[kRowGroup][KB], dp[kRowGroup][KB];
    for (int h = 0; h < KB; h += kLanes) {
      float a[kRowGroup][kLanes] = {};
      for (int t = 0; t < DP; ++t) {
        const float* kr = kt + t * KB + h;
        for (int rr = 0; rr < kRowGroup; ++rr) {
          const float x = q0[rr * DP + t];
          for (int l = 0; l < kLanes; ++l) a[rr][l] = fmaf(x, kr[l], a[rr][l]);
        }
      }
      for (int rr = 0; rr < kRowGroup; ++rr)
        for (int l = 0; l < kLanes; ++l) s[rr][h + l] = a[rr][l];
    }
    for (int h = 0; h < KB; h += kLanes) {
      float a[kRowGroup][kLanes] = {};
      for (int t = 0; t < DP; ++t) {
        const float* vr = vt + t * KB + h;
        for (int rr = 0; rr < kRowGroup; ++rr) {
          const float x = g0[rr * DP + t];
          for (int l = 0; l < kLanes; ++l) a[rr][l] = fmaf(x, vr[l], a[rr][l]);
        }
      }
      for (int rr = 0; rr < kRowGroup; ++rr)
        for (int l = 0; l < kLanes; ++l) dp[rr][h + l] = a[rr][l];
    }
    // 2b. P = exp(s - lse) on the row's visible kept keys, dS = P (dP - D)
    float p[kRowGroup][KB], ds[kRowGroup][KB];
    for (int rr = 0; rr < kRowGroup; ++rr) {
      const RowInfo& ri = info[r0 + rr];
      // visible keys: j <= lim (clamped to int so the select loop below vectorises)
      const int lim = int(std::min<int64_t>(std::max<int64_t>(ri.last - j0, -1), KB));
      float e[KB];
      for (int j = 0; j < KB; ++j) e[j] = attn_bwd_prob(s[rr][j], ri.lse);
      for (int j = 0; j < KB; ++j) {
        const float pj = (kept[j] != 0) & (j <= lim) ? e[j] : 0.0f;
        p[rr][j] = pj;
        // NB: P = 0 gives dS = 0 exactly (masked keys' rows are zeroed: no NaN/inf can enter)
        ds[rr][j] = pj == 0.0f ? 0.0f : pj * (dp[rr][j] - ri.D);
      }
    }
    // 2c. dQ += dS K (keys ascending), lanes over columns
    for (int t = 0; t < DP; t += kLanes) {
      float acc[kRowGroup][kLanes];
      for (int rr = 0; rr < kRowGroup; ++rr)
        for (int l = 0; l < kLanes; ++l) acc[rr][l] = dq[(r0 + rr) * DP + t + l];
      for (int j = 0; j < n; ++j) {
        const float* kr = kb + j * DP + t;
        for (int rr = 0; rr < kRowGroup; ++rr) {
          const float w = ds[rr][j];
          for (int l = 0; l < kLanes; ++l) acc[rr][l] = fmaf(w, kr[l], acc[rr][l]);
        }
      }
      for (int rr = 0; rr < kRowGroup; ++rr)
        for (int l = 0; l < kLanes; ++l) dq[(r0 + rr) * DP + t + l] = acc[rr][l];
    }
    // 3. dV_j += sum_rr P_rj dO_rr, then dK_j += sum_rr dS_rj qs_rr (rows ascending)
    for (int t = 0; t < DP; t += kLanes) {
      float o[kRowGroup][kLanes];
      for (int rr = 0; rr < kRowGroup; ++rr)
        for (int l = 0; l < kLanes; ++l) o[rr][l] = g0[rr * DP + t + l];
      for (int j = 0; j < n; ++j) {
        float* dv = dvb + j * DP + t;
        float av[kLanes];
        for (int l = 0; l < kLanes; ++l) av[l] = dv[l];
        for (int rr = 0; rr < kRowGroup; ++rr) {
          const float w = p[rr][j];
          for (int l = 0; l < kLanes; ++l) av[l] = fmaf(w, o[rr][l], av[l]);
        }
        for (int l = 0; l < kLanes; ++l) dv[l] = av[l];
      }
    }
    for (int t = 0; t < DP; t += kLanes) {
      float x[kRowGroup][kLanes];
      for (int rr = 0; rr < kRowGroup; ++rr)
        for (int l = 0; l < kLanes; ++l) x[rr][l] = q0[rr * DP + t + l];
      for (int j = 0; j < n; ++j) {
        float* dk = dkb + j * DP + t;
        float ak[kLanes];
        for (int l = 0; l < kLanes; ++l) ak[l] = dk[l];
        for (int rr = 0; rr < kRowGroup; ++rr) {
          const float w = ds[rr][j];
          for (int l = 0; l < kLanes; ++l) ak[l] = fmaf(w, x[rr][l], ak[l]);
        }
        for (int l = 0; l < kLanes; ++l) dk[l] = ak[l];
      }
    }
  }
}

using BackwardBlockFn = void (*)(const float*, const float*, const RowInfo*, int64_t, int64_t, int, const float*,
                                 const float*, const float*, const float*, const uint8_t*, float*, float*, float*);

BackwardBlockFn backward_block_for(int64_t dp) {
  switch (dp / kCols) {
    case 1: return backward_block<1 * kCols>;
    case 2: return backward_block<2 * kCols>;
    case 3: return backward_block<3 * kCols>;
    case 4: return backward_block<4 * kCols>;
    case 5: return backward_block<5 * kCols>;
    case 6: return backward_block<6 * kCols>;
    case 7: return backward_block<7 * kCols>;
    default: return backward_block<8 * kCols>;
  }
}

// D_r = <dO_r, O_r> in float32, one fixed lane tree (dO already float32 in dof).
template <class T>
float row_delta(const float* dof, const T* o, int64_t d, int64_t dp) {
  float of[kAttnMaxHeadDim];
  for (int64_t t = 0; t < d; ++t) of[t] = to_float(o[t]);
  for (int64_t t = d; t < dp; ++t) of[t] = 0.0f;
  float a[kLanes] = {0};
  for (int64_t t = 0; t < dp; t += kLanes)
    for (int l = 0; l < kLanes; ++l) a[l] = fmaf(dof[t + l], of[t + l], a[l]);
  return hsum16(a);
}

// Per-thread buffers; rows padded to a multiple of kRowGroup (the padding rows stay zero, last -1).
struct Scratch {
  std::vector<float> qs, dof, dq, kb, vb, kt, vt, dkb, dvb;
  std::vector<RowInfo> info;
  Scratch(int64_t rows, int64_t dp)
      : qs(size_t(round_up(rows, kRowGroup) * dp)), dof(qs.size()), dq(qs.size()), kb(size_t(kKeyBlock * dp)),
        vb(kb.size()), kt(kb.size()), vt(kb.size()), dkb(kb.size()), dvb(kb.size()),
        info(size_t(round_up(rows, kRowGroup)), RowInfo{0.0f, 0.0f, -1}) {}
};

template <class T>
void run_item(const AttentionMaskedBackwardArgs& a, int64_t b, int64_t hk, int64_t dp, Scratch& s) {
  const int64_t d = a.head_dim, G = a.q_heads / a.kv_heads, rows = G * a.q_len;
  const int64_t kv_off = (b * a.kv_heads + hk) * a.kv_buf_len * d;
  const T* kbase = static_cast<const T*>(a.k) + kv_off;
  const T* vbase = static_cast<const T*>(a.v) + kv_off;
  T* dkbase = static_cast<T*>(a.dk) + kv_off;
  T* dvbase = static_cast<T*>(a.dv) + kv_off;
  const uint8_t* mask = a.key_mask ? a.key_mask + b * a.mask_len : nullptr;

  // 0. rows: scaled q, dO as float32, D, lse, last visible key
  int64_t max_last = -1;
  for (int64_t i = 0; i < a.q_len; ++i)
    for (int64_t g = 0; g < G; ++g) {
      const int64_t r = i * G + g;
      const int64_t row = (b * a.q_heads + hk * G + g) * a.q_len + i;
      load_rows_f32(static_cast<const T*>(a.q) + row * d, 1, d, dp, a.scale, s.qs.data() + r * dp);
      load_rows_f32(static_cast<const T*>(a.d_out) + row * d, 1, d, dp, 1.0f, s.dof.data() + r * dp);
      std::fill(s.dq.data() + r * dp, s.dq.data() + (r + 1) * dp, 0.0f);
      RowInfo& ri = s.info[size_t(r)];
      ri.lse = a.lse[row];
      ri.D = row_delta(s.dof.data() + r * dp, static_cast<const T*>(a.out) + row * d, d, dp);
      // NB: lse = -inf means no kept key: P = 0 everywhere (exp(s - -inf) would be inf)
      ri.last = ri.lse == -kInf ? -1 : attn_last_key(a, i);
      max_last = std::max(max_last, ri.last);
    }
  const BackwardBlockFn block = backward_block_for(dp);
  const T zero = from_float<T>(0.0f);
  for (int64_t j0 = 0; j0 < a.kv_buf_len; j0 += kKeyBlock) {
    const int n = int(std::min<int64_t>(kKeyBlock, a.kv_buf_len - j0));
    const int nk = int(std::max<int64_t>(0, std::min<int64_t>(n, max_last + 1 - j0)));  // keys with work
    bool live = nk > 0;
    if (live && mask) {
      bool anyk = false;
      for (int j = 0; j < nk; ++j) anyk |= mask[j0 + j] != 0;
      live = anyk;
    }
    if (!live) {  // keys nobody sees (masked, future, or >= kv_len): zero gradients
      std::fill(dkbase + j0 * d, dkbase + (j0 + n) * d, zero);
      std::fill(dvbase + j0 * d, dvbase + (j0 + n) * d, zero);
      continue;
    }
    // 1. the block as float32 rows (masked keys zeroed: never read into a product) and transposed
    load_rows_f32(kbase + j0 * d, nk, d, dp, 1.0f, s.kb.data());
    load_rows_f32(vbase + j0 * d, nk, d, dp, 1.0f, s.vb.data());
    if (mask)
      for (int j = 0; j < nk; ++j)
        if (!mask[j0 + j]) {
          std::fill(s.kb.data() + j * dp, s.kb.data() + (j + 1) * dp, 0.0f);
          std::fill(s.vb.data() + j * dp, s.vb.data() + (j + 1) * dp, 0.0f);
        }
    std::fill(s.kt.begin(), s.kt.end(), 0.0f);
    std::fill(s.vt.begin(), s.vt.end(), 0.0f);
    for (int j = 0; j < nk; ++j)
      for (int64_t t = 0; t < dp; ++t) {
        s.kt[size_t(t * kKeyBlock + j)] = s.kb[size_t(j * dp + t)];
        s.vt[size_t(t * kKeyBlock + j)] = s.vb[size_t(j * dp + t)];
      }
    std::fill(s.dkb.begin(), s.dkb.end(), 0.0f);
    std::fill(s.dvb.begin(), s.dvb.end(), 0.0f);
    // 2. + 3.
    block(s.qs.data(), s.dof.data(), s.info.data(), round_up(rows, kRowGroup), j0, nk, s.kb.data(), s.vb.data(),
          s.kt.data(), s.vt.data(), mask ? mask + j0 : nullptr, s.dq.data(), s.dkb.data(), s.dvb.data());
    // 4. store (keys past nk of this block are unseen: zeros)
    for (int j = 0; j < n; ++j)
      for (int64_t t = 0; t < d; ++t) {
        dkbase[(j0 + j) * d + t] = j < nk ? from_float<T>(s.dkb[size_t(j * dp + t)]) : zero;
        dvbase[(j0 + j) * d + t] = j < nk ? from_float<T>(s.dvb[size_t(j * dp + t)]) : zero;
      }
  }
  // 5. dQ = scale * sum_j dS k_j
  for (int64_t i = 0; i < a.q_len; ++i)
    for (int64_t g = 0; g < G; ++g) {
      const int64_t r = i * G + g;
      const int64_t row = (b * a.q_heads + hk * G + g) * a.q_len + i;
      T* dq = static_cast<T*>(a.dq) + row * d;
      for (int64_t t = 0; t < d; ++t) dq[t] = from_float<T>(s.dq[size_t(r * dp + t)] * a.scale);
    }
}

template <class T>
void run(const AttentionMaskedBackwardArgs& a) {
  const int64_t dp = round_up(a.head_dim, kCols), rows = a.q_heads / a.kv_heads * a.q_len;
  parallel_for(a.batch * a.kv_heads, 1, [&](int64_t i0, int64_t i1) {
    Scratch s(rows, dp);
    for (int64_t it = i0; it < i1; ++it) run_item<T>(a, it / a.kv_heads, it % a.kv_heads, dp, s);
  });
}

}  // namespace

Status attention_masked_backward_cpu(const AttentionMaskedBackwardArgs& a) {
  if (a.batch * a.kv_heads * a.kv_buf_len * a.head_dim == 0 && a.batch * a.q_heads * a.q_len * a.head_dim == 0)
    return Status::Ok();
  return dispatch_float(a.dtype, "attention.maskedBackward", [&](auto t) { run<decltype(t)>(a); });
}

}  // namespace mmpref

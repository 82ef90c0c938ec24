// CPU masked attention. A work item is (b, kv head, query tile, key split); its rows are the G
// query heads of that kv head times the query tile. Keys are processed in blocks of kKeyBlock:
//   1. convert the K and V block to float32 once (padded to a multiple of kCols; blocks whose
//      keys are all masked are skipped without reading them),
//   2. per row: scores s_j = <q, k_j> over lane arrays, masking, block max,
//   3. per row: rescale the running state to the new max, add exp(s_j - m) and exp(s_j - m) v_j.
// Everything reduces in an order fixed by the shape (never by the thread count), so results are
// bit-identical for any MMPREF_NUM_THREADS; hot loops are plain loops over kLanes-wide arrays
// that GCC vectorises in every MMPREF_CPU_CLONES clone, specialised on the padded head dim so
// they unroll and keep q and the output row in registers. Products use explicit fmaf (as
// core/math.h does): one rounding everywhere, so every clone gives the same bits.
// The next block is prefetched while the current one is computed (decode is a K/V stream).
#include <algorithm>
#include <cstring>
#include <type_traits>
#include <vector>

#include "../core/dispatch.h"
#include "../core/half.h"
#include "../core/thread_pool.h"
#include "attention_masked.h"

namespace mmpref {
namespace {

// Helpers of a cloned function must be inlined into it to get its ISA.
#define MMPREF_ALWAYS_INLINE inline __attribute__((always_inline))

constexpr int kLanes = 16;    // one AVX-512 vector of floats (two AVX2 vectors)
constexpr int kCols = 32;     // head dims are padded to this (the accumulation width)
// Keys converted and scored together: 16 keys of K and V as float32 (at most 2 x 16 KiB for
// d = 256, 16 KiB for d = 128) stay in L1 next to q and the accumulators; 32 measured slower.
constexpr int kKeyBlock = 16;
// The block this many keys ahead is prefetched while the current one is computed.
constexpr int kPrefetchKeys = kKeyBlock;

inline int64_t round_up(int64_t x, int64_t m) { return (x + m - 1) / m * m; }

// Row-major float32 copy of `rows` rows of `d` elements (stride d) into `dst` (stride dp), the
// padding columns zeroed.
template <class T>
MMPREF_CPU_CLONES void load_rows(const T* src, int64_t rows, int64_t d, int64_t dp, float* dst) {
  for (int64_t r = 0; r < rows; ++r) {
    const T* s = src + r * d;
    float* o = dst + r * dp;
    for (int64_t t = 0; t < d; ++t) o[t] = to_float(s[t]);
    for (int64_t t = d; t < dp; ++t) o[t] = 0.0f;
  }
}

// Sum of 16 lanes as a fixed tree (8 + 8, 4 + 4, 2 + 2, 1 + 1): the same rounding in every clone.
MMPREF_ALWAYS_INLINE float hsum16(const float (&a)[kLanes]) {
  float b[8], c[4];
  for (int l = 0; l < 8; ++l) b[l] = a[l] + a[l + 8];
  for (int l = 0; l < 4; ++l) c[l] = b[l] + b[l + 4];
  return (c[0] + c[2]) + (c[1] + c[3]);
}

// s[j] = <q, k_j> for the n keys of a block, four keys at a time (independent accumulators, so
// the add chains overlap), lanes over d. DP (the padded head dim) is a compile-time constant so
// the loops unroll and q stays in registers.
template <int DP>
MMPREF_ALWAYS_INLINE void block_scores(const float* q, const float* kb, int n, float* s) {
  int j = 0;
  for (; j + 4 <= n; j += 4) {
    const float* k0 = kb + j * DP;
    const float* k1 = k0 + DP;
    const float* k2 = k1 + DP;
    const float* k3 = k2 + DP;
    float a0[kLanes] = {0}, a1[kLanes] = {0}, a2[kLanes] = {0}, a3[kLanes] = {0};
    for (int t = 0; t < DP; t += kLanes)
      for (int l = 0; l < kLanes; ++l) {
        const float x = q[t + l];
        a0[l] = fmaf(x, k0[t + l], a0[l]);
        a1[l] = fmaf(x, k1[t + l], a1[l]);
        a2[l] = fmaf(x, k2[t + l], a2[l]);
        a3[l] = fmaf(x, k3[t + l], a3[l]);
      }
    s[j] = hsum16(a0);
    s[j + 1] = hsum16(a1);
    s[j + 2] = hsum16(a2);
    s[j + 3] = hsum16(a3);
  }
  for (; j < n; ++j) {
    const float* k = kb + j * DP;
    float a[kLanes] = {0};
    for (int t = 0; t < DP; t += kLanes)
      for (int l = 0; l < kLanes; ++l) a[l] = fmaf(q[t + l], k[t + l], a[l]);
    s[j] = hsum16(a);
  }
}

// acc = acc * corr + sum_j p_j v_j over the block's keys with p_j != 0 (masked keys have p_j = 0
// and are never read, so even a NaN in a masked value cannot leak in). Even and odd kept keys go
// to two accumulators (two independent add chains), added together at the end: a fixed order,
// the same in every clone. Up to DP = 128 the whole row accumulator stays in registers.
template <int DP>
MMPREF_ALWAYS_INLINE void block_accumulate(float* acc, float corr, const float* p, const float* vb, int n) {
  // columns per pass: a divisor of DP (DP = 160, 192, 224 are not multiples of 128)
  constexpr int W = DP <= 128 ? DP : DP % 128 == 0 ? 128 : DP % 64 == 0 ? 64 : kCols;
  int idx[kKeyBlock];
  float pk[kKeyBlock];
  int m = 0;
  for (int j = 0; j < n; ++j)
    if (p[j] != 0.0f) {
      idx[m] = j;
      pk[m++] = p[j];
    }
  for (int t = 0; t < DP; t += W) {
    float a[W], b[W];
    for (int l = 0; l < W; ++l) {
      a[l] = acc[t + l] * corr;
      b[l] = 0.0f;
    }
    int j = 0;
    for (; j + 2 <= m; j += 2) {
      const float p0 = pk[j], p1 = pk[j + 1];
      const float* v0 = vb + idx[j] * DP + t;
      const float* v1 = vb + idx[j + 1] * DP + t;
      for (int l = 0; l < W; ++l) a[l] = fmaf(p0, v0[l], a[l]);
      for (int l = 0; l < W; ++l) b[l] = fmaf(p1, v1[l], b[l]);
    }
    if (j < m) {
      const float p0 = pk[j];
      const float* v0 = vb + idx[j] * DP + t;
      for (int l = 0; l < W; ++l) a[l] = fmaf(p0, v0[l], a[l]);
    }
    for (int l = 0; l < W; ++l) acc[t + l] = a[l] + b[l];
  }
}

// The same for four rows that share the block's kept keys (indices idx[0..m), weights
// pk[4 * i + row]): every V chunk is loaded once for the four rows, and the four accumulators of
// W columns stay in registers. One add chain per (row, column), in key order.
template <int DP>
MMPREF_ALWAYS_INLINE void block_accumulate4(float* acc, const float* corr, const float* pk, const float* vb,
                                            const int* idx, int m) {
  constexpr int W = DP % 64 == 0 ? 64 : kCols;  // columns per pass
  for (int t = 0; t < DP; t += W) {
    float a0[W], a1[W], a2[W], a3[W];
    for (int l = 0; l < W; ++l) a0[l] = acc[t + l] * corr[0];
    for (int l = 0; l < W; ++l) a1[l] = acc[DP + t + l] * corr[1];
    for (int l = 0; l < W; ++l) a2[l] = acc[2 * DP + t + l] * corr[2];
    for (int l = 0; l < W; ++l) a3[l] = acc[3 * DP + t + l] * corr[3];
    for (int j = 0; j < m; ++j) {
      const float* v = vb + idx[j] * DP + t;
      const float w0 = pk[4 * j], w1 = pk[4 * j + 1], w2 = pk[4 * j + 2], w3 = pk[4 * j + 3];
      for (int l = 0; l < W; ++l) a0[l] = fmaf(w0, v[l], a0[l]);
      for (int l = 0; l < W; ++l) a1[l] = fmaf(w1, v[l], a1[l]);
      for (int l = 0; l < W; ++l) a2[l] = fmaf(w2, v[l], a2[l]);
      for (int l = 0; l < W; ++l) a3[l] = fmaf(w3, v[l], a3[l]);
    }
    for (int l = 0; l < W; ++l) acc[t + l] = a0[l];
    for (int l = 0; l < W; ++l) acc[DP + t + l] = a1[l];
    for (int l = 0; l < W; ++l) acc[2 * DP + t + l] = a2[l];
    for (int l = 0; l < W; ++l) acc[3 * DP + t + l] = a3[l];
  }
}

// Scores of one row over the block's first nr keys, masked, and its online-softmax update:
// leaves p_j = exp(s_j - m_new) in pr and returns the factor that rescales the row's previous
// accumulator (1 and no update when no key of the block is kept).
template <int DP>
MMPREF_ALWAYS_INLINE float row_softmax(const float* q, const float* kb, const uint8_t* keep, int nr,
                                       AttnRowState& st, float* pr) {
  float s[kKeyBlock];
  block_scores<DP>(q, kb, nr, s);
  float mb = -kInf;
  for (int j = 0; j < nr; ++j) {
    if (keep && !keep[j]) s[j] = -kInf;
    // NB: a NaN score wins the max, so the row becomes NaN (out and lse) whatever else its block holds
    mb = (s[j] > mb || s[j] != s[j]) ? s[j] : mb;
  }
  if (mb == -kInf) {
    for (int j = 0; j < nr; ++j) pr[j] = 0.0f;
    return 1.0f;
  }
  const float m_new = st.m > mb ? st.m : mb;
  const float corr = attn_rescale(st.m, m_new);
  for (int j = 0; j < nr; ++j) pr[j] = exp_nonpos(s[j] - m_new);
  float sum = 0.0f;
  for (int j = 0; j < nr; ++j) sum += pr[j];
  st.l = st.l * corr + sum;
  st.m = m_new;
  return corr;
}

// One key block [j0, j0 + n) for every row of a work item: scores, masking, online-softmax
// update and accumulation. `last[r]` is row r's last visible key (-1: absent row), `keep` the
// block's key mask (nullptr: all kept). All buffers are float32 rows of DP (head dim padded to
// a multiple of kCols).
template <int DP>
MMPREF_CPU_CLONES void attend_block(const float* qf, int64_t rows, const int64_t* last, int64_t j0, int n,
                                    const float* kb, const float* vb, const uint8_t* keep, AttnRowState* st,
                                    float* acc) {
  float pr[kKeyBlock];
  for (int64_t r = 0; r < rows;) {
    if (last[r] < j0) {  // absent row, or every key of this block is in its future
      ++r;
      continue;
    }
    const int nr = int(std::min<int64_t>(n, last[r] - j0 + 1));
    if (r + 4 <= rows && last[r + 3] == last[r]) {
      // four rows (query heads of one query position) with the same kept keys
      int idx[kKeyBlock];
      float pk[4 * kKeyBlock], corr[4];
      int m = 0;
      for (int j = 0; j < nr; ++j)
        if (!keep || keep[j]) idx[m++] = j;
      for (int rr = 0; rr < 4; ++rr) {
        corr[rr] = row_softmax<DP>(qf + (r + rr) * DP, kb, keep, nr, st[r + rr], pr);
        for (int i = 0; i < m; ++i) pk[4 * i + rr] = pr[idx[i]];
      }
      if (m > 0) block_accumulate4<DP>(acc + r * DP, corr, pk, vb, idx, m);
      r += 4;
      continue;
    }
    const float corr = row_softmax<DP>(qf + r * DP, kb, keep, nr, st[r], pr);
    block_accumulate<DP>(acc + r * DP, corr, pr, vb, nr);
    ++r;
  }
}

using AttendBlockFn = void (*)(const float*, int64_t, const int64_t*, int64_t, int, const float*, const float*,
                               const uint8_t*, AttnRowState*, float*);

// The block kernel for a padded head dim dp (a multiple of kCols up to kAttnMaxHeadDim).
AttendBlockFn attend_block_for(int64_t dp) {
  switch (dp / kCols) {
    case 1: return attend_block<1 * kCols>;
    case 2: return attend_block<2 * kCols>;
    case 3: return attend_block<3 * kCols>;
    case 4: return attend_block<4 * kCols>;
    case 5: return attend_block<5 * kCols>;
    case 6: return attend_block<6 * kCols>;
    case 7: return attend_block<7 * kCols>;
    default: return attend_block<8 * kCols>;
  }
}

// Requests `bytes` bytes at `p` into L2, one line at a time (prefetcht2: L2 tracks more
// outstanding misses than L1, and the block is converted from L2 into an L1 buffer anyway).
inline void prefetch(const void* p, int64_t bytes) {
  const char* c = static_cast<const char*>(p);
  for (int64_t off = 0; off < bytes; off += 64) __builtin_prefetch(c + off, 0, 1);
}

struct Plan {
  int64_t groups;    // G = Hq / Hkv
  int64_t tile;      // queries per work item
  int64_t tiles;     // ceil(Tq / tile)
  int64_t rows;      // G * tile
  int64_t splits;    // key splits (1 unless decoding)
  int64_t split_len; // keys per split
  int64_t dp;        // head dim padded to kCols
  int64_t items() const { return splits * tiles; }
};

// One work item: rows r = qi * G + g (query qi of tile `qt`, query head hk * G + g) of kv head
// `hk` of batch row `b`, keys [k_begin, k_end). Leaves the unnormalised state in st/acc
// (acc: rows x dp).
// Per-thread scratch of run_item, allocated once per parallel_for chunk.
struct ItemScratch {
  std::vector<float> buf;     // q rows, then the float32 K and V blocks
  std::vector<int64_t> last;  // last visible key per row (-1: row absent)
  explicit ItemScratch(const Plan& p) : buf(size_t(p.rows * p.dp + 2 * kKeyBlock * p.dp)), last(size_t(p.rows)) {}
};

template <class T>
void run_item(const AttentionMaskedArgs& a, const Plan& p, int64_t b, int64_t hk, int64_t qt,
              int64_t k_begin, int64_t k_end, ItemScratch& scratch, AttnRowState* st, float* acc) {
  const int64_t d = a.head_dim, dp = p.dp, G = p.groups;
  const T* q = static_cast<const T*>(a.q);
  const T* kbase = static_cast<const T*>(a.k) + (b * a.kv_heads + hk) * a.kv_buf_len * d;
  const T* vbase = static_cast<const T*>(a.v) + (b * a.kv_heads + hk) * a.kv_buf_len * d;
  const uint8_t* mask = a.key_mask ? a.key_mask + b * a.mask_len : nullptr;

  float* qf = scratch.buf.data();
  float* kb = qf + p.rows * dp;
  float* vb = kb + kKeyBlock * dp;
  std::vector<int64_t>& last = scratch.last;
  int64_t max_last = -1;

  // 0. scaled float32 queries; rows past Tq are marked absent
  for (int64_t qi = 0; qi < p.tile; ++qi)
    for (int64_t g = 0; g < G; ++g) {
      const int64_t r = qi * G + g, i = qt * p.tile + qi;  // query-major: a query's heads adjacent
      st[r] = attn_empty();
      std::fill(acc + r * dp, acc + (r + 1) * dp, 0.0f);
      if (i >= a.q_len) {
        last[size_t(r)] = -1;
        continue;
      }
      const int64_t h = hk * G + g;
      load_rows(q + ((b * a.q_heads + h) * a.q_len + i) * d, 1, d, dp, qf + r * dp);
      for (int64_t t = 0; t < d; ++t) qf[r * dp + t] *= a.scale;
      last[size_t(r)] = attn_last_key(a, i);
      max_last = std::max(max_last, last[size_t(r)]);
    }
  k_end = std::min(k_end, max_last + 1);
  const AttendBlockFn block = attend_block_for(dp);

  for (int64_t j0 = k_begin; j0 < k_end; j0 += kKeyBlock) {
    const int n = int(std::min<int64_t>(kKeyBlock, k_end - j0));
    // skip blocks whose keys are all masked (e.g. blocked image keys) without reading them
    if (mask) {
      bool any = false;
      for (int j = 0; j < n; ++j) any |= mask[j0 + j] != 0;
      if (!any) continue;
    }
    // a block kPrefetchKeys ahead is requested now so that its memory reads overlap this math
    if (j0 + kPrefetchKeys < k_end) {
      const int64_t nn = std::min<int64_t>(kKeyBlock, k_end - j0 - kPrefetchKeys);
      prefetch(kbase + (j0 + kPrefetchKeys) * d, nn * d * int64_t(sizeof(T)));
      prefetch(vbase + (j0 + kPrefetchKeys) * d, nn * d * int64_t(sizeof(T)));
    }
    const float* kf = kb;
    const float* vf = vb;
    if (std::is_same_v<T, float> && d == dp) {  // already float32 and padded: use in place
      kf = reinterpret_cast<const float*>(kbase + j0 * d);
      vf = reinterpret_cast<const float*>(vbase + j0 * d);
    } else {
      load_rows(kbase + j0 * d, n, d, dp, kb);
      load_rows(vbase + j0 * d, n, d, dp, vb);
    }
    block(qf, p.rows, last.data(), j0, n, kf, vf, mask ? mask + j0 : nullptr, st, acc);
  }
}

template <class T>
void write_row(const AttentionMaskedArgs& a, const Plan& p, int64_t b, int64_t hk, int64_t qt,
               int64_t r, AttnRowState st, const float* acc) {
  const int64_t g = r % p.groups, i = qt * p.tile + r / p.groups;
  if (i >= a.q_len) return;
  const int64_t row = (b * a.q_heads + hk * p.groups + g) * a.q_len + i;
  T* out = static_cast<T*>(a.out) + row * a.head_dim;
  const float inv = attn_inv_l(st);
  for (int64_t t = 0; t < a.head_dim; ++t) out[t] = from_float<T>(acc[t] * inv);
  if (a.lse) a.lse[row] = attn_lse(st);
}

template <class T>
void run(const AttentionMaskedArgs& a) {
  Plan p;
  p.groups = a.q_heads / a.kv_heads;
  p.tile = std::max<int64_t>(1, std::min(a.q_len, kAttnCpuTileRows / p.groups));
  p.tiles = (a.q_len + p.tile - 1) / p.tile;
  p.rows = p.groups * p.tile;
  p.dp = round_up(a.head_dim, kCols);
  const bool split = a.q_len <= kAttnSplitMaxQueries && a.kv_len > kAttnCpuSplitKeys;
  p.split_len = split ? kAttnCpuSplitKeys : std::max<int64_t>(a.kv_len, 1);
  p.splits = split ? (a.kv_len + kAttnCpuSplitKeys - 1) / kAttnCpuSplitKeys : 1;
  const int64_t heads = a.batch * a.kv_heads;

  if (p.splits == 1) {
    parallel_for(heads * p.tiles, 1, [&](int64_t i0, int64_t i1) {
      std::vector<AttnRowState> st(size_t(p.rows));
      std::vector<float> acc(size_t(p.rows * p.dp));
      ItemScratch scratch(p);
      for (int64_t it = i0; it < i1; ++it) {
        const int64_t bh = it / p.tiles, qt = it % p.tiles, b = bh / a.kv_heads, hk = bh % a.kv_heads;
        run_item<T>(a, p, b, hk, qt, 0, a.kv_len, scratch, st.data(), acc.data());
        for (int64_t r = 0; r < p.rows; ++r) write_row<T>(a, p, b, hk, qt, r, st[size_t(r)], acc.data() + r * p.dp);
      }
    });
    return;
  }
  // Decode: every (head, tile, split) is an item; the partial states are merged per row in split
  // order below, so the result depends on the shape only.
  const int64_t per_item = p.rows * (p.dp + 2);
  std::vector<float> part(size_t(heads * p.items() * per_item));
  parallel_for(heads * p.items(), 1, [&](int64_t i0, int64_t i1) {
    std::vector<AttnRowState> st(size_t(p.rows));
    ItemScratch scratch(p);
    for (int64_t it = i0; it < i1; ++it) {
      const int64_t bh = it / p.items(), rest = it % p.items();
      const int64_t qt = rest / p.splits, sp = rest % p.splits;
      float* slot = part.data() + it * per_item;
      run_item<T>(a, p, bh / a.kv_heads, bh % a.kv_heads, qt, sp * p.split_len,
                  std::min(a.kv_len, (sp + 1) * p.split_len), scratch, st.data(), slot + 2 * p.rows);
      for (int64_t r = 0; r < p.rows; ++r) {
        slot[2 * r] = st[size_t(r)].m;
        slot[2 * r + 1] = st[size_t(r)].l;
      }
    }
  });
  parallel_for(heads * p.tiles, 1, [&](int64_t i0, int64_t i1) {
    std::vector<float> acc(size_t(p.dp));
    for (int64_t it = i0; it < i1; ++it) {
      const int64_t bh = it / p.tiles, qt = it % p.tiles;
      for (int64_t r = 0; r < p.rows; ++r) {
        // merge the splits' (m, l, acc) in order
        AttnRowState st = attn_empty();
        std::fill(acc.begin(), acc.end(), 0.0f);
        for (int64_t sp = 0; sp < p.splits; ++sp) {
          const float* slot = part.data() + ((bh * p.tiles + qt) * p.splits + sp) * per_item;
          const AttnRowState o{slot[2 * r], slot[2 * r + 1]};
          if (o.m == -kInf) continue;
          const float m = st.m > o.m ? st.m : o.m;
          const float wa = attn_rescale(st.m, m), wb = attn_rescale(o.m, m);
          const float* oacc = slot + 2 * p.rows + r * p.dp;
          for (int64_t t = 0; t < p.dp; ++t) acc[size_t(t)] = acc[size_t(t)] * wa + oacc[t] * wb;
          st = AttnRowState{m, st.l * wa + o.l * wb};
        }
        write_row<T>(a, p, bh / a.kv_heads, bh % a.kv_heads, qt, r, st, acc.data());
      }
    }
  });
}

}  // namespace

Status attention_masked_cpu(const AttentionMaskedArgs& a) {
  if (a.batch * a.q_heads * a.q_len == 0) return Status::Ok();
  return dispatch_float(a.dtype, "attention.masked", [&](auto t) { run<decltype(t)>(a); });
}

}  // namespace mmpref

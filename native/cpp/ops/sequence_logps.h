// Per-sequence log-probabilities of label tokens (the DPO log-ratio's building block) and their
// gradient with respect to the logits, without materialising softmax (extra memory O(rows)).
// METHODS.md §6.1; TRL `selective_log_softmax` + masked sum (`get_batch_logps` in TRL 0.x).
//
// Rows and labels. logits [rows, V] are the positions of `seqs` sequences, either padded
// (rows = seqs * T, sequence b = rows [b*T, (b+1)*T)) or packed (sequence b = rows
// [cu[b], cu[b+1]), cu = cu_seqlens). Row r scores the label at index l(r) = r + shift when that
// index is inside r's sequence (shift: logits at t predict token t+1, as in TRL) and
// labels[l(r)] != ignore_index; every other row scores nothing. With y = labels[l(r)]:
//
//   lse[r]    = log sum_j exp(logits[r, j])
//   lp[r]     = logits[r, y] - lse[r]                        (-inf when logits[r, y] = -inf)
//   n[b]      = #scored rows of sequence b
//   logp[b]   = sum_{scored r in b} lp[r]     (average: / max(n[b], 1); 0 when n[b] = 0)
//   per_token[l(r)] = lp[r]                    (aligned with labels; 0 where nothing is scored)
//
// Gradient for an upstream g[b] = dL/dlogp[b] (average: g[b] / max(n[b], 1)):
//   dL/dlogits[r, j] = g * (1[j == y] - exp(logits[r, j] - lse[r]))   scored rows
//                    = 0                                               every other row
// The backward uses the forward's float32 lse when it is passed (one pass over the logits), else
// recomputes it per row in double. NB: a float32 lse limits the softmax term to a relative
// precision of about |lse| * 6e-8 (3e-6 at 50, 6e-4 at 1e4), as a float32 log-softmax does.
//
// Numerics (CPU and CUDA). NB: exp(x - lse) is evaluated as 2^(x*L - c) with L = log2(e) rounded
// to float and a per-row reference c (a float near max*L): y = fmaf(x, L, -c) costs one FMA and
// is correctly rounded whatever the size of x and c, and the pieces fit back together exactly:
//   sum_j 2^(x_j*L - c) = exp(lse(x*L*ln2) - c*ln2),  and since L*ln2 = 1 - 1.3e-8,
//   lse = c / L + log(S)   (in double), with a residual (x_mean - c/L) * 1.3e-8 ~ 1e-7.
// The CPU evaluates 2^y with a minimax polynomial: degree 5 for float32 logits (max relative
// error 1.6e-7), degree 4 for float16/bfloat16 logits (2.9e-6, below their own spacing of 1e-3);
// CUDA uses exp2f. Sums accumulate in float32 lanes per chunk and
// in double across chunks; sequence sums are double. The fast path covers rows whose max is within
// |max| < 2^28 / L (~1.8e8); rows with NaN, +inf or larger magnitudes take an exact slow path:
// NaN anywhere gives NaN, else any +inf gives lse = +inf, and a row of -inf gives lse = -inf.
#pragma once

#include <cmath>
#include <cstdint>
#include <string>

#include "../core/dtype.h"
#include "../core/hd.h"
#include "../core/math.h"
#include "../core/status.h"

namespace mmpref {

// How logits rows map to labels and sequences (shared by the forward and the backward).
struct LogpsRows {
  const void* labels = nullptr;        // int32 or int64 [rows] (padded: [seqs, T] flattened)
  DType label_dtype = DType::kInt32;
  const int32_t* cu_seqlens = nullptr;  // [seqs + 1] on the op's device, or null when padded
  int64_t seqs = 0;
  int64_t rows = 0;
  int64_t seq_len = 0;  // T when padded (rows = seqs * T); unused when packed
  int64_t vocab = 0;
  int64_t ignore_index = -100;
  bool shift = true;
  bool average = false;
};

struct SequenceLogpsArgs {
  LogpsRows map;
  const void* logits = nullptr;  // [rows, vocab]
  DType dtype = DType::kFloat32;
  float* logps = nullptr;        // [seqs]
  int32_t* counts = nullptr;     // [seqs]
  float* per_token = nullptr;    // [rows], aligned with labels (always written)
  float* lse = nullptr;          // [rows] or null; 0 for rows that score nothing
  int device = -1;
};

struct LogpsBackwardArgs {
  LogpsRows map;
  const void* logits = nullptr;  // [rows, vocab]
  void* grad = nullptr;          // [rows, vocab], logits' dtype; may equal logits (in place)
  DType dtype = DType::kFloat32;
  const float* grad_logps = nullptr;  // [seqs]
  const float* lse = nullptr;         // [rows] or null (then recomputed per row)
  int device = -1;
};

Status sequence_logps_cpu(const SequenceLogpsArgs& a);
Status sequence_logps_cuda(const SequenceLogpsArgs& a);
Status logps_backward_cpu(const LogpsBackwardArgs& a);
Status logps_backward_cuda(const LogpsBackwardArgs& a);

// ---- math shared by CPU and CUDA ---------------------------------------------------------------

constexpr float kLog2eF = 1.44269504088896341f;  // L: log2(e) rounded to float
constexpr double kLn2 = 0.69314718055994530942;
// |c| bound of the fast path: for x at the row max, y = x*L - c is within ulp(c)/2 <= 8 of 0, so
// the largest terms neither overflow nor vanish (|max| < 1.8e8).
constexpr float kRefLimit = 268435456.0f;  // 2^28
// Lower clamp of y: 2^y stays a normal float, and 2^-125 is absorbed by any sum containing 1.
constexpr float kExp2Lo = -125.0f;

// 2^f for f in [-0.5, 0.5]: minimax polynomials with p(0) = 1, evaluated with FMAs. Max relative
// error of exp2_reduced (below), measured over every float y in [-30, 0.5]: degree 5 1.6e-7,
// degree 4 2.9e-6 (float16/bfloat16 logits, whose own spacing is 1e-3 to 4e-3 relative).
template <int DEG>
MMPREF_HD float exp2_poly(float f) {
  static_assert(DEG == 4 || DEG == 5, "degree 4 or 5");
  float p;
  if (DEG == 5) {
    p = 1.327499049e-03f;
    p = fmaf(p, f, 9.671846405e-03f);
    p = fmaf(p, f, 5.550692603e-02f);
    p = fmaf(p, f, 2.402223498e-01f);
    p = fmaf(p, f, 6.931470037e-01f);
  } else {
    p = 9.582193568e-03f;
    p = fmaf(p, f, 5.590667576e-02f);
    p = fmaf(p, f, 2.402411699e-01f);
    p = fmaf(p, f, 6.931241751e-01f);
  }
  return fmaf(p, f, 1.0f);
}

// 2^y for y in [-125, 126] (callers clamp): n = round(y) by the 1.5*2^23 trick, 2^n added to the
// exponent field. NB: a NaN y whose payload has any of its low 9 bits set can come out as a
// number; bf16/f16 inputs never have such payloads (their low 13+ bits are zero as floats),
// float32 callers scan for NaN separately.
template <int DEG>
MMPREF_HD float exp2_reduced(float y) {
  const float t = y + 12582912.0f;
  const float f = y - (t - 12582912.0f);
  return bits_as_float(float_as_bits(exp2_poly<DEG>(f)) + (float_as_bits(t) << 23));
}

// lse from a reference c and S = sum_j 2^(x_j*L - c) (see the header comment).
MMPREF_HD double lse_from_ref(float c, double s) { return double(c) / double(kLog2eF) + log(s); }

// Label of index i as int64 (int32 or int64 storage).
MMPREF_HD int64_t load_label(const void* labels, DType t, int64_t i) {
  return t == DType::kInt64 ? static_cast<const int64_t*>(labels)[i]
                            : int64_t(static_cast<const int32_t*>(labels)[i]);
}

// Sequence [begin, end) of row r: padded by division, packed by binary search over cu_seqlens
// (validated: cu[0] = 0, non-decreasing, cu[seqs] = rows).
struct SeqSpan {
  int64_t seq, begin, end;
};
MMPREF_HD SeqSpan seq_of_row(const LogpsRows& m, int64_t r) {
  const int32_t* cu = m.cu_seqlens;
  if (!cu) {
    const int64_t b = r / m.seq_len;
    return SeqSpan{b, b * m.seq_len, (b + 1) * m.seq_len};
  }
  int64_t lo = 0, hi = m.seqs - 1;  // last b with cu[b] <= r (skips empty sequences)
  while (lo < hi) {
    const int64_t mid = (lo + hi + 1) / 2;
    if (int64_t(cu[mid]) <= r) lo = mid;
    else hi = mid - 1;
  }
  return SeqSpan{lo, int64_t(cu[lo]), int64_t(cu[lo + 1])};
}

// Label index scored by row r of a sequence ending at `end`, or -1.
MMPREF_HD int64_t label_index(int64_t r, int64_t end, bool shift) {
  const int64_t li = shift ? r + 1 : r;
  return li < end ? li : -1;
}

// What row r scores: the token id y >= 0, -1 (nothing: shifted past the end or ignore_index), or
// -2 (a label outside [0, V) that is not ignore_index: an ERR_RANGE at label index *li).
MMPREF_HD int64_t row_target(const LogpsRows& m, int64_t r, int64_t* li) {
  const SeqSpan s = seq_of_row(m, r);
  *li = label_index(r, s.end, m.shift);
  if (*li < 0) return -1;
  const int64_t y = load_label(m.labels, m.label_dtype, *li);
  if (y == m.ignore_index) return -1;
  return (y < 0 || y >= m.vocab) ? -2 : y;
}

// Host-side check of cu_seqlens [seqs + 1]: starts at 0, never decreases, ends at rows.
inline Status check_cu_seqlens(const char* op, const int32_t* cu, int64_t seqs, int64_t rows) {
  const auto bad = [&](const std::string& what) {
    return make_status(Code::kRange, std::string(op) + ": expected cuSeqlens " + what);
  };
  if (cu[0] != 0) return bad("to start at 0 but received " + std::to_string(cu[0]));
  for (int64_t b = 0; b < seqs; ++b)
    if (cu[b + 1] < cu[b])
      return bad("to be non-decreasing but received cuSeqlens[" + std::to_string(b + 1) + "] = " +
                 std::to_string(cu[b + 1]) + " < cuSeqlens[" + std::to_string(b) + "] = " +
                 std::to_string(cu[b]));
  if (int64_t(cu[seqs]) != rows)
    return bad("to end at " + std::to_string(rows) + " (the number of logits rows) but received " +
               std::to_string(cu[seqs]));
  return Status::Ok();
}

// Where label index li is, for messages: "[b, t]" when padded, "[i]" when packed.
inline std::string label_position(const LogpsRows& m, int64_t li) {
  if (m.cu_seqlens || m.seq_len <= 0) return "[" + std::to_string(li) + "]";
  return "[" + std::to_string(li / m.seq_len) + ", " + std::to_string(li % m.seq_len) + "]";
}

// ERR_RANGE for a label outside [0, V) at label index li.
inline Status label_range_error(const char* op, const LogpsRows& m, int64_t li, int64_t y) {
  return make_status(Code::kRange, std::string(op) + ": expected labels in [0, " +
                                       std::to_string(m.vocab) + ") or equal to ignoreIndex (" +
                                       std::to_string(m.ignore_index) + ") but received " +
                                       std::to_string(y) + " at labels" + label_position(m, li));
}

// lp from the label logit and lse (-inf label logit gives -inf, also for a row of -inf).
MMPREF_HD double token_logp(float x_label, double lse) {
  return x_label == -kInf ? -double(kInf) : double(x_label) - lse;
}

}  // namespace mmpref

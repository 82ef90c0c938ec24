/**
 * float64 references for dpo.sequenceLogps / dpo.logpsBackward, written from METHODS.md §6.1 with
 * plain loops (also the bench's naive TS baseline). Logits are given as the float64 values the
 * tensor holds; labels as numbers.
 */
export interface RowLayout {
  /** logits rows and label count (B*T padded, N packed) */
  rows: number;
  vocab: number;
  /** sequence start offsets, length seqs + 1 */
  offsets: readonly number[];
  ignoreIndex?: number;
  shift?: boolean;
  average?: boolean;
}

/** Padded layout: B sequences of T positions. */
export function padded(B: number, T: number, V: number, o: Omit<RowLayout, 'rows' | 'vocab' | 'offsets'> = {}): RowLayout {
  return { rows: B * T, vocab: V, offsets: Array.from({ length: B + 1 }, (_, b) => b * T), ...o };
}

/** log(sum(exp(x))) of one row: NaN if any NaN, +-inf if the max is infinite. */
export function lseRef(x: ArrayLike<number>, off: number, n: number): number {
  let m = -Infinity;
  for (let j = 0; j < n; j++) {
    const v = x[off + j]!;
    if (Number.isNaN(v)) return NaN;
    if (v > m) m = v;
  }
  if (!Number.isFinite(m)) return m;
  let s = 0;
  for (let j = 0; j < n; j++) s += Math.exp(x[off + j]! - m);
  return m + Math.log(s);
}

export interface LogpsRef {
  logps: Float64Array;
  counts: Int32Array;
  /** aligned with labels */
  perToken: Float64Array;
  /** per logits row, 0 for rows that score nothing */
  lse: Float64Array;
  /** per logits row: the scored token or -1, and its sequence */
  target: Int32Array;
  seq: Int32Array;
}

export function sequenceLogpsRef(logits: ArrayLike<number>, labels: ArrayLike<number>, L: RowLayout): LogpsRef {
  const { rows, vocab: V, offsets } = L;
  const ignore = L.ignoreIndex ?? -100;
  const shift = L.shift ?? true;
  const B = offsets.length - 1;
  const out: LogpsRef = {
    logps: new Float64Array(B),
    counts: new Int32Array(B),
    perToken: new Float64Array(rows),
    lse: new Float64Array(rows),
    target: new Int32Array(rows).fill(-1),
    seq: new Int32Array(rows),
  };
  for (let b = 0; b < B; b++) {
    let sum = 0;
    let n = 0;
    for (let t = offsets[b]!; t < offsets[b + 1]!; t++) {
      out.seq[t] = b;
      const li = shift ? t + 1 : t; // the label this logits row predicts
      if (li >= offsets[b + 1]!) continue;
      const y = labels[li]!;
      if (y === ignore) continue;
      if (!(y >= 0 && y < V)) throw new RangeError(`label ${y} at ${li}`);
      const lse = lseRef(logits, t * V, V);
      const xl = logits[t * V + y]!;
      const lp = xl === -Infinity ? -Infinity : xl - lse;
      out.perToken[li] = lp;
      out.lse[t] = lse;
      out.target[t] = y;
      sum += lp;
      n++;
    }
    out.counts[b] = n;
    out.logps[b] = L.average ? (n ? sum / n : 0) : sum;
  }
  return out;
}

/** dL/dlogits for upstream gradLogps (per sequence): g * (onehot - softmax), 0 on unscored rows. */
export function logpsBackwardRef(logits: ArrayLike<number>, labels: ArrayLike<number>, gradLogps: ArrayLike<number>, L: RowLayout): Float64Array {
  const f = sequenceLogpsRef(logits, labels, L);
  const V = L.vocab;
  const g = new Float64Array(L.rows * V);
  for (let t = 0; t < L.rows; t++) {
    const y = f.target[t]!;
    if (y < 0) continue;
    const b = f.seq[t]!;
    const gb = gradLogps[b]! / (L.average ? Math.max(f.counts[b]!, 1) : 1);
    for (let j = 0; j < V; j++) {
      const p = Math.exp(logits[t * V + j]! - f.lse[t]!);
      g[t * V + j] = gb * ((j === y ? 1 : 0) - p);
    }
  }
  return g;
}

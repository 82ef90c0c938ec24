/**
 * float64 reference for ops.crossEntropy, written from the formula (PyTorch F.cross_entropy with
 * ignore_index and reduction; Hugging Face's causal shift) with plain loops, never by calling
 * mmpref (also the bench's naive TS baseline). Logits are the float64 values the tensor holds.
 */
import { lseRef } from './sequence_logps';

export interface CeLayout {
  /** logits rows (B*T, or N) and vocabulary */
  rows: number;
  vocab: number;
  /** rows per sequence (T; N for [N, V] input) */
  seqLen: number;
  ignoreIndex?: number;
  shift?: boolean;
  reduction?: 'mean' | 'sum' | 'none';
}

export interface CeRef {
  /** per logits row, 0 where nothing is scored */
  losses: Float64Array;
  /** the reduced loss ('none': the sum) */
  loss: number;
  count: number;
  /** per row: the scored token or -1 */
  target: Int32Array;
  /** per row: log-sum-exp of the row (0 where nothing is scored) */
  lse: Float64Array;
}

export function crossEntropyRef(logits: ArrayLike<number>, labels: ArrayLike<number>, L: CeLayout): CeRef {
  const { rows, vocab: V, seqLen } = L;
  const ignore = L.ignoreIndex ?? -100;
  const out: CeRef = { losses: new Float64Array(rows), loss: 0, count: 0, target: new Int32Array(rows).fill(-1), lse: new Float64Array(rows) };
  let sum = 0;
  for (let r = 0; r < rows; r++) {
    const li = L.shift ? r + 1 : r; // the label row r predicts
    if (L.shift && li % seqLen === 0) continue; // past the end of r's sequence
    const y = labels[li]!;
    if (y === ignore) continue;
    if (!(y >= 0 && y < V)) throw new RangeError(`label ${y} at ${li}`);
    const lse = lseRef(logits, r * V, V);
    out.lse[r] = lse;
    out.losses[r] = lse - logits[r * V + y]!;
    out.target[r] = y;
    sum += out.losses[r]!;
    out.count++;
  }
  out.loss = L.reduction === 'mean' || L.reduction === undefined ? (out.count ? sum / out.count : 0) : sum;
  return out;
}

/** d(loss)/d(logits): s_r * (softmax - onehot) on scored rows, s_r = gradOut (per row for 'none') / n for 'mean'. */
export function crossEntropyGradRef(logits: ArrayLike<number>, labels: ArrayLike<number>, L: CeLayout, gradOut: number | ArrayLike<number> = 1): Float64Array {
  const f = crossEntropyRef(logits, labels, L);
  const V = L.vocab;
  const g = new Float64Array(L.rows * V);
  const mean = L.reduction === 'mean' || L.reduction === undefined;
  for (let r = 0; r < L.rows; r++) {
    const y = f.target[r]!;
    if (y < 0) continue;
    const s = (typeof gradOut === 'number' ? gradOut : gradOut[r]!) / (mean ? Math.max(f.count, 1) : 1);
    for (let j = 0; j < V; j++) {
      const z = logits[r * V + j]! - f.lse[r]!;
      g[r * V + j] = s * (j === y ? Math.expm1(z) : Math.exp(z));
    }
  }
  return g;
}

/** The scalar whose gradient crossEntropy returns: the reduced loss, or sum_r gradOut_r * loss_r ('none'). */
export function crossEntropyObjective(logits: ArrayLike<number>, labels: ArrayLike<number>, L: CeLayout, gradOut: number | ArrayLike<number> = 1): number {
  const f = crossEntropyRef(logits, labels, L);
  if (L.reduction !== 'none') return (typeof gradOut === 'number' ? gradOut : 1) * f.loss;
  let s = 0;
  for (let r = 0; r < L.rows; r++) s += (typeof gradOut === 'number' ? gradOut : gradOut[r]!) * f.losses[r]!;
  return s;
}

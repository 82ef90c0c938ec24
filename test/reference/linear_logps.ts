/**
 * float64 references for dpo.linearLogps / dpo.linearStep / ops.linearCrossEntropy: logits =
 * hidden lmHead^T in float64, then the sequence_logps references; gradients of the hidden states
 * and the head from dlogits with float64 matrix products (plain loops).
 */
import { logpsBackwardRef, sequenceLogpsRef, type LogpsRef, type RowLayout } from './sequence_logps';

/** Z [N, V] = X [N, H] W^T (W [V, H]). */
export function logitsRef(x: ArrayLike<number>, w: ArrayLike<number>, N: number, H: number, V: number): Float64Array {
  const z = new Float64Array(N * V);
  for (let i = 0; i < N; i++)
    for (let j = 0; j < V; j++) {
      let s = 0;
      for (let k = 0; k < H; k++) s += x[i * H + k]! * w[j * H + k]!;
      z[i * V + j] = s;
    }
  return z;
}

/** dX = G W [N, H] and dW = G^T X [V, H] for G [N, V]; with abs: the same products of |G|, |W|, |X| (error bounds). */
export function linearGradsRef(g: ArrayLike<number>, x: ArrayLike<number>, w: ArrayLike<number>, N: number, H: number, V: number, abs = false) {
  const f = abs ? Math.abs : (v: number) => v;
  const dx = new Float64Array(N * H);
  const dw = new Float64Array(V * H);
  for (let i = 0; i < N; i++)
    for (let j = 0; j < V; j++) {
      const gij = f(g[i * V + j]!);
      if (gij === 0) continue;
      for (let k = 0; k < H; k++) {
        dx[i * H + k]! += gij * f(w[j * H + k]!);
        dw[j * H + k]! += gij * f(x[i * H + k]!);
      }
    }
  return { dx, dw };
}

export interface LinearLogpsRef extends LogpsRef {
  logits: Float64Array;
}

export function linearLogpsRef(x: ArrayLike<number>, w: ArrayLike<number>, labels: ArrayLike<number>, H: number, L: RowLayout): LinearLogpsRef {
  const z = logitsRef(x, w, L.rows, H, L.vocab);
  return { ...sequenceLogpsRef(z, labels, L), logits: z };
}

/** dX, dW (and |G|-products for tolerances) of a loss with per-sequence gradient gradLogps. */
export function linearBackwardRef(x: ArrayLike<number>, w: ArrayLike<number>, labels: ArrayLike<number>, gradLogps: ArrayLike<number>, H: number, L: RowLayout) {
  const z = logitsRef(x, w, L.rows, H, L.vocab);
  const g = logpsBackwardRef(z, labels, gradLogps, L);
  return { ...linearGradsRef(g, x, w, L.rows, H, L.vocab), abs: linearGradsRef(g, x, w, L.rows, H, L.vocab, true), dlogits: g };
}

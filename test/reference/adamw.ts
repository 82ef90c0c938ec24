/**
 * float64 references for optim.adamw and optim.clipGradNorm, written from PyTorch's formulas
 * (/work/shared/TRAINING.md §2; torch.optim.AdamW with amsgrad off, clip_grad_norm_ with norm 2),
 * never by calling mmpref. adamwRef also carries a first-order bound on how far a float32
 * implementation of the same steps may drift (see `bound`).
 */

export interface AdamwHyper {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
}

export interface AdamwRefState {
  theta: Float64Array;
  m: Float64Array;
  v: Float64Array;
  /**
   * Per element, a bound on |float32 result - this reference| for theta, grown each step from the
   * float32 roundings (u = 2^-24 per operation) of: the decay product (1), the lerp (3), the
   * v update (3), sqrt, division by bc2_sqrt and + eps (3), the product, quotient and sum of the
   * update (3), and the errors already in m, v and theta carried through the update (first order).
   */
  bound: Float64Array;
  boundM: Float64Array;
  boundV: Float64Array;
}

const U = 2 ** -24;

export function adamwRefInit(theta: ArrayLike<number>): AdamwRefState {
  const n = theta.length;
  return {
    theta: Float64Array.from(theta),
    m: new Float64Array(n),
    v: new Float64Array(n),
    bound: new Float64Array(n),
    boundM: new Float64Array(n),
    boundV: new Float64Array(n),
  };
}

/** One step t (>= 1) in place; `round` (optional) is the parameter storage rounding applied after the step. */
export function adamwRefStep(s: AdamwRefState, g: ArrayLike<number>, h: AdamwHyper, t: number, round?: (x: number) => number): void {
  const bc1 = 1 - h.beta1 ** t;
  const bc2s = Math.sqrt(1 - h.beta2 ** t);
  const decay = 1 - h.lr * h.weightDecay;
  const stepSize = h.lr / bc1;
  for (let i = 0; i < s.theta.length; i++) {
    const gi = g[i]!;
    let th = s.theta[i]! * decay;
    let eth = s.bound[i]! * decay + 2 * U * Math.abs(th);
    const m = h.beta1 * s.m[i]! + (1 - h.beta1) * gi;
    const v = h.beta2 * s.v[i]! + (1 - h.beta2) * gi * gi;
    const em = h.beta1 * s.boundM[i]! + 3 * U * (Math.abs(m) + Math.abs(gi) + Math.abs(s.m[i]!));
    const ev = h.beta2 * s.boundV[i]! + 3 * U * (v + gi * gi);
    const sv = Math.sqrt(v);
    const denom = sv / bc2s + h.eps;
    const esv = sv > 0 ? Math.min(Math.sqrt(ev), ev / sv) : Math.sqrt(ev);
    const ed = esv / bc2s + 3 * U * denom;
    const upd = (stepSize * m) / denom;
    const eupd = stepSize * (em / denom + (Math.abs(m) * ed) / (denom * (denom - Math.min(ed, denom / 2)))) + 3 * U * Math.abs(upd);
    th -= upd;
    eth += eupd + U * Math.abs(th);
    if (round) {
      const r = round(th);
      eth += Math.abs(r - th);
      th = r;
    }
    s.theta[i] = th;
    s.m[i] = m;
    s.v[i] = v;
    s.bound[i] = eth;
    s.boundM[i] = em;
    s.boundV[i] = ev;
  }
}

/** The global L2 norm of the gradients and the scale min(1, maxNorm / (total + eps)). */
export function clipGradNormRef(grads: readonly ArrayLike<number>[], maxNorm: number, eps = 1e-6): { total: number; coef: number } {
  let s = 0;
  for (const g of grads) for (let i = 0; i < g.length; i++) s += g[i]! * g[i]!;
  const total = Math.sqrt(s);
  return { total, coef: Math.min(1, maxNorm / (total + eps)) };
}

/**
 * float64 reference for sampling.contrastive (VCD, METHODS.md section 2), from the formula:
 * cutoff = log(beta) + max l; out = (1 + alpha) l - alpha l' where l >= cutoff, else -inf;
 * +inf inputs and results clamped to the float32 max, -inf in l stays -inf, alpha = 0 returns l.
 */
const FLT_MAX = 3.4028234663852886e38;

export function contrastiveRef(
  l: ArrayLike<number>,
  ld: ArrayLike<number>,
  rows: number,
  cols: number,
  alpha: number,
  beta: number,
  rowActive?: ArrayLike<number>,
): Float64Array {
  const out = new Float64Array(rows * cols);
  const clamp = (x: number) => (x === Infinity ? FLT_MAX : x);
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    if (rowActive && !rowActive[r]) {
      for (let j = 0; j < cols; j++) out[o + j] = l[o + j]!;
      continue;
    }
    let m = -Infinity;
    for (let j = 0; j < cols; j++) if (clamp(l[o + j]!) > m) m = clamp(l[o + j]!);
    const cutoff = beta === 0 ? -Infinity : Math.log(beta) + m;
    for (let j = 0; j < cols; j++) {
      const a = clamp(l[o + j]!);
      const b = clamp(ld[o + j]!);
      let v: number;
      if (Number.isNaN(a)) v = NaN;
      else if (a === -Infinity || a < cutoff) v = -Infinity;
      else v = alpha === 0 ? a : (1 + alpha) * a - alpha * b;
      out[o + j] = v === Infinity || v > FLT_MAX ? FLT_MAX : v;
    }
  }
  return out;
}

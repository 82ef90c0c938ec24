/**
 * float64 reference for noise.predictionLoss: mse_b = mean_j (p - e)^2, loss = mean_b w_b mse_b,
 * grad = g 2 w_b (p - e) / (B S).
 */
export function predictionLossRef(
  p: ArrayLike<number>,
  e: ArrayLike<number>,
  B: number,
  w: ArrayLike<number> | null,
  gradScale = 1,
): { loss: number; perSample: Float64Array; grad: Float64Array } {
  const n = p.length;
  const S = B ? n / B : 0;
  const perSample = new Float64Array(B);
  const grad = new Float64Array(n);
  let loss = 0;
  for (let b = 0; b < B; b++) {
    const wb = w ? w[b]! : 1;
    let s = 0;
    for (let j = 0; j < S; j++) {
      const d = p[b * S + j]! - e[b * S + j]!;
      s += d * d;
      grad[b * S + j] = (gradScale * 2 * wb * d) / (B * S);
    }
    perSample[b] = S ? s / S : 0;
    loss += wb * perSample[b]!;
  }
  return { loss: B ? loss / B : 0, perSample, grad };
}

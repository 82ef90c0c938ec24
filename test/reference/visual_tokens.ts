/**
 * float64 reference for noise.visualTokens (NoiseBoost), from the definition in docs/noise.md:
 * y = x + s z on perturbed tokens, z = normals (b N + n) D + d of the stream, the keep draw of
 * token t = uniform of word t of the auxiliary region (blocks 2^63 + t / 4).
 */
import { Stream, uniformOf } from './random_fill';

export type ScaleMode = 'absolute' | 'token-rms' | 'token-std';

export interface VisualTokensRefArgs {
  x: ArrayLike<number>; // the values x holds (after rounding to its dtype)
  B: number;
  N: number;
  D: number;
  mask: ArrayLike<number | boolean>; // [B * N]
  rows?: ArrayLike<number | boolean> | null; // [B]
  sigma: number;
  scale: ScaleMode;
  prob: number;
  seed: number | bigint;
  offset: number | bigint;
}

/** y (float64, before rounding to the dtype) and which tokens were perturbed. */
export function visualTokensRef(a: VisualTokensRefArgs): { y: Float64Array; perturbed: Uint8Array } {
  const { B, N, D } = a;
  const y = Float64Array.from(a.x);
  const perturbed = new Uint8Array(B * N);
  const stream = new Stream(a.seed, a.offset);
  for (let t = 0; t < B * N; t++) {
    const b = Math.floor(t / N);
    if (!a.mask[t] || (a.rows && !a.rows[b])) continue;
    if (a.prob < 1) {
      const w = stream.block(2n ** 63n + BigInt(Math.floor(t / 4)))[t % 4]!;
      if (!(uniformOf(w) < a.prob)) continue;
    }
    let s = a.sigma;
    if (a.scale !== 'absolute') {
      let sum = 0;
      let sq = 0;
      for (let d = 0; d < D; d++) sum += a.x[t * D + d]!;
      const mean = sum / D;
      for (let d = 0; d < D; d++) {
        const v = a.x[t * D + d]! - (a.scale === 'token-std' ? mean : 0);
        sq += v * v;
      }
      s = a.sigma * Math.sqrt(sq / D);
    }
    if (s === 0) continue;
    perturbed[t] = 1;
    const z = stream.normals(t * D, D);
    for (let d = 0; d < D; d++) y[t * D + d] = a.x[t * D + d]! + s * z[d]!;
  }
  return { y, perturbed };
}

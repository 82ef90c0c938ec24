/**
 * float64 reference for noise.neftune: x + alpha / sqrt(L_b D) * v on real positions, v the
 * symmetric uniform of word (b L + n) D + d of the stream; L_b the row's real length ('length') or
 * the padded length L ('padded'); padding positions unchanged.
 */
import { Stream } from './random_fill';

export interface NeftuneRefArgs {
  x: ArrayLike<number>;
  B: number;
  L: number;
  D: number;
  alpha: number;
  lengths?: number[];
  mask?: ArrayLike<number | boolean>;
  norm: 'length' | 'padded';
  seed: number | bigint;
  offset: number | bigint;
}

export function neftuneRef(a: NeftuneRefArgs): { y: Float64Array; real: Uint8Array } {
  const { B, L, D } = a;
  const y = Float64Array.from(a.x);
  const real = new Uint8Array(B * L);
  const stream = new Stream(a.seed, a.offset);
  for (let b = 0; b < B; b++) {
    for (let n = 0; n < L; n++) real[b * L + n] = a.lengths ? (n < a.lengths[b]! ? 1 : 0) : a.mask ? (a.mask[b * L + n] ? 1 : 0) : 1;
    let count = 0;
    for (let n = 0; n < L; n++) count += real[b * L + n]!;
    const mag = count === 0 ? 0 : a.alpha / Math.sqrt((a.norm === 'padded' ? L : count) * D);
    for (let n = 0; n < L; n++) {
      if (!real[b * L + n] || mag === 0) {
        real[b * L + n] = 0;
        continue;
      }
      const p = b * L + n;
      const v = stream.pm1s(p * D, D);
      for (let d = 0; d < D; d++) y[p * D + d] = a.x[p * D + d]! + mag * v[d]!;
    }
  }
  return { y, real };
}

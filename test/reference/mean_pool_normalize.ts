/** float64 reference for similarity.meanPoolNormalize (sentence-transformers mean pooling + F.normalize). */
export function meanPoolNormalizeRef(
  x: ArrayLike<number>,
  mask: ArrayLike<number | bigint> | null,
  m: number,
  t: number,
  e: number,
  normalize = true,
): Float64Array {
  const out = new Float64Array(m * e);
  for (let r = 0; r < m; r++) {
    let count = 0;
    for (let s = 0; s < t; s++) {
      if (mask && !Number(mask[r * t + s])) continue;
      count++;
      for (let k = 0; k < e; k++) out[r * e + k]! += x[(r * t + s) * e + k]!;
    }
    if (!count) continue;
    let ss = 0;
    for (let k = 0; k < e; k++) {
      out[r * e + k]! /= count;
      ss += out[r * e + k]! ** 2;
    }
    if (normalize) for (let k = 0; k < e; k++) out[r * e + k]! /= Math.max(Math.sqrt(ss), 1e-12);
  }
  return out;
}

/** float64 references for similarity.cosine / similarity.filter (also the bench's naive TS baseline). */
export function cosineOne(a: ArrayLike<number>, ao: number, b: ArrayLike<number>, bo: number, e: number): number {
  let d = 0;
  let na = 0;
  let nb = 0;
  for (let k = 0; k < e; k++) {
    d += a[ao + k]! * b[bo + k]!;
    na += a[ao + k]! ** 2;
    nb += b[bo + k]! ** 2;
  }
  if (na === 0 || nb === 0) return 0;
  return Math.min(1, Math.max(-1, d / Math.sqrt(na * nb)));
}

/** All pairs: [n, e] x [m, e] -> [n, m]; paired: [n, e] x [n, e] -> [n]. */
export function cosineRef(a: ArrayLike<number>, b: ArrayLike<number>, n: number, m: number, e: number, paired = false): Float64Array {
  if (paired) return Float64Array.from({ length: n }, (_, i) => cosineOne(a, i * e, b, i * e, e));
  const out = new Float64Array(n * m);
  for (let i = 0; i < n; i++) for (let j = 0; j < m; j++) out[i * m + j] = cosineOne(a, i * e, b, j * e, e);
  return out;
}

/** keep[i] = max_j cos(c_i, r_j) < threshold (paired: cos(c_i, r_i) < threshold). */
export function filterRef(c: ArrayLike<number>, r: ArrayLike<number>, n: number, m: number, e: number, threshold: number, paired = false): boolean[] {
  const sim = cosineRef(c, r, n, m, e, paired);
  if (paired) return Array.from(sim, (s) => s < threshold);
  return Array.from({ length: n }, (_, i) => {
    let mx = -Infinity;
    for (let j = 0; j < m; j++) mx = Math.max(mx, sim[i * m + j]!);
    return mx < threshold;
  });
}

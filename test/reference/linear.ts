/** float64 reference for linear: y = x W^T + b (also the bench's naive TS baseline). */
export function linearRef(
  x: ArrayLike<number>,
  w: ArrayLike<number>,
  bias: ArrayLike<number> | null,
  m: number,
  n: number,
  k: number,
): { y: Float64Array; scale: Float64Array } {
  const y = new Float64Array(m * n);
  const scale = new Float64Array(m * n); // sum |x w| + |b|: what rounding errors are relative to
  for (let i = 0; i < m; i++)
    for (let j = 0; j < n; j++) {
      let s = bias ? bias[j]! : 0;
      let a = bias ? Math.abs(bias[j]!) : 0;
      for (let t = 0; t < k; t++) {
        const p = x[i * k + t]! * w[j * k + t]!;
        s += p;
        a += Math.abs(p);
      }
      y[i * n + j] = s;
      scale[i * n + j] = a;
    }
  return { y, scale };
}

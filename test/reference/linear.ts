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

/**
 * float64 reference for the gradients of y = x W^T + b given dy [m, n]: dx = dy W [m, k],
 * dw = dw0 + dy^T x [n, k], db = db0 + sum_rows dy [n]; each with its scale (sum of |terms|,
 * |dw0| / |db0| included), what float32 rounding errors are relative to.
 */
export function linearBackwardRef(
  dy: ArrayLike<number>,
  x: ArrayLike<number>,
  w: ArrayLike<number>,
  m: number,
  n: number,
  k: number,
  dw0: ArrayLike<number> | null = null,
  db0: ArrayLike<number> | null = null,
) {
  const dx = new Float64Array(m * k), dxScale = new Float64Array(m * k);
  const dw = new Float64Array(n * k), dwScale = new Float64Array(n * k);
  const db = new Float64Array(n), dbScale = new Float64Array(n);
  for (let i = 0; i < m; i++)
    for (let t = 0; t < k; t++)
      for (let j = 0; j < n; j++) {
        const p = dy[i * n + j]! * w[j * k + t]!;
        dx[i * k + t] = dx[i * k + t]! + p;
        dxScale[i * k + t] = dxScale[i * k + t]! + Math.abs(p);
      }
  for (let j = 0; j < n; j++) {
    for (let t = 0; t < k; t++) {
      let s = dw0 ? dw0[j * k + t]! : 0;
      let a = Math.abs(s);
      for (let i = 0; i < m; i++) {
        const p = dy[i * n + j]! * x[i * k + t]!;
        s += p;
        a += Math.abs(p);
      }
      dw[j * k + t] = s;
      dwScale[j * k + t] = a;
    }
    let s = db0 ? db0[j]! : 0;
    let a = Math.abs(s);
    for (let i = 0; i < m; i++) {
      s += dy[i * n + j]!;
      a += Math.abs(dy[i * n + j]!);
    }
    db[j] = s;
    dbScale[j] = a;
  }
  return { dx, dxScale, dw, dwScale, db, dbScale };
}

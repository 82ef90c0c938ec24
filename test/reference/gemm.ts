/**
 * float64 reference for the GEMM core: c[m, n] = c0[m, n] + sum_k op(a)[m, k] op(b)[k, n] + bias[n],
 * op(a) = a [M, K] or a^T for a stored [K, M] (transA); op(b) = b [K, N] or b^T for b stored [N, K] (transB).
 * Also returns scale = |c0| + sum |a b| + |bias| per element: what float32 rounding errors are relative to.
 */
export function gemmRef(
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  m: number,
  n: number,
  k: number,
  opts: { transA?: boolean; transB?: boolean; bias?: ArrayLike<number> | null; c0?: ArrayLike<number> | null } = {},
): { c: Float64Array; scale: Float64Array } {
  const { transA = false, transB = false, bias = null, c0 = null } = opts;
  const c = new Float64Array(m * n);
  const scale = new Float64Array(m * n);
  for (let i = 0; i < m; i++)
    for (let j = 0; j < n; j++) {
      let s = c0 ? c0[i * n + j]! : 0;
      let g = Math.abs(s);
      for (let t = 0; t < k; t++) {
        const p = (transA ? a[t * m + i]! : a[i * k + t]!) * (transB ? b[j * k + t]! : b[t * n + j]!);
        s += p;
        g += Math.abs(p);
      }
      if (bias) {
        s += bias[j]!;
        g += Math.abs(bias[j]!);
      }
      c[i * n + j] = s;
      scale[i * n + j] = g;
    }
  return { c, scale };
}

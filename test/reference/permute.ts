/** Reference permute: y[j] = x[i] with i[perm[k]] = j[k], by explicit index arithmetic. */
export function permuteRef<T>(x: ArrayLike<T>, shape: readonly number[], perm: readonly number[]): T[] {
  const n = shape.length;
  const xs: number[] = new Array(n);
  let s = 1;
  for (let d = n - 1; d >= 0; d--) {
    xs[d] = s;
    s *= shape[d]!;
  }
  const ys = perm.map((p) => shape[p]!);
  const out: T[] = [];
  const total = ys.reduce((a, b) => a * b, 1);
  for (let j = 0; j < total; j++) {
    let rem = j;
    let off = 0;
    for (let k = n - 1; k >= 0; k--) {
      off += (rem % ys[k]!) * xs[perm[k]!]!;
      rem = Math.floor(rem / ys[k]!);
    }
    out.push(x[off]!);
  }
  return out;
}

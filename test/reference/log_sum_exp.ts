/** float64 reference for logSumExp over the last dimension (also the bench's naive TS baseline). */
export function logSumExpRef(x: ArrayLike<number>, rows: number, cols: number): Float64Array {
  const out = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let m = -Infinity;
    let nan = false;
    for (let j = 0; j < cols; j++) {
      const v = x[r * cols + j]!;
      if (Number.isNaN(v)) nan = true;
      else if (v > m) m = v;
    }
    if (nan) out[r] = NaN;
    else if (m === -Infinity || m === Infinity) out[r] = m;
    else {
      let s = 0;
      for (let j = 0; j < cols; j++) s += Math.exp(x[r * cols + j]! - m);
      out[r] = m + Math.log(s);
    }
  }
  return out;
}

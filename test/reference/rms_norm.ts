/** float64 reference for rmsNorm (written from the formula in native/cpp/ops/rms_norm.h). */
export function rmsNormRef(x: ArrayLike<number>, w: ArrayLike<number>, rows: number, cols: number, eps: number): Float64Array {
  const y = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    let ss = 0;
    for (let j = 0; j < cols; j++) ss += x[r * cols + j]! ** 2;
    const inv = 1 / Math.sqrt(ss / cols + eps);
    for (let j = 0; j < cols; j++) y[r * cols + j] = x[r * cols + j]! * inv * w[j]!;
  }
  return y;
}

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

/**
 * float64 gradients of rmsNorm for dy (TRAINING.md section 1): with r = (mean(x^2) + eps)^(-1/2) and
 * x^ = x r, dx = r (dy w - x^ mean(dy w x^)) and dw = sum over rows of dy x^.
 */
export function rmsNormBackwardRef(dy: ArrayLike<number>, x: ArrayLike<number>, w: ArrayLike<number>, rows: number, cols: number, eps: number): { dx: Float64Array; dw: Float64Array } {
  const dx = new Float64Array(rows * cols);
  const dw = new Float64Array(cols);
  for (let r = 0; r < rows; r++) {
    let ss = 0;
    for (let j = 0; j < cols; j++) ss += x[r * cols + j]! ** 2;
    const inv = 1 / Math.sqrt(ss / cols + eps);
    let m = 0;
    for (let j = 0; j < cols; j++) m += dy[r * cols + j]! * w[j]! * x[r * cols + j]! * inv;
    m /= cols;
    for (let j = 0; j < cols; j++) {
      const xh = x[r * cols + j]! * inv;
      dx[r * cols + j] = inv * (dy[r * cols + j]! * w[j]! - xh * m);
      dw[j]! += dy[r * cols + j]! * xh;
    }
  }
  return { dx, dw };
}

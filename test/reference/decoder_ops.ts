/** float64 references for the decoder layer ops (written from the formulas in decoder_ops.h). */
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

export function rotaryRef(x: ArrayLike<number>, B: number, H: number, T: number, d: number, pos: (b: number, t: number) => number, theta: number): Float64Array {
  const y = new Float64Array(B * H * T * d);
  const half = d / 2;
  for (let b = 0; b < B; b++)
    for (let h = 0; h < H; h++)
      for (let t = 0; t < T; t++) {
        const base = ((b * H + h) * T + t) * d;
        for (let i = 0; i < half; i++) {
          const a = pos(b, t) * theta ** (-2 * i / d);
          const x1 = x[base + i]!;
          const x2 = x[base + i + half]!;
          y[base + i] = x1 * Math.cos(a) - x2 * Math.sin(a);
          y[base + i + half] = x2 * Math.cos(a) + x1 * Math.sin(a);
        }
      }
  return y;
}

export function swigluRef(g: ArrayLike<number>, u: ArrayLike<number>): Float64Array {
  return Float64Array.from({ length: g.length }, (_, i) => (g[i]! / (1 + Math.exp(-g[i]!))) * u[i]!);
}

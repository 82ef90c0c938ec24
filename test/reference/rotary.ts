/** float64 reference for rotary (written from the formula in native/cpp/ops/rotary.h). */
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

/** float64 gradient of rotary: the rotation by -angle, dx1 = dy1 cos + dy2 sin, dx2 = dy2 cos - dy1 sin. */
export function rotaryBackwardRef(dy: ArrayLike<number>, B: number, H: number, T: number, d: number, pos: (b: number, t: number) => number, theta: number): Float64Array {
  const dx = new Float64Array(B * H * T * d);
  const half = d / 2;
  for (let b = 0; b < B; b++)
    for (let h = 0; h < H; h++)
      for (let t = 0; t < T; t++) {
        const base = ((b * H + h) * T + t) * d;
        for (let i = 0; i < half; i++) {
          const a = pos(b, t) * theta ** (-2 * i / d);
          const g1 = dy[base + i]!;
          const g2 = dy[base + i + half]!;
          dx[base + i] = g1 * Math.cos(a) + g2 * Math.sin(a);
          dx[base + i + half] = g2 * Math.cos(a) - g1 * Math.sin(a);
        }
      }
  return dx;
}

/** float64 reference for swiglu (written from the formula in native/cpp/ops/swiglu.h). */
export function swigluRef(g: ArrayLike<number>, u: ArrayLike<number>): Float64Array {
  return Float64Array.from({ length: g.length }, (_, i) => (g[i]! / (1 + Math.exp(-g[i]!))) * u[i]!);
}

/** float64 gradients of swiglu: s = sigmoid(g), du = dy g s, dg = dy u s (1 + g (1 - s)). */
export function swigluBackwardRef(dy: ArrayLike<number>, g: ArrayLike<number>, u: ArrayLike<number>): { dg: Float64Array; du: Float64Array } {
  const n = g.length;
  const dg = new Float64Array(n);
  const du = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const s = 1 / (1 + Math.exp(-g[i]!));
    du[i] = dy[i]! * g[i]! * s;
    dg[i] = dy[i]! * u[i]! * s * (1 + g[i]! * (1 - s));
  }
  return { dg, du };
}

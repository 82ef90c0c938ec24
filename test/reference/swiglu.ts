/** float64 reference for swiglu (written from the formula in native/cpp/ops/swiglu.h). */
export function swigluRef(g: ArrayLike<number>, u: ArrayLike<number>): Float64Array {
  return Float64Array.from({ length: g.length }, (_, i) => (g[i]! / (1 + Math.exp(-g[i]!))) * u[i]!);
}

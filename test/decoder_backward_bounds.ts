/**
 * Error bounds of the float32 arithmetic of rmsNormBackward, rotaryBackward and swigluBackward
 * (native/cpp/ops/{rms_norm,rotary,swiglu}.h), derived per element from the operations the kernels
 * do (u = 2^-24 per rounding; a sum of n terms in any order is within gamma(n) = n u / (1 - n u)
 * of the sum of their magnitudes), and a central finite-difference gradient of a float64 forward.
 * Inputs are the values the op holds (half inputs decoded exactly), so a half output must be
 * rne(ref +- E) (test/rounding.ts).
 */
const U = 2 ** -24;
const gamma = (n: number) => (n * U) / (1 - n * U);
/** Slack over the first-order bounds below (second-order terms, the reference's own rounding). */
const SLACK = 1.5;

/** Bounds of dx and dw of rmsNormBackward; dwInit: the dWeight values accumulated into (accumulate). */
export function rmsNormBackwardBound(dy: ArrayLike<number>, x: ArrayLike<number>, w: ArrayLike<number>, rows: number, cols: number, eps: number, dwInit?: ArrayLike<number>) {
  const ex = new Float64Array(rows * cols);
  const dwAbs = new Float64Array(cols);
  const n = cols;
  // r: sum of squares gamma(n), /n, +eps, sqrt, 1/: half the relative error through the sqrt, plus 3 roundings
  const dr = gamma(n) / 2 + 4 * U;
  for (let r = 0; r < rows; r++) {
    let ss = 0;
    let sd = 0;
    let sdAbs = 0;
    for (let j = 0; j < n; j++) {
      const v = x[r * n + j]!;
      ss += v * v;
      sd += dy[r * n + j]! * w[j]! * v;
      sdAbs += Math.abs(dy[r * n + j]! * w[j]! * v);
    }
    const rr = 1 / Math.sqrt(ss / n + eps);
    const k = rr ** 3 * (sd / n);
    const kErr = Math.abs(k) * (3 * dr + 5 * U) + rr ** 3 * (gamma(n + 2) * sdAbs) / n;
    for (let j = 0; j < n; j++) {
      const g = dy[r * n + j]!;
      const v = x[r * n + j]!;
      const t1 = Math.abs(rr * g * w[j]!);
      const out = Math.abs(rr * g * w[j]! - k * v);
      // dx = r (g w) - k v: r's error and 2 roundings in t1, k's error and 1 rounding in k v, 1 for the difference
      ex[r * n + j] = SLACK * (t1 * (dr + 2 * U) + Math.abs(v) * kErr + U * Math.abs(k * v) + U * out);
      dwAbs[j]! += Math.abs(g * v * rr);
    }
  }
  // dw: per-row terms g (v r) (r's error, 2 roundings), then a sum of rows (+ the initial value) in any order
  const ew = Float64Array.from(dwAbs, (a, j) => SLACK * ((dr + 2 * U) * a + gamma(rows + 2) * (a + Math.abs(dwInit?.[j] ?? 0))));
  return { dx: ex, dw: ew };
}

/** Bound of rotaryBackward: cos and sin rounded to float32, two products, one sum (+ the angle's float64 error). */
export function rotaryBackwardBound(dy: ArrayLike<number>, B: number, H: number, T: number, d: number, pos: (b: number, t: number) => number, theta: number): Float64Array {
  const e = new Float64Array(B * H * T * d);
  const half = d / 2;
  for (let b = 0; b < B; b++)
    for (let h = 0; h < H; h++)
      for (let t = 0; t < T; t++) {
        const base = ((b * H + h) * T + t) * d;
        for (let i = 0; i < half; i++) {
          const a = pos(b, t) * theta ** (-2 * i / d);
          const c = Math.abs(Math.cos(a));
          const s = Math.abs(Math.sin(a));
          const g1 = Math.abs(dy[base + i]!);
          const g2 = Math.abs(dy[base + i + half]!);
          const angle = (g1 + g2) * Math.abs(a) * 8 * 2 ** -53;
          e[base + i] = SLACK * (3 * U * (g1 * c + g2 * s) + angle);
          e[base + i + half] = SLACK * (3 * U * (g2 * c + g1 * s) + angle);
        }
      }
  return e;
}

/**
 * Bounds of swigluBackward: exp_approx within 2u (core/math.h), s = 1 / (1 + e) within 4u, then
 * du = dy (g s) and dg = (dy u) (s (1 + g (1 - s))) with (1 - s) absolute, not relative, error;
 * where s underflows float32 (g < -87) the gradients (below 1e-36 |dy u|) may flush to 0.
 */
export function swigluBackwardBound(dy: ArrayLike<number>, g: ArrayLike<number>, u: ArrayLike<number>): { dg: Float64Array; du: Float64Array } {
  const n = g.length;
  const eg = new Float64Array(n);
  const eu = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const s = 1 / (1 + Math.exp(-g[i]!));
    const gi = Math.abs(g[i]!);
    const q = 1 + g[i]! * (1 - s);
    const qErr = gi * (4 * U * s + 2 * U * (1 - s)) + U * Math.abs(q);
    const dyu = Math.abs(dy[i]! * u[i]!);
    // below FLT_MIN s is not a normal float32 (exp(-g) overflows at g < -88.7): the whole value may be lost
    const lost = s < 2 ** -126 ? 1 : 0;
    eu[i] = SLACK * (6 * U + lost) * Math.abs(dy[i]! * g[i]! * s);
    eg[i] = SLACK * (dyu * (s * qErr + 5 * U * s * Math.abs(q)) + (2 * U + lost) * dyu * s * Math.abs(q));
  }
  return { dg: eg, du: eu };
}

/** Central differences of sum(dy * f(x)) over each x[k] (float64, step h). */
export function finiteDiffGrad(f: (x: Float64Array) => Float64Array, x: ArrayLike<number>, dy: ArrayLike<number>, h = 1e-5): Float64Array {
  const xs = Float64Array.from(x);
  const grad = new Float64Array(xs.length);
  const dot = (y: Float64Array) => y.reduce((acc, v, i) => acc + v * dy[i]!, 0);
  for (let k = 0; k < xs.length; k++) {
    const keep = xs[k]!;
    xs[k] = keep + h;
    const up = dot(f(xs));
    xs[k] = keep - h;
    const down = dot(f(xs));
    xs[k] = keep;
    grad[k] = (up - down) / (2 * h);
  }
  return grad;
}

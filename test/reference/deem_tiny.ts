/**
 * float64 reference of the tiny DEEM denoiser (lib/recipes/deem_example.ts), written from the
 * formulas in its module comment with plain loops, never by calling mmpref:
 *   cond = x0 A^T + a,  e = [sin(t w_k), cos(t w_k)] (w_k = 10000^(-k/(E/2))),
 *   h = xt W1x^T + e W1t^T + cond W1c^T + b1,  epsPred = gelu(h) W2^T + b2   (per token row).
 */
import { geluScalar } from './gelu';

export type TinyParams = Record<string, Float64Array>;

/** y[n, o] = sum_i x[n, i] w[o, i] (+ b[o]). */
function lin(x: Float64Array, w: Float64Array, nOut: number, nIn: number, b?: Float64Array): Float64Array {
  const n = x.length / nIn;
  const y = new Float64Array(n * nOut);
  for (let r = 0; r < n; r++)
    for (let o = 0; o < nOut; o++) {
      let s = b ? b[o]! : 0;
      for (let i = 0; i < nIn; i++) s += x[r * nIn + i]! * w[o * nIn + i]!;
      y[r * nOut + o] = s;
    }
  return y;
}

/** epsPred [B, Nv, D] (flat) of the tiny denoiser; dims { D, H, C, E }. */
export function tinyDeemRef(
  p: TinyParams,
  xt: ArrayLike<number>,
  x0: ArrayLike<number>,
  t: ArrayLike<number>,
  nv: number,
  dims: { D: number; H: number; C: number; E: number },
  tanh = false,
): Float64Array {
  const { D, H, C, E } = dims;
  const rows = t.length * nv;
  const cond = lin(Float64Array.from(x0), p['adapter.weight']!, C, D, p['adapter.bias']);
  const emb = new Float64Array(rows * E);
  for (let r = 0; r < rows; r++) {
    const tb = t[Math.floor(r / nv)]!;
    for (let k = 0; k < E / 2; k++) {
      const w = Math.pow(10000, -k / (E / 2));
      emb[r * E + k] = Math.sin(tb * w);
      emb[r * E + E / 2 + k] = Math.cos(tb * w);
    }
  }
  const h1 = lin(Float64Array.from(xt), p['fc1.x.weight']!, H, D, p['fc1.bias']);
  const h2 = lin(emb, p['fc1.t.weight']!, H, E);
  const h3 = lin(cond, p['fc1.c.weight']!, H, C);
  const g = h1.map((v, i) => geluScalar(v + h2[i]! + h3[i]!, tanh));
  return lin(g, p['fc2.weight']!, D, H, p['fc2.bias']);
}

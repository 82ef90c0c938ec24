/**
 * float64 reference for noise.diffuse and noise.schedule, from METHODS.md §1 and the papers'
 * formulas: beta schedules, abar_t = prod (1 - beta), x_t = sqrt(abar_t) x0n + sqrt(1 - abar_t) eps,
 * eps = normals b S + j of the stream; t = -1 leaves a sample unchanged with eps = 0.
 */
import { Stream } from './random_fill';

export function betasRef(name: string, T: number): number[] {
  const lin = (a: number, b: number) => Array.from({ length: T }, (_, i) => (T === 1 ? a : a + ((b - a) * i) / (T - 1)));
  switch (name) {
    case 'vcd-sigmoid':
      return lin(-6, 6).map((x) => (5e-3 - 1e-5) / (1 + Math.exp(-x)) + 1e-5);
    case 'linear':
      return lin(1e-4, 0.02);
    case 'scaled-linear':
      return lin(Math.sqrt(0.00085), Math.sqrt(0.012)).map((v) => v * v);
    case 'cosine': {
      const f = (u: number) => Math.cos(((u + 0.008) / 1.008) * (Math.PI / 2)) ** 2;
      return Array.from({ length: T }, (_, t) => Math.min(1 - f((t + 1) / T) / f(t / T), 0.999));
    }
  }
  throw new Error(name);
}

export function alphasCumprodRef(betas: number[]): number[] {
  let p = 1;
  return betas.map((b) => (p *= 1 - b));
}

export interface DiffuseRefArgs {
  x: ArrayLike<number>; // held x0 values, or raw uint8 pixels when `norm` is given
  B: number;
  t: number[]; // per sample
  abar: number[];
  seed: number | bigint;
  offset: number | bigint;
  /** uint8: x0n = (u8 / 255 - mean[c]) / std[c], c = channel(j) for element j of a sample */
  norm?: { mean: number[]; std: number[]; channel: (j: number) => number };
}

export function diffuseRef(a: DiffuseRefArgs): { y: Float64Array; eps: Float64Array } {
  const n = a.x.length;
  const S = a.B ? n / a.B : 0;
  const y = new Float64Array(n);
  const eps = new Float64Array(n);
  const stream = new Stream(a.seed, a.offset);
  for (let b = 0; b < a.B; b++) {
    const t = a.t[b]!;
    const z = t === -1 ? new Float64Array(S) : stream.normals(b * S, S);
    const ab = t === -1 ? 1 : a.abar[t]!;
    for (let j = 0; j < S; j++) {
      let v = a.x[b * S + j]!;
      if (a.norm) {
        const c = a.norm.channel(j);
        v = (v / 255 - a.norm.mean[c]!) / a.norm.std[c]!;
      }
      y[b * S + j] = Math.sqrt(ab) * v + Math.sqrt(1 - ab) * z[j]!;
      eps[b * S + j] = z[j]!;
    }
  }
  return { y, eps };
}

/**
 * float64 reference for dpo.loss, written directly from METHODS.md §6.2 / TRL's dpo_loss. The only
 * care taken is in log-sigmoid and sigmoid, evaluated on the side where exp cannot overflow, so
 * log-ratios of thousands give exact float64 values (-4999, 0) instead of -Infinity or NaN.
 * Gradients are checked by central finite differences of refLossMean, never derived here.
 */
export interface RefLossOptions {
  beta: number;
  eps?: number;
  gamma?: number;
  tau?: number;
  referenceFree?: boolean;
}

const logsig = (x: number) => (x >= 0 ? -Math.log1p(Math.exp(-x)) : x - Math.log1p(Math.exp(x)));
const sig = (x: number) => (x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x)));

/** Per-pair losses. */
export function refLosses(type: string, pc: number[], pr: number[], rc: number[], rr: number[], o: RefLossOptions): number[] {
  const { beta } = o;
  const eps = o.eps ?? 0;
  const free = o.referenceFree || type === 'simpo';
  const n = pc.length;
  const rC = pc.map((v, i) => v - (free ? 0 : rc[i]!));
  const rR = pr.map((v, i) => v - (free ? 0 : rr[i]!));
  const cdpo = (z: number) => -logsig(z) * (1 - eps) - logsig(-z) * eps;
  if (type === 'aot' || type === 'aot_unpaired') {
    const asc = (a: number[]) => [...a].sort((x, y) => x - y);
    const [xs, ys] =
      type === 'aot'
        ? [asc(pc.map((v, i) => v - pr[i]!)), asc(pc.map((_, i) => (free ? 0 : rc[i]! - rr[i]!)))]
        : [asc(rC), asc(rR)];
    return xs.map((x, i) => cdpo(beta * (x - ys[i]!)));
  }
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const d = rC[i]! - rR[i]!;
    const z = beta * d;
    const a = beta * rC[i]!;
    const b = beta * rR[i]!;
    switch (type) {
      case 'sigmoid':
        out.push(cdpo(z));
        break;
      case 'sigmoid_norm':
        out.push(-logsig(z));
        break;
      case 'robust':
        out.push((-(1 - eps) * logsig(z) + eps * logsig(-z)) / (1 - 2 * eps));
        break;
      case 'hinge':
        out.push(Math.max(0, 1 - z));
        break;
      case 'ipo':
        out.push((d - 1 / (2 * beta)) ** 2);
        break;
      case 'exo_pair': {
        const e = o.eps ?? 1e-3;
        out.push(sig(z) * (logsig(z) - Math.log(1 - e)) + sig(-z) * (logsig(-z) - Math.log(e)));
        break;
      }
      case 'nca_pair':
        out.push(-logsig(a) - 0.5 * logsig(-a) - 0.5 * logsig(-b));
        break;
      case 'bco_pair':
        out.push(-logsig(a) - logsig(-b));
        break;
      case 'sppo_hard':
        out.push((rC[i]! - 0.5 / beta) ** 2 + (rR[i]! + 0.5 / beta) ** 2);
        break;
      case 'apo_zero':
        out.push(1 - sig(a) + sig(b));
        break;
      case 'apo_down':
        out.push(sig(a) + (1 - sig(z)));
        break;
      case 'discopop': {
        const w = sig(z / (o.tau ?? 0.05));
        out.push(-logsig(z) * (1 - w) + Math.exp(-z) * w);
        break;
      }
      case 'simpo':
        out.push(cdpo(beta * (pc[i]! - pr[i]!) - (o.gamma ?? 0.5)));
        break;
      default:
        throw new Error(`unknown type ${type}`);
    }
  }
  return out;
}

/** Weighted mean: sum(w * l) / sum(w). */
export function refLossMean(type: string, pc: number[], pr: number[], rc: number[], rr: number[], o: RefLossOptions, w?: number[]): number {
  const l = refLosses(type, pc, pr, rc, rr, o);
  let s = 0;
  let ws = 0;
  l.forEach((v, i) => {
    const wi = w ? w[i]! : 1;
    s += wi * v;
    ws += wi;
  });
  return s / ws;
}

/**
 * dpo.loss: the DPO loss family on per-sequence log-probabilities (docs/methods.md, matching TRL's
 * `DPOTrainer.dpo_loss` / CPOTrainer's SimPO), its metrics (§6.3) and d(loss)/d(policy logps).
 *
 * With r_c = pi_c - ref_c, r_r = pi_r - ref_r (ref = 0 when reference-free), Delta = r_c - r_r,
 * z = beta * Delta, a = beta * r_c, b = beta * r_r, eps = labelSmoothing, sp = softplus:
 *   sigmoid       (1 - eps) sp(-z) + eps sp(z)              (eps > 0: conservative DPO, TRL 0.x)
 *   sigmoid_norm  sp(-z'),  z' = beta Delta'                 (Delta' = r_c / n_c - r_r / n_r, TRL 1.x)
 *   robust        [(1 - eps) sp(-z) - eps sp(z)] / (1 - 2 eps)   (rDPO)
 *   hinge         max(0, 1 - z)                              (SLiC)
 *   ipo           (Delta' - 1 / (2 beta))^2                  (Delta' as above; n = token counts >= 1)
 *   exo_pair      q (log q - log(1 - eps)) + q' (log q' - log eps),  q = sig(z), q' = sig(-z)
 *   nca_pair      sp(-a) + sp(a) / 2 + sp(b) / 2
 *   bco_pair      sp(-a) + sp(b)
 *   sppo_hard     (r_c - 1 / (2 beta))^2 + (r_r + 1 / (2 beta))^2
 *   apo_zero      1 - sig(a) + sig(b)
 *   apo_down      sig(a) + 1 - sig(z)
 *   discopop      (1 - w) sp(-z) + w exp(-z),  w = sig(z / tau)
 *   simpo         (1 - eps) sp(-s) + eps sp(s),  s = beta (pi_c - pi_r) - gamma  (reference-free)
 *   aot           sigmoid form on sort(pi_c - pi_r) - sort(ref_c - ref_r)  (sorted over the batch)
 *   aot_unpaired  sigmoid form on sort(r_c) - sort(r_r)
 * With `average: true` ipo and sigmoid_norm take the log-probs as already length-averaged
 * (Delta' = Delta, TRL 0.x). Rewards are beta * r from the log-probs as given (TRL 1.x: summed).
 * loss = sum_i w_i l_i / sum_i w_i (the mean without weights). Computed in float64 on the host
 * (B numbers; inputs on a GPU are copied), returned as float32 tensors on the inputs' device.
 */
import { fail } from '../errors';
import { tensor, type Tensor, type TensorLike } from '../tensor';
import { boolOpt, checkOptions, enumOpt, expectShape, numberOpt, sameDevice, shapeStr, tensorArg } from '../validate';

export const DPO_LOSS_TYPES = [
  'sigmoid',
  'robust',
  'ipo',
  'hinge',
  'exo_pair',
  'nca_pair',
  'bco_pair',
  'sppo_hard',
  'apo_zero',
  'apo_down',
  'discopop',
  'sigmoid_norm',
  'simpo',
  'aot',
  'aot_unpaired',
] as const;
export type DpoLossType = (typeof DPO_LOSS_TYPES)[number];

export interface DpoLossInputs {
  /** float32 [B]: policy log-probs of the chosen responses. */
  policyChosen: TensorLike;
  /** float32 [B]: policy log-probs of the rejected responses. */
  policyRejected: TensorLike;
  /** float32 [B]: reference log-probs of the chosen responses (omit when reference-free). */
  refChosen?: TensorLike;
  /** float32 [B]: reference log-probs of the rejected responses (omit when reference-free). */
  refRejected?: TensorLike;
  /** int32 [B]: scored tokens of each chosen response (sequenceLogps `counts`, chosen half). ipo and sigmoid_norm divide the summed log-ratios by it (TRL 1.x); other types ignore it. */
  chosenCounts?: TensorLike;
  /** int32 [B]: scored tokens of each rejected response (sequenceLogps `counts`, rejected half). */
  rejectedCounts?: TensorLike;
}

export interface DpoLossOptions {
  /** Temperature beta (IPO's tau), a finite number > 0. Default 0.1. */
  beta?: number;
  /** Loss variant, one of DPO_LOSS_TYPES. Default 'sigmoid'. */
  type?: DpoLossType;
  /** eps: sigmoid/simpo/aot/aot_unpaired (conservative DPO) in [0, 0.5], robust (rDPO) in [0, 0.5), exo_pair in [0, 1) (0 means 1e-3, as TRL 0.x); other types accept only 0. Default 0. */
  labelSmoothing?: number;
  /** Ignore the reference (ref logps 0; refChosen/refRejected may be omitted). Default false; simpo never uses a reference. */
  referenceFree?: boolean;
  /** SimPO target margin gamma, a finite number (other types accept only the default). Default 0.5. */
  gamma?: number;
  /** DiscoPOP temperature tau, a finite number > 0 (other types accept only the default). Default 0.05. */
  tau?: number;
  /** The log-probs are already length-averaged (sequenceLogps `average: true`): ipo and sigmoid_norm then use them as given and need no counts (TRL 0.x). Default false, or true for simpo; other types use the log-probs as given either way. */
  average?: boolean;
  /** float32 [B] per-pair weights >= 0 with a positive sum: loss = sum(w * losses) / sum(w) (BDHS: gamma and 1 - gamma per sample). Not with aot types. */
  weights?: TensorLike;
}

export interface DpoLossResult {
  /** The batch loss: weighted mean of `losses`. */
  loss: number;
  /** float32 [B]: per-pair loss (unweighted). */
  losses: Tensor<'float32'>;
  /** float32 [B]: beta * (pi_c - ref_c) from the log-probs as passed (summed: TRL 1.x rewards/chosen; SimPO: beta * pi_c). */
  chosenRewards: Tensor<'float32'>;
  /** float32 [B]: beta * (pi_r - ref_r). */
  rejectedRewards: Tensor<'float32'>;
  /** float32 [B]: chosenRewards - rejectedRewards. */
  margins: Tensor<'float32'>;
  /** Fraction of pairs with chosenRewards > rejectedRewards (strict; ties count 0). */
  accuracy: number;
  /** d(loss)/d(policy logps), float32 [B] each (the reference gets none). */
  grad: { policyChosen: Tensor<'float32'>; policyRejected: Tensor<'float32'> };
}

/** @internal validated loss settings */
export interface LossConfig {
  type: DpoLossType;
  beta: number;
  eps: number;
  gamma: number;
  tau: number;
  referenceFree: boolean;
  /** the log-probs are length-averaged (ipo / sigmoid_norm use them as given) */
  average: boolean;
}

/** @internal per-pair results in float64 */
export interface LossValues {
  loss: number;
  losses: Float64Array;
  chosenRewards: Float64Array;
  rejectedRewards: Float64Array;
  accuracy: number;
  gradChosen: Float64Array;
  gradRejected: Float64Array;
}

const SMOOTHED: readonly DpoLossType[] = ['sigmoid', 'simpo', 'aot', 'aot_unpaired', 'robust', 'exo_pair'];
/** @internal types that length-average the summed log-ratios with the token counts (TRL 1.x) */
export const COUNTED: readonly DpoLossType[] = ['ipo', 'sigmoid_norm'];
const LOSS_KEYS = ['beta', 'type', 'labelSmoothing', 'referenceFree', 'gamma', 'tau', 'weights', 'average'] as const;

/** @internal option checks shared by loss() and step(); `o` holds at least the loss keys. */
export function lossConfig(op: string, o: DpoLossOptions): LossConfig {
  const type = enumOpt(op, 'type', o.type, DPO_LOSS_TYPES, 'sigmoid');
  const beta = numberOpt(op, 'beta', o.beta, 0.1, { gt: 0 });
  // labelSmoothing: meaning and range depend on the type; every type accepts the default 0, as
  // TRL's shared DPOConfig does (exo_pair reads 0 as 1e-3, as TRL 0.x)
  let eps = 0;
  if (o.labelSmoothing !== undefined && o.labelSmoothing !== 0 && !SMOOTHED.includes(type))
    fail('ERR_ARGUMENT', op, `labelSmoothing is only used by ${SMOOTHED.join(', ')}: expected 0 or none for '${type}' but received ${String(o.labelSmoothing)}`);
  if (type === 'robust') eps = numberOpt(op, 'labelSmoothing', o.labelSmoothing, 0, { min: 0, lt: 0.5 });
  else if (type === 'exo_pair') {
    eps = numberOpt(op, 'labelSmoothing', o.labelSmoothing, 1e-3, { min: 0, lt: 1 });
    if (eps === 0) eps = 1e-3;
  } else eps = numberOpt(op, 'labelSmoothing', o.labelSmoothing, 0, { min: 0, max: 0.5 });
  // gamma / tau: any type accepts the default value
  if (o.gamma !== undefined && o.gamma !== 0.5 && type !== 'simpo')
    fail('ERR_ARGUMENT', op, `gamma is only used by simpo: expected 0.5 or none for '${type}' but received ${String(o.gamma)}`);
  const gamma = numberOpt(op, 'gamma', o.gamma, 0.5);
  if (o.tau !== undefined && o.tau !== 0.05 && type !== 'discopop')
    fail('ERR_ARGUMENT', op, `tau is only used by discopop: expected 0.05 or none for '${type}' but received ${String(o.tau)}`);
  const tau = numberOpt(op, 'tau', o.tau, 0.05, { gt: 0 });
  // simpo never uses a reference, whatever referenceFree says
  const referenceFree = boolOpt(op, 'referenceFree', o.referenceFree, false) || type === 'simpo';
  const average = boolOpt(op, 'average', o.average, type === 'simpo');
  if (o.weights !== undefined && (type === 'aot' || type === 'aot_unpaired'))
    fail('ERR_ARGUMENT', op, `weights are not defined for '${type}' (its losses belong to sorted positions, not pairs)`);
  return { type, beta, eps, gamma, tau, referenceFree, average };
}

// ---- stable float64 pieces ----------------------------------------------------------------------

/** softplus(x) = log(1 + e^x) */
const sp = (x: number): number => (x > 0 ? x + Math.log1p(Math.exp(-x)) : Math.log1p(Math.exp(x)));
/** logistic sigmoid */
const sig = (x: number): number => (x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x)));
/** sig'(x) = sig(x) sig(-x) */
const dsig = (x: number): number => sig(x) * sig(-x);

/** (1 - eps) sp(-z) + eps sp(z) and its z-derivative. */
function cdpo(z: number, eps: number): [number, number] {
  return [(1 - eps) * sp(-z) + eps * sp(z), -(1 - eps) * sig(-z) + eps * sig(z)];
}

/** Sorting permutation, ascending, ties by index (stable and deterministic). */
function argsort(v: Float64Array): number[] {
  return Array.from(v.keys()).sort((i, j) => v[i]! - v[j]! || i - j);
}

/**
 * @internal The loss on host float64 vectors (ref arrays are ignored when reference-free).
 * `weights` may be null (all 1). `counts` (token counts of the chosen and rejected rows) are used
 * by ipo and sigmoid_norm unless `c.average`; they must then be given.
 */
export function computeLoss(
  c: LossConfig,
  pc: Float64Array,
  pr: Float64Array,
  rc: Float64Array | null,
  rr: Float64Array | null,
  weights: Float64Array | null,
  counts: { nc: Float64Array; nr: Float64Array } | null = null,
): LossValues {
  const B = pc.length;
  const { type, beta, eps } = c;
  const refC = (i: number) => (c.referenceFree || !rc ? 0 : rc[i]!);
  const refR = (i: number) => (c.referenceFree || !rr ? 0 : rr[i]!);
  const losses = new Float64Array(B);
  const gC = new Float64Array(B); // dl_i/dpi_c
  const gR = new Float64Array(B); // dl_i/dpi_r
  const cr = new Float64Array(B);
  const rj = new Float64Array(B);
  // ipo / sigmoid_norm on summed log-probs: divide each log-ratio by its token count (at least 1)
  const perTok = COUNTED.includes(type) && !c.average;
  if (perTok && !counts) throw new Error('computeLoss: counts are required');
  const invC = (i: number) => (perTok ? 1 / Math.max(counts!.nc[i]!, 1) : 1);
  const invR = (i: number) => (perTok ? 1 / Math.max(counts!.nr[i]!, 1) : 1);
  for (let i = 0; i < B; i++) {
    const rC = pc[i]! - refC(i);
    const rR = pr[i]! - refR(i);
    cr[i] = beta * rC;
    rj[i] = beta * rR;
  }
  if (type === 'aot' || type === 'aot_unpaired') {
    // sorted over the batch: loss i belongs to sorted position i; gradients go back through the sorts
    const [xs, ys] =
      type === 'aot'
        ? [Float64Array.from(pc, (v, i) => v - pr[i]!), Float64Array.from(pc, (_, i) => refC(i) - refR(i))]
        : [Float64Array.from(pc, (v, i) => v - refC(i)), Float64Array.from(pr, (v, i) => v - refR(i))];
    const px = argsort(xs);
    const py = argsort(ys);
    for (let i = 0; i < B; i++) {
      const [l, dz] = cdpo(beta * (xs[px[i]!]! - ys[py[i]!]!), eps);
      losses[i] = l;
      // aot: both through d(pi_c - pi_r) at px[i]; aot_unpaired: r_c at px[i], r_r at py[i]
      const kc = px[i]!;
      const kr = type === 'aot' ? px[i]! : py[i]!;
      gC[kc] = gC[kc]! + beta * dz;
      gR[kr] = gR[kr]! - beta * dz;
    }
  } else {
    for (let i = 0; i < B; i++) {
      const rC = pc[i]! - refC(i);
      const rR = pr[i]! - refR(i);
      const d = rC - rR;
      const z = beta * d;
      const a = beta * rC;
      const b = beta * rR;
      let l: number;
      let dc: number; // dl/dpi_c
      let dr: number; // dl/dpi_r
      switch (type) {
        case 'sigmoid': {
          const [v, dz] = cdpo(z, eps);
          [l, dc, dr] = [v, beta * dz, -beta * dz];
          break;
        }
        case 'sigmoid_norm': {
          const [v, dz] = cdpo(beta * (rC * invC(i) - rR * invR(i)), 0);
          [l, dc, dr] = [v, beta * dz * invC(i), -beta * dz * invR(i)];
          break;
        }
        case 'robust': {
          l = ((1 - eps) * sp(-z) - eps * sp(z)) / (1 - 2 * eps);
          const dz = (-(1 - eps) * sig(-z) - eps * sig(z)) / (1 - 2 * eps);
          [dc, dr] = [beta * dz, -beta * dz];
          break;
        }
        case 'hinge': {
          l = Math.max(0, 1 - z);
          const dz = z < 1 ? -1 : 0;
          [dc, dr] = [beta * dz, -beta * dz];
          break;
        }
        case 'ipo': {
          const e = rC * invC(i) - rR * invR(i) - 1 / (2 * beta);
          [l, dc, dr] = [e * e, 2 * e * invC(i), -2 * e * invR(i)];
          break;
        }
        case 'exo_pair': {
          const q = sig(z);
          const qn = sig(-z);
          l = q * (-sp(-z) - Math.log1p(-eps)) + qn * (-sp(z) - Math.log(eps));
          const dz = q * qn * (z - Math.log1p(-eps) + Math.log(eps));
          [dc, dr] = [beta * dz, -beta * dz];
          break;
        }
        case 'nca_pair':
          l = sp(-a) + 0.5 * sp(a) + 0.5 * sp(b);
          [dc, dr] = [beta * (-sig(-a) + 0.5 * sig(a)), beta * 0.5 * sig(b)];
          break;
        case 'bco_pair':
          l = sp(-a) + sp(b);
          [dc, dr] = [-beta * sig(-a), beta * sig(b)];
          break;
        case 'sppo_hard': {
          const ec = rC - 1 / (2 * beta);
          const er = rR + 1 / (2 * beta);
          [l, dc, dr] = [ec * ec + er * er, 2 * ec, 2 * er];
          break;
        }
        case 'apo_zero':
          l = 1 - sig(a) + sig(b);
          [dc, dr] = [-beta * dsig(a), beta * dsig(b)];
          break;
        case 'apo_down':
          l = sig(a) + 1 - sig(z);
          [dc, dr] = [beta * (dsig(a) - dsig(z)), beta * dsig(z)];
          break;
        case 'discopop': {
          const w = sig(z / c.tau);
          const dw = dsig(z / c.tau) / c.tau;
          const ez = Math.exp(-z);
          l = (1 - w) * sp(-z) + w * ez;
          const dz = -dw * sp(-z) - (1 - w) * sig(-z) + dw * ez - w * ez;
          [dc, dr] = [beta * dz, -beta * dz];
          break;
        }
        case 'simpo': {
          const [v, dz] = cdpo(beta * (pc[i]! - pr[i]!) - c.gamma, eps);
          [l, dc, dr] = [v, beta * dz, -beta * dz];
          break;
        }
        default:
          throw new Error(`unreachable loss type ${type as string}`);
      }
      losses[i] = l;
      gC[i] = dc;
      gR[i] = dr;
    }
  }
  // weighted mean and its gradient
  let wsum = 0;
  let total = 0;
  for (let i = 0; i < B; i++) {
    const w = weights ? weights[i]! : 1;
    wsum += w;
    total += w * losses[i]!;
  }
  let correct = 0;
  for (let i = 0; i < B; i++) {
    const s = (weights ? weights[i]! : 1) / wsum;
    gC[i] = gC[i]! * s;
    gR[i] = gR[i]! * s;
    if (cr[i]! > rj[i]!) correct++;
  }
  return { loss: total / wsum, losses, chosenRewards: cr, rejectedRewards: rj, accuracy: correct / B, gradChosen: gC, gradRejected: gR };
}

/** @internal float32 result tensors on `device` from float64 values */
export function lossResult(v: LossValues, device: string): DpoLossResult {
  const t = (a: ArrayLike<number>): Tensor<'float32'> => {
    const h = tensor(Float32Array.from(a), [a.length]);
    return device === 'cpu' ? h : (h.to(device as 'cuda') as Tensor<'float32'>);
  };
  return {
    loss: v.loss,
    losses: t(v.losses),
    chosenRewards: t(v.chosenRewards),
    rejectedRewards: t(v.rejectedRewards),
    margins: t(Float64Array.from(v.chosenRewards, (x, i) => x - v.rejectedRewards[i]!)),
    accuracy: v.accuracy,
    grad: { policyChosen: t(v.gradChosen), policyRejected: t(v.gradRejected) },
  };
}

/** @internal checks `weights` (float32 [B], >= 0, positive sum) and returns them as float64. */
export function weightsArg(op: string, w: TensorLike | undefined, B: number): Float64Array | null {
  if (w === undefined) return null;
  const t = tensorArg(op, 'weights', w, ['float32']);
  expectShape(op, 'weights', t, [B], 'one per pair');
  const v = Float64Array.from(t.toFloat32Array());
  let sum = 0;
  for (let i = 0; i < v.length; i++) {
    if (!(v[i]! >= 0 && Number.isFinite(v[i]!))) fail('ERR_RANGE', op, `expected weights finite and >= 0 but received ${v[i]} at weights[${i}]`);
    sum += v[i]!;
  }
  if (!(sum > 0)) fail('ERR_RANGE', op, 'expected weights with a positive sum but received all zeros');
  return v;
}

/**
 * @internal The reference vectors as float64 (null when reference-free): float32 [B] each, required
 * unless `cfg.referenceFree`, on the device of `like` (named `likeName`; `from` explains B).
 */
export function refArgs(
  op: string,
  cfg: LossConfig,
  refs: Pick<DpoLossInputs, 'refChosen' | 'refRejected'>,
  B: number,
  from: string,
  likeName: string,
  like: Tensor,
): { rc: Float64Array | null; rr: Float64Array | null } {
  if (cfg.referenceFree) return { rc: null, rr: null };
  if (refs.refChosen === undefined || refs.refRejected === undefined)
    fail('ERR_ARGUMENT', op, `expected refChosen and refRejected for '${cfg.type}' (or referenceFree: true)`);
  const rc = tensorArg(op, 'refChosen', refs.refChosen, ['float32']);
  const rr = tensorArg(op, 'refRejected', refs.refRejected, ['float32']);
  expectShape(op, 'refChosen', rc, [B], from);
  expectShape(op, 'refRejected', rr, [B], from);
  sameDevice(op, { [likeName]: like, refChosen: rc, refRejected: rr });
  return { rc: Float64Array.from(rc.toFloat32Array()), rr: Float64Array.from(rr.toFloat32Array()) };
}

/**
 * The token counts as float64 (null when the type does not use them): int32 [B] each, >= 0, on
 * the device of `pc`. ipo / sigmoid_norm need them unless `average`; other types ignore them.
 */
function countArgs(op: string, cfg: LossConfig, inputs: DpoLossInputs, B: number, pc: Tensor): { nc: Float64Array; nr: Float64Array } | null {
  const given = inputs.chosenCounts !== undefined || inputs.rejectedCounts !== undefined;
  if (given && (inputs.chosenCounts === undefined || inputs.rejectedCounts === undefined))
    fail('ERR_ARGUMENT', op, 'expected chosenCounts and rejectedCounts together but received only one of them');
  const used = COUNTED.includes(cfg.type) && !cfg.average;
  if (used && (inputs.chosenCounts === undefined || inputs.rejectedCounts === undefined))
    fail('ERR_ARGUMENT', op, `expected chosenCounts and rejectedCounts for '${cfg.type}' on summed log-probs (TRL 1.x), or average: true for length-averaged log-probs`);
  if (COUNTED.includes(cfg.type) && cfg.average && given)
    fail('ERR_ARGUMENT', op, `expected no chosenCounts / rejectedCounts with average: true ('${cfg.type}' then takes length-averaged log-probs as given)`);
  if (!given) return null;
  const read = (name: 'chosenCounts' | 'rejectedCounts') => {
    const t = tensorArg(op, name, inputs[name], ['int32']);
    expectShape(op, name, t, [B], `policyChosen ${shapeStr(pc.shape)}`);
    sameDevice(op, { policyChosen: pc, [name]: t });
    const v = Float64Array.from((t.to('cpu').data as Int32Array));
    const bad = v.findIndex((x) => x < 0);
    if (bad >= 0) fail('ERR_RANGE', op, `expected ${name} >= 0 but received ${v[bad]} at ${name}[${bad}]`);
    return v;
  };
  const counts = { nc: read('chosenCounts'), nr: read('rejectedCounts') };
  return used ? counts : null;
}

function prepare(inputs: DpoLossInputs, options: DpoLossOptions | undefined) {
  const op = 'loss';
  const o = checkOptions(op, options, LOSS_KEYS);
  const cfg = lossConfig(op, o);
  if (typeof inputs !== 'object' || inputs === null) fail('ERR_ARGUMENT', op, 'expected { policyChosen, policyRejected, refChosen, refRejected }');
  checkOptions(op, inputs, ['policyChosen', 'policyRejected', 'refChosen', 'refRejected', 'chosenCounts', 'rejectedCounts']);
  const pc = tensorArg(op, 'policyChosen', inputs.policyChosen, ['float32'], 1);
  const B = pc.shape[0]!;
  if (B < 1) fail('ERR_SHAPE', op, `expected at least one pair but received policyChosen of shape ${shapeStr(pc.shape)}`);
  const vec = (name: keyof DpoLossInputs) => {
    const t = tensorArg(op, name, inputs[name], ['float32']);
    expectShape(op, name, t, [B], `policyChosen ${shapeStr(pc.shape)}`);
    return t;
  };
  const pr = vec('policyRejected');
  sameDevice(op, { policyChosen: pc, policyRejected: pr });
  const { rc, rr } = refArgs(op, cfg, inputs, B, `policyChosen ${shapeStr(pc.shape)}`, 'policyChosen', pc);
  const weights = weightsArg(op, o.weights, B);
  const counts = countArgs(op, cfg, inputs, B, pc);
  const f64 = (t: Tensor) => Float64Array.from(t.toFloat32Array());
  const values = computeLoss(cfg, f64(pc), f64(pr), rc, rr, weights, counts);
  return lossResult(values, pc._device < 0 ? 'cpu' : `cuda:${pc._device}`);
}

/**
 * The DPO-family loss of a batch of B preference pairs, its metrics and d(loss)/d(policy logps).
 * Pass summed log-probs (sequenceLogps' default), as TRL 1.x does; ipo and sigmoid_norm then also
 * need `chosenCounts` / `rejectedCounts` to length-average the log-ratios (or pass averaged
 * log-probs with `average: true`). simpo takes length-averaged log-probs (TRL's CPOTrainer).
 */
export function loss(inputs: DpoLossInputs, options?: DpoLossOptions): DpoLossResult {
  return prepare(inputs, options);
}

/** {@link loss} as a Promise (the math is O(B) on the host; errors reject). */
export async function lossAsync(inputs: DpoLossInputs, options?: DpoLossOptions): Promise<DpoLossResult> {
  return prepare(inputs, options);
}

/**
 * noise.schedule: DDPM beta schedules and their cumulative products, in float64 (docs/methods.md).
 *
 *   alpha_t = 1 - beta_t,  abar_t = prod_{s <= t} alpha_s,  SNR_t = abar_t / (1 - abar_t),  t = 0..T-1
 *
 *   'vcd-sigmoid'    beta_t = sigmoid(-6 + 12 t / (T - 1)) (betaEnd - betaStart) + betaStart,
 *                    betaStart 1e-5, betaEnd 5e-3 (VCD / BPO `add_diffusion_noise`, torch.linspace(-6, 6, T))
 *   'linear'         beta_t = linspace(betaStart, betaEnd, T), 1e-4 .. 0.02 (DDPM)
 *   'scaled-linear'  beta_t = linspace(sqrt(betaStart), sqrt(betaEnd), T)^2, 0.00085 .. 0.012 (Stable Diffusion)
 *   'cosine'         beta_t = min(1 - f((t + 1) / T) / f(t / T), 0.999), f(u) = cos((u + 0.008) / 1.008 * pi / 2)^2
 *                    (Nichol & Dhariwal; diffusers 'squaredcos_cap_v2')
 *   an array         caller-given betas, each in [0, 1]
 */
import { fail } from '../errors';
import { describe } from '../tensor';
import { checkOptions, enumOpt, numberArg, numberOpt } from '../validate';

export const SCHEDULES = ['vcd-sigmoid', 'linear', 'scaled-linear', 'cosine'] as const;
export type ScheduleName = (typeof SCHEDULES)[number];

export interface ScheduleOptions {
  /** First beta (linear, scaled-linear) or lower asymptote (vcd-sigmoid); in [0, 1]. Defaults: 1e-4, 0.00085, 1e-5. Not for 'cosine'. */
  betaStart?: number;
  /** Last beta (linear, scaled-linear) or upper asymptote (vcd-sigmoid); in [0, 1]. Defaults: 0.02, 0.012, 5e-3. Not for 'cosine'. */
  betaEnd?: number;
}

/** A schedule's tables, float64, indexed by the 0-based step t. */
export interface NoiseSchedule {
  name: ScheduleName | 'custom';
  steps: number;
  betas: Float64Array;
  alphas: Float64Array;
  alphasCumprod: Float64Array;
  sqrtAlphasCumprod: Float64Array;
  sqrtOneMinusAlphasCumprod: Float64Array;
  /** abar / (1 - abar); Infinity where abar = 1. */
  snr: Float64Array;
}

/** A schedule given by name (with `steps`), as caller betas, or as a table from {@link schedule}. */
export type ScheduleSpec = ScheduleName | ArrayLike<number> | NoiseSchedule;

const DEFAULTS: Record<Exclude<ScheduleName, 'cosine'>, [number, number]> = {
  'vcd-sigmoid': [1e-5, 5e-3],
  linear: [1e-4, 0.02],
  'scaled-linear': [0.00085, 0.012],
};

const OP = 'noise.schedule';

/** torch.linspace(a, b, n): a + (b - a) i / (n - 1), with the last point exactly b. */
function linspace(a: number, b: number, n: number): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = n === 1 ? a : i === n - 1 ? b : a + ((b - a) * i) / (n - 1);
  return out;
}

function betasFor(op: string, name: ScheduleName, steps: number, o: ScheduleOptions): Float64Array {
  if (name === 'cosine') {
    if (o.betaStart !== undefined || o.betaEnd !== undefined) fail('ERR_ARGUMENT', op, "betaStart/betaEnd do not apply to the 'cosine' schedule");
    const f = (u: number) => Math.cos(((u + 0.008) / 1.008) * (Math.PI / 2)) ** 2;
    const b = new Float64Array(steps);
    for (let t = 0; t < steps; t++) b[t] = Math.min(1 - f((t + 1) / steps) / f(t / steps), 0.999);
    return b;
  }
  const [d0, d1] = DEFAULTS[name];
  const start = numberOpt(op, 'betaStart', o.betaStart, d0, { min: 0, max: 1 });
  const end = numberOpt(op, 'betaEnd', o.betaEnd, d1, { min: 0, max: 1 });
  if (name === 'linear') return linspace(start, end, steps);
  if (name === 'scaled-linear') return linspace(Math.sqrt(start), Math.sqrt(end), steps).map((v) => v * v);
  return linspace(-6, 6, steps).map((x) => (1 / (1 + Math.exp(-x))) * (end - start) + start);
}

/** The tables of a beta sequence. */
export function fromBetas(op: string, betas: ArrayLike<number>, name: ScheduleName | 'custom' = 'custom'): NoiseSchedule {
  const T = betas.length;
  if (T < 1) fail('ERR_SHAPE', op, 'expected at least 1 beta but received 0');
  const b = Float64Array.from(betas as ArrayLike<number>);
  const alphas = new Float64Array(T);
  const ac = new Float64Array(T);
  const sa = new Float64Array(T);
  const sb = new Float64Array(T);
  const snr = new Float64Array(T);
  let prod = 1;
  for (let t = 0; t < T; t++) {
    const beta = b[t]!;
    if (!(beta >= 0 && beta <= 1)) fail('ERR_RANGE', op, `expected every beta in [0, 1] but received ${beta} at t = ${t}`);
    alphas[t] = 1 - beta;
    prod *= 1 - beta;
    ac[t] = prod;
    sa[t] = Math.sqrt(prod);
    sb[t] = Math.sqrt(1 - prod);
    snr[t] = prod / (1 - prod);
  }
  return { name, steps: T, betas: b, alphas, alphasCumprod: ac, sqrtAlphasCumprod: sa, sqrtOneMinusAlphasCumprod: sb, snr };
}

/**
 * The betas, alphas and cumulative-product tables of a named schedule with `steps` steps
 * (default 1000), or of caller-given betas (then `steps`, when given, must equal their length).
 */
export function schedule(name: ScheduleName | ArrayLike<number>, steps?: number, options?: ScheduleOptions): NoiseSchedule {
  return resolveSchedule(OP, name, steps, options);
}

/** @internal the schedule named by an op's `schedule` / `steps` options. */
export function resolveSchedule(op: string, spec: unknown, steps: unknown, options?: ScheduleOptions): NoiseSchedule {
  const o = checkOptions(op, options, ['betaStart', 'betaEnd']);
  if (typeof spec === 'string') {
    if (!(SCHEDULES as readonly string[]).includes(spec))
      fail('ERR_ARGUMENT', op, `expected schedule to be one of ${SCHEDULES.map((s) => `'${s}'`).join(', ')} or an array of betas but received ${describe(spec)}`);
    const T = steps === undefined ? 1000 : numberArg(op, 'steps', steps, { integer: true, min: 1, max: 1e7 });
    return fromBetas(op, betasFor(op, spec as ScheduleName, T, o), spec as ScheduleName);
  }
  if (isSchedule(spec)) {
    if (steps !== undefined && steps !== spec.steps) fail('ERR_SHAPE', op, `expected steps ${spec.steps} (from the schedule) but received ${String(steps)}`);
    return spec;
  }
  if (Array.isArray(spec) || (ArrayBuffer.isView(spec) && !(spec instanceof DataView))) {
    const betas = spec as unknown as ArrayLike<number>;
    if (steps !== undefined && steps !== betas.length) fail('ERR_SHAPE', op, `expected steps ${betas.length} (from the betas) but received ${String(steps)}`);
    for (let i = 0; i < betas.length; i++)
      if (typeof betas[i] !== 'number') fail('ERR_ARGUMENT', op, `expected numeric betas but element ${i} is ${describe(betas[i])}`);
    return fromBetas(op, betas);
  }
  return fail('ERR_ARGUMENT', op, `expected schedule to be a name, an array of betas or a schedule table but received ${describe(spec)}`);
}

function isSchedule(v: unknown): v is NoiseSchedule {
  return typeof v === 'object' && v !== null && 'betas' in v && 'sqrtAlphasCumprod' in v && 'sqrtOneMinusAlphasCumprod' in v;
}

/**
 * Min-SNR-gamma loss weights per step (Hang et al. 2023; diffusers train_text_to_image):
 * min(SNR_t, gamma) / SNR_t for epsilon targets, min(SNR_t, gamma) / (SNR_t + 1) for v targets;
 * 0 where SNR_t is infinite (abar = 1: nothing to denoise); at SNR_t = 0 the limits 1 (epsilon) and 0 (v).
 */
export function minSnrWeights(s: NoiseSchedule, gamma: number, prediction: 'epsilon' | 'v-prediction' = 'epsilon'): Float64Array {
  if (typeof s !== 'object' || s === null || !Number.isSafeInteger(s.steps) || s.steps < 0 || !(s.snr instanceof Float64Array) || s.snr.length < s.steps)
    fail('ERR_ARGUMENT', 'noise.minSnrWeights', `expected a schedule from noise.schedule() but received ${describe(s)}`);
  // gamma = Infinity gives the unweighted loss (all ones for epsilon targets)
  numberArg('noise.minSnrWeights', 'gamma', gamma, { gt: 0, allowInfinity: true });
  enumOpt('noise.minSnrWeights', 'prediction', prediction, ['epsilon', 'v-prediction'], 'epsilon');
  const w = new Float64Array(s.steps);
  for (let t = 0; t < s.steps; t++) {
    const snr = s.snr[t]!;
    if (snr === Infinity) w[t] = 0;
    else if (snr === 0) w[t] = prediction === 'epsilon' ? 1 : 0; // the limit of min(snr, gamma) / snr
    else w[t] = Math.min(snr, gamma) / (prediction === 'epsilon' ? snr : snr + 1);
  }
  return w;
}

/**
 * noise.predictionLoss (DEEM-style diffusion feedback, docs/methods.md): the weighted noise-
 * prediction MSE and its gradient w.r.t. the prediction, fused in one pass over both tensors:
 *
 *   mse_b = mean_j (pred[b, j] - target[b, j])^2,   loss = (1 / B) sum_b w_b mse_b
 *   grad  = gradScale * 2 w_b (pred - target) / (B S)          (S elements per sample)
 *
 * w_b = 1, given weights, or min-SNR-gamma weights from the schedule at each sample's t
 * (min(SNR, gamma) / SNR for epsilon targets, / (SNR + 1) for v-prediction; t = -1 weighs 0).
 * With unit weights this is torch's F.mse_loss(pred, target) (reduction 'mean').
 * Float32 sums inside fixed chunks, merged in float64 in index order.
 */
import { FLOAT_DTYPES } from '../dtype';
import { fail } from '../errors';
import { type Tensor, type TensorLike, empty, tensor } from '../tensor';
import { boolOpt, checkOptions, enumOpt, expectShape, numberOpt, sameDevice, shapeStr, tensorArg } from '../validate';
import { Temps, perSampleInt, runNative, runNativeAsync, sideTensor } from '../op_args';
import type { NativeFn } from '../op_decl';
import { callOp } from '../op_call';
import { PREDICTION_LOSS } from './prediction_loss.args';
import { type ScheduleSpec, minSnrWeights, resolveSchedule } from './noise_schedule';

declare module '../native' {
  interface NativeAddon {
    predictionLoss: NativeFn<typeof PREDICTION_LOSS>;
  }
}

export interface PredictionLossOptions {
  /** float32 [B] per-sample weights (tensor or array of finite numbers); not with minSnrGamma. */
  weights?: TensorLike | ArrayLike<number>;
  /** Min-SNR-gamma weighting (gamma > 0, 5 is the paper's choice); needs t. */
  minSnrGamma?: number;
  /** Timestep of each sample for minSnrGamma: an integer in [-1, steps - 1] or int32 [B] (tensor or array). */
  t?: number | TensorLike | ArrayLike<number>;
  /** Schedule of t for minSnrGamma: as noise.diffuse ('vcd-sigmoid' default, 'scaled-linear' for Stable Diffusion latents, ...). */
  schedule?: ScheduleSpec;
  /** Steps of a named schedule; default 1000. */
  steps?: number;
  /** What the model predicts, for minSnrGamma: 'epsilon' (default) or 'v-prediction'. */
  prediction?: 'epsilon' | 'v-prediction';
  /** Compute the gradient w.r.t. epsPred (default true). */
  grad?: boolean;
  /** Upstream gradient of the loss (multiplies the gradient); finite, default 1. */
  gradScale?: number;
}

export interface PredictionLossResult {
  /** float32 scalar (shape []) on the inputs' device. */
  loss: Tensor<'float32'>;
  /** Unweighted mse_b, float32 [B]. */
  perSample: Tensor<'float32'>;
  /** The weights w_b used, float32 [B]. */
  weights: Tensor<'float32'>;
  /** d loss / d epsPred, epsPred's dtype and shape (unless grad: false). */
  grad?: Tensor;
}

const OP = 'noise.predictionLoss';
const PREDICTIONS = ['epsilon', 'v-prediction'] as const;

interface Prepared {
  pred: Tensor;
  target: Tensor;
  grad: Tensor | null;
  perSample: Tensor<'float32'>;
  weightsOut: Tensor<'float32'>;
  loss: Tensor<'float32'>;
  weights: Tensor | null;
  wtab: Tensor | null;
  t: Tensor | null;
  tScalar: number;
  gradScale: number;
  temps: Temps;
}

function prepare(epsPred: TensorLike, eps: TensorLike, options: PredictionLossOptions | undefined): Prepared {
  const o = checkOptions(OP, options, ['weights', 'minSnrGamma', 't', 'schedule', 'steps', 'prediction', 'grad', 'gradScale']);
  const pred = tensorArg(OP, 'epsPred', epsPred, FLOAT_DTYPES);
  const target = tensorArg(OP, 'eps', eps, FLOAT_DTYPES);
  if (pred.ndim < 1) fail('ERR_SHAPE', OP, 'expected epsPred with a batch dimension but received a scalar (shape [])');
  expectShape(OP, 'eps', target, pred.shape, 'epsPred');
  sameDevice(OP, { epsPred: pred, eps: target });
  const B = pred.shape[0]!;
  const wantGrad = boolOpt(OP, 'grad', o.grad, true);
  const gradScale = numberOpt(OP, 'gradScale', o.gradScale, 1, { min: -3.4028234663852886e38, max: 3.4028234663852886e38 });
  if (o.weights !== undefined && o.minSnrGamma !== undefined) fail('ERR_ARGUMENT', OP, 'expected weights or minSnrGamma, not both');
  if (o.minSnrGamma === undefined)
    for (const k of ['t', 'schedule', 'steps', 'prediction'] as const)
      if (o[k] !== undefined) fail('ERR_ARGUMENT', OP, `${k} is only used with minSnrGamma`);
  const temps = new Temps();
  try {
    const from = `epsPred ${shapeStr(pred.shape)}`;
    let weights: Tensor | null = null;
    let wtab: Tensor | null = null;
    let t: Tensor | null = null;
    let tScalar = -1;
    if (o.weights !== undefined) weights = sideTensor(OP, 'weights', o.weights, [B], ['float32'], 'float32', pred, temps, from);
    if (o.minSnrGamma !== undefined) {
      const gamma = numberOpt(OP, 'minSnrGamma', o.minSnrGamma, 5, { gt: 0 });
      const sched = resolveSchedule(OP, o.schedule ?? 'vcd-sigmoid', o.steps);
      const prediction = enumOpt(OP, 'prediction', o.prediction, PREDICTIONS, 'epsilon');
      const ts = perSampleInt(OP, 't', o.t, B, pred, temps, from);
      if (ts.tensor === null && !(ts.scalar >= -1 && ts.scalar < sched.steps))
        fail('ERR_RANGE', OP, `expected t in [-1, ${sched.steps - 1}] but received ${ts.scalar}`);
      t = ts.tensor;
      tScalar = ts.scalar;
      wtab = temps.onDeviceOf(temps.own(tensor(Float32Array.from(minSnrWeights(sched, gamma, prediction)), [sched.steps])), pred);
    }
    const dev = pred._device < 0 ? 'cpu' : (`cuda:${pred._device}` as const);
    const perSample = empty([B], 'float32', { device: dev });
    const weightsOut = empty([B], 'float32', { device: dev });
    const loss = empty([], 'float32', { device: dev });
    const grad = wantGrad ? empty(pred.shape, pred.dtype, { device: dev }) : null;
    return { pred, target, grad, perSample, weightsOut, loss, weights, wtab, t, tScalar, gradScale, temps };
  } catch (e) {
    temps.dispose();
    throw e;
  }
}

function args(p: Prepared) {
  return {
    epsPred: p.pred, eps: p.target, grad: p.grad, perSample: p.perSample, weightsOut: p.weightsOut, loss: p.loss,
    weights: p.weights, weightTable: p.wtab, t: p.t, tScalar: p.tScalar, gradScale: p.gradScale,
  };
}

function result(p: Prepared): PredictionLossResult {
  const r: PredictionLossResult = { loss: p.loss, perSample: p.perSample, weights: p.weightsOut };
  if (p.grad) r.grad = p.grad;
  return r;
}

function disposeOutputs(p: Prepared): void {
  for (const t of [p.grad, p.perSample, p.weightsOut, p.loss]) t?.dispose();
}

/** Weighted MSE between epsPred and eps [B, ...] with its gradient w.r.t. epsPred, in one pass. */
export function predictionLoss(epsPred: TensorLike, eps: TensorLike, options: PredictionLossOptions & { grad: false }): Omit<PredictionLossResult, 'grad'> & { grad?: undefined };
export function predictionLoss(epsPred: TensorLike, eps: TensorLike, options?: PredictionLossOptions & { grad?: true }): PredictionLossResult & { grad: Tensor };
export function predictionLoss(epsPred: TensorLike, eps: TensorLike, options?: PredictionLossOptions): PredictionLossResult;
export function predictionLoss(epsPred: TensorLike, eps: TensorLike, options?: PredictionLossOptions): PredictionLossResult {
  const p = prepare(epsPred, eps, options);
  runNative(p.temps, () => callOp(PREDICTION_LOSS, args(p), false), () => disposeOutputs(p));
  return result(p);
}

/** {@link predictionLoss} off the main thread; bit-identical results. */
export async function predictionLossAsync(epsPred: TensorLike, eps: TensorLike, options: PredictionLossOptions & { grad: false }): Promise<Omit<PredictionLossResult, 'grad'> & { grad?: undefined }>;
export async function predictionLossAsync(epsPred: TensorLike, eps: TensorLike, options?: PredictionLossOptions & { grad?: true }): Promise<PredictionLossResult & { grad: Tensor }>;
export async function predictionLossAsync(epsPred: TensorLike, eps: TensorLike, options?: PredictionLossOptions): Promise<PredictionLossResult>;
export async function predictionLossAsync(epsPred: TensorLike, eps: TensorLike, options?: PredictionLossOptions): Promise<PredictionLossResult> {
  const stack = new Error().stack;
  const p = prepare(epsPred, eps, options);
  await runNativeAsync(p.temps, () => callOp(PREDICTION_LOSS, args(p), true), stack, () => disposeOutputs(p));
  return result(p);
}

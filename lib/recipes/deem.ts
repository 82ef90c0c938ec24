/**
 * DEEM (arXiv 2405.15232; /work/shared/METHODS.md §7), the part mmpref owns: one diffusion-feedback
 * step. mmpref noises the images or latents (noise.diffuse, returnNoise), calls the user's
 * denoiser for the predicted noise, computes the noise-prediction loss and its gradient
 * (noise.predictionLoss) and hands that gradient to the user's backward.
 *
 * What the user brings: the denoiser (e.g. a diffusion model conditioned on the image encoder's
 * features), its backward (propagating d loss / d epsPred into the denoiser and the encoder) and
 * their optimizer. mmpref ships none of them.
 */
import { diffuse } from '../ops/diffuse';
import { predictionLoss } from '../ops/prediction_loss';
import type { ScheduleSpec } from '../ops/noise_schedule';
import { fail } from '../errors';
import type { Tensor, TensorLike } from '../tensor';
import { checkOptions, numberOpt } from '../validate';

export interface DeemStepOptions {
  /** Clean images or latents [B, ...] (float). */
  x0: TensorLike;
  /** Predicts the noise of xt at timesteps t (same shape as xt). */
  denoiser: (xt: Tensor, t: Int32Array) => Tensor | Promise<Tensor>;
  /** Receives d loss / d epsPred (epsPred's shape); propagate it into your denoiser / encoder. */
  backward: (gradEpsPred: Tensor) => void | Promise<void>;
  /** Timestep of every sample, or one per sample (default: uniform in [0, steps) from seed and step). */
  t?: number | ArrayLike<number>;
  /** Philox seed of the noise (default 0); the offset is `step`. */
  seed?: number;
  /** Training step (Philox offset and the default t draw), default 0. */
  step?: number;
  schedule?: ScheduleSpec;
  steps?: number;
  /** Min-SNR-gamma weighting of the loss (off by default). */
  minSnrGamma?: number;
}

export interface DeemStepResult {
  loss: number;
  perSample: Float32Array;
  t: Int32Array;
}

function drawT(seed: number, step: number, B: number, steps: number): Int32Array {
  let a = (seed * 0x9e3779b1 + step * 0x85ebca6b + 1) >>> 0; // mulberry32
  return Int32Array.from({ length: B }, () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = Math.imul(a ^ (a >>> 15), a | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return Math.floor((((x ^ (x >>> 14)) >>> 0) / 4294967296) * steps);
  });
}

/** One DEEM diffusion-feedback step (see the module comment). */
export async function deemStep(options: DeemStepOptions): Promise<DeemStepResult> {
  const op = 'recipes.deemStep';
  const o = checkOptions(op, options, ['x0', 'denoiser', 'backward', 't', 'seed', 'step', 'schedule', 'steps', 'minSnrGamma']);
  if (typeof o.denoiser !== 'function' || typeof o.backward !== 'function') fail('ERR_ARGUMENT', op, 'expected denoiser and backward functions but received ' + `${typeof o.denoiser} and ${typeof o.backward}`);
  const seed = numberOpt(op, 'seed', o.seed, 0, { integer: true, min: 0 });
  const step = numberOpt(op, 'step', o.step, 0, { integer: true, min: 0 });
  const steps = numberOpt(op, 'steps', o.steps, 1000, { integer: true, min: 1 });
  const B = (o.x0 as Tensor).shape?.[0];
  if (!B) fail('ERR_SHAPE', op, 'expected x0 with a batch dimension');
  const t = o.t === undefined ? drawT(seed, step, B, steps) : typeof o.t === 'number' ? new Int32Array(B).fill(o.t) : Int32Array.from(o.t as ArrayLike<number>);
  const sched = { ...(o.schedule !== undefined ? { schedule: o.schedule } : {}), steps };
  const d = diffuse(o.x0, { t, seed, offset: step, returnNoise: true, ...sched });
  try {
    const epsPred = await o.denoiser(d.xt, t);
    const r = predictionLoss(epsPred, d.eps, { ...(o.minSnrGamma !== undefined ? { minSnrGamma: o.minSnrGamma, t, ...sched } : {}) });
    try {
      await o.backward(r.grad);
      return { loss: r.loss.toFloat32Array()[0]!, perSample: Float32Array.from(r.perSample.toFloat32Array()), t };
    } finally {
      for (const x of [r.loss, r.perSample, r.weights, r.grad]) x.dispose();
    }
  } finally {
    d.xt.dispose();
    d.eps.dispose();
  }
}

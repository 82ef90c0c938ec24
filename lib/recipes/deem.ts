/**
 * DEEM (arXiv 2405.15232; /work/shared/METHODS.md §7), the part mmpref owns.
 *
 * deemStep, one diffusion-feedback step: mmpref noises the images, latents or features
 * (noise.diffuse, returnNoise), calls the user's denoiser for the predicted noise, computes the
 * noise-prediction loss and its gradient (noise.predictionLoss) and hands that gradient to the
 * user's backward.
 *
 * deem, the training loop: batches of records' image features as x0, deemStep with t and the
 * noise drawn from (seed, step), the user's optimizer step, typed events, checkpoints
 * (module.save + trainer_state.json), metrics.jsonl / metrics.svg, AbortSignal and bit-exact resume.
 *
 * What the user brings (DeemModule): the denoiser (e.g. a diffusion model conditioned on the image
 * encoder's features), its backward (propagating d loss / d epsPred into the denoiser and the
 * encoder), the optimizer and the checkpoint format. lib/recipes/deem_example.ts is a tiny one.
 */
import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import path from 'node:path';
import type TypedEmitter from 'typed-emitter';
import { diffuse } from '../ops/diffuse';
import { predictionLoss } from '../ops/prediction_loss';
import { resolveSchedule, type ScheduleSpec } from '../ops/noise_schedule';
import { fail } from '../errors';
import { lineChartSvg } from '../plot/svg';
import { tensor, type Tensor, type TensorLike } from '../tensor';
import { checkOptions, numberOpt } from '../validate';
import type { PreferenceRecord } from './data';
import { cycle, openMetrics, type RecordSource, type RunEvents, type RunResult } from './runner';
import { checkpointDir, latestCheckpoint, readTrainerState } from './state';
import { startRun } from '../run_events';

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

// ---------------------------------------------------------------------------------------------
// recipes.deem: the training loop around deemStep.

/** One batch as the user's module sees it. */
export interface DeemBatch {
  /** The records' image features stacked, float32 [B, Nv, Dv]: the clean x0 that mmpref noises. */
  x0: Tensor<'float32'>;
  /** The batch's records (e.g. to condition on the text); read-only. */
  records: readonly PreferenceRecord[];
}

/**
 * What the user brings to recipes.deem: the denoiser (conditioned on their image encoder or
 * encoder adapter), its backward, their optimizer and their checkpoint format. mmpref calls, per
 * step: denoiser, backward (before xt and the gradient are freed), then step.
 */
export interface DeemModule {
  /** The predicted noise of xt (xt's shape) at timesteps t (one per sample); the module owns the returned tensor. */
  denoiser(xt: Tensor, t: Int32Array, batch: DeemBatch): Tensor | Promise<Tensor>;
  /** Receives d loss / d epsPred (epsPred's shape, valid until it returns): propagate it into the denoiser and encoder. */
  backward(gradEpsPred: Tensor, batch: DeemBatch): void | Promise<void>;
  /** The optimizer update of training step `step` (1 for the first) at learning rate lr; frees the gradients. */
  step(lr: number, step: number): void | Promise<void>;
  /** Writes the module's weights and optimizer state into the existing directory dir (needed with out). */
  save?(dir: string): void | Promise<void>;
  /** Restores what save wrote (needed with resume). */
  load?(dir: string): void | Promise<void>;
}

export interface DeemOptions {
  /** Optimizer steps in all (an integer >= 1). */
  steps: number;
  /** Records per step (default 4); every record needs image features, all of one shape. */
  batchSize?: number;
  /** Learning rate handed to module.step, constant (default 1e-4). */
  lr?: number;
  /** Seed of the noise (Philox offset = step) and of the timestep draw (default 0). */
  seed?: number;
  /** Noise schedule (default 'scaled-linear', 0.00085 to 0.012: METHODS.md §7, Stable-Diffusion-family decoders). */
  schedule?: ScheduleSpec;
  /** Steps T of a named schedule; t is drawn uniformly in [0, T) (default 1000). */
  diffusionSteps?: number;
  /** Min-SNR-gamma weighting of the loss (default off). */
  minSnrGamma?: number;
  /** Output directory: checkpoints (module.save + trainer_state.json), metrics.jsonl, metrics.svg. */
  out?: string;
  /** Checkpoint every N steps (default: at the end and on abort; needs out). */
  saveEvery?: number;
  /** Stops between steps, after saving a checkpoint (when a step was taken). */
  signal?: AbortSignal;
  /** Continue from the newest checkpoint under out (module.load, then the same steps as an uninterrupted run). */
  resume?: boolean;
}

export interface DeemStepEvent {
  step: number;
  totalSteps: number;
  /** The noise-prediction loss of the step (before the update). */
  loss: number;
  samplesPerSecond: number;
  etaSeconds: number;
  lr: number;
}

export type DeemResult = RunResult<DeemStepEvent>;
export type DeemEvents = RunEvents<DeemStepEvent, DeemResult>;

/** A running recipes.deem: events and the result (as recipes.train's TrainingRun). */
export class DeemRun extends (EventEmitter as new () => TypedEmitter<DeemEvents>) {
  readonly result: Promise<DeemResult>;
  /** @internal */
  constructor(body: (run: DeemRun) => Promise<DeemResult>) {
    super();
    this.result = startRun(this, () => body(this)); // next tick, done / error events (lib/run_events.ts)
  }
}

const OP = 'recipes.deem';
const KEYS = ['steps', 'batchSize', 'lr', 'seed', 'schedule', 'diffusionSteps', 'minSnrGamma', 'out', 'saveEvery', 'signal', 'resume'] as const;

/** Stacks the records' image features into float32 [B, Nv, Dv] (typed errors name the record's line). */
export function deemBatch(records: readonly PreferenceRecord[]): Tensor<'float32'> {
  const first = records[0]?.image;
  if (!first) fail('ERR_FORMAT', OP, `expected image features in every record but received none${records[0] ? ` (line ${records[0].line})` : ''}`);
  const [nv, dv] = first.shape;
  const x = new Float32Array(records.length * nv * dv);
  records.forEach((r, i) => {
    if (!r.image) fail('ERR_FORMAT', OP, `expected image features in every record but received none (line ${r.line})`);
    if (r.image.shape[0] !== nv || r.image.shape[1] !== dv)
      fail('ERR_SHAPE', OP, `expected image features of shape [${nv}, ${dv}] (from the batch's first record) but received [${r.image.shape.join(', ')}] (line ${r.line})`);
    x.set(r.image.features, i * nv * dv);
  });
  return tensor(x, [records.length, nv, dv]);
}

/**
 * DEEM training: per step, batchSize records' image features become x0, deemStep noises them
 * (t and the noise from seed and step), calls module.denoiser and module.backward, then
 * module.step(lr, step). Checkpoints, metrics and resume as recipes.train.
 */
export function deem(module: DeemModule, source: RecordSource, options: DeemOptions): DeemRun {
  const o = checkOptions(OP, options, KEYS);
  const m = module as unknown as Record<string, unknown>;
  const missing = ['denoiser', 'backward', 'step', ...(o.out ? ['save'] : []), ...(o.resume ? ['load'] : [])].filter((k) => typeof m?.[k] !== 'function');
  if (!module || typeof module !== 'object' || missing.length)
    fail('ERR_ARGUMENT', OP, `expected a module with functions denoiser, backward, step${o.out ? ', save' : ''}${o.resume ? ', load' : ''} but received ${module && typeof module === 'object' ? `none for ${missing.join(', ')}` : module === null ? 'null' : typeof module}`);
  if (source === null || typeof source !== 'object' || !(Symbol.iterator in source || Symbol.asyncIterator in source))
    fail('ERR_ARGUMENT', OP, `expected records as an iterable or async iterable but received ${source === null ? 'null' : typeof source}`);
  const steps = numberOpt(OP, 'steps', o.steps, 1, { integer: true, min: 1 });
  const batchSize = numberOpt(OP, 'batchSize', o.batchSize, 4, { integer: true, min: 1 });
  const lr = numberOpt(OP, 'lr', o.lr, 1e-4, { min: 0 });
  const seed = numberOpt(OP, 'seed', o.seed, 0, { integer: true, min: 0 });
  const diffusionSteps = numberOpt(OP, 'diffusionSteps', o.diffusionSteps, 1000, { integer: true, min: 1 });
  if (o.minSnrGamma !== undefined) numberOpt(OP, 'minSnrGamma', o.minSnrGamma, 5, { gt: 0 });
  const saveEvery = o.saveEvery === undefined ? 0 : numberOpt(OP, 'saveEvery', o.saveEvery, 0, { integer: true, min: 1 });
  if (o.out !== undefined && typeof o.out !== 'string') fail('ERR_ARGUMENT', OP, `expected out as a directory path but received ${typeof o.out}`);
  if (saveEvery && !o.out) fail('ERR_ARGUMENT', OP, 'expected out (a directory) with saveEvery but received none');
  if (o.resume && !o.out) fail('ERR_ARGUMENT', OP, 'expected out (a directory) with resume but received none');
  if (o.signal !== undefined && !(o.signal instanceof AbortSignal)) fail('ERR_ARGUMENT', OP, `expected signal as an AbortSignal but received ${typeof o.signal}`);
  const schedule = o.schedule ?? ('scaled-linear' as const);
  resolveSchedule(OP, schedule, diffusionSteps); // a bad schedule fails here, not at the first step
  const r = { ...o, steps, batchSize, lr, seed, diffusionSteps, saveEvery, schedule };
  return new DeemRun((run) => deemBody(run, module, source, r));
}

type Resolved = DeemOptions & { batchSize: number; lr: number; seed: number; diffusionSteps: number; saveEvery: number; schedule: ScheduleSpec };
interface DeemState { step: number; position: number; seed: number; lr: number; totalSteps: number; kind: 'deem' }

async function deemBody(run: DeemRun, module: DeemModule, source: RecordSource, o: Resolved): Promise<DeemResult> {
  let state: DeemState = { step: 0, position: 0, seed: o.seed, lr: o.lr, totalSteps: o.steps, kind: 'deem' };
  const from = o.resume ? latestCheckpoint(o.out!) : undefined;
  if (from) {
    const s = readTrainerState(from);
    state = { ...state, step: s.step, position: s.position, seed: s.seed, lr: s.lr };
    await module.load!(from);
  }
  const { metricsFile, history } = openMetrics<DeemStepEvent>(o.out, from, state.step);
  let last: string | undefined = from;
  const save = async () => {
    if (!o.out) return;
    const dir = checkpointDir(o.out, state.step);
    fs.mkdirSync(dir, { recursive: true });
    await module.save!(dir);
    fs.writeFileSync(path.join(dir, 'trainer_state.json'), JSON.stringify(state, null, 2) + '\n'); // last: marks the checkpoint complete
    fs.writeFileSync(path.join(o.out, 'metrics.svg'), lineChartSvg([{ name: 'noise-prediction loss', points: history.map((e) => [e.step, e.loss]) }]));
    last = dir;
    run.emit('checkpoint', { step: state.step, dir });
  };
  const it = cycle(OP, source, state.position);
  const t0 = Date.now();
  const startStep = state.step;
  let samples = 0;
  try {
    while (state.step < o.steps) {
      if (o.signal?.aborted) {
        if (state.step > startStep) await save(); // nothing new to save before the first step
        return { stopped: 'aborted', step: state.step, ...(last ? { checkpoint: last } : {}), history };
      }
      const records: PreferenceRecord[] = [];
      while (records.length < o.batchSize) records.push((await it.next()).value as PreferenceRecord);
      const batch: DeemBatch = { x0: deemBatch(records), records };
      const next = state.step + 1;
      let loss: number;
      try {
        ({ loss } = await deemStep({
          x0: batch.x0,
          denoiser: (xt, t) => module.denoiser(xt, t, batch),
          backward: (g) => module.backward(g, batch),
          seed: state.seed,
          step: state.step,
          schedule: o.schedule,
          steps: o.diffusionSteps,
          ...(o.minSnrGamma !== undefined ? { minSnrGamma: o.minSnrGamma } : {}),
        }));
        await module.step(state.lr, next);
      } finally {
        batch.x0.dispose();
      }
      samples += records.length;
      state = { ...state, step: next, position: state.position + records.length };
      const secs = Math.max(1e-9, (Date.now() - t0) / 1000);
      const ev: DeemStepEvent = { step: next, totalSteps: o.steps, loss, samplesPerSecond: samples / secs, etaSeconds: (secs / (next - startStep)) * (o.steps - next), lr: state.lr };
      history.push(ev);
      if (metricsFile) fs.appendFileSync(metricsFile, JSON.stringify(ev) + '\n');
      run.emit('step', ev);
      if (o.saveEvery && next % o.saveEvery === 0 && next < o.steps) await save();
      await new Promise<void>((r) => setImmediate(r)); // lets a signal fire between steps
    }
    await save();
    return { stopped: 'done', step: state.step, ...(last ? { checkpoint: last } : {}), history };
  } finally {
    await it.return(undefined);
  }
}

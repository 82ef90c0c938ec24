/**
 * The recipes' common training loop: records from a data source, batches, train.dpoStep or
 * train.sftStep with AdamW on LoRA adapters (or every parameter: `full`), an lr schedule
 * (lib/recipes/schedule.ts), typed events (step, checkpoint, done), checkpoints every saveEvery
 * steps and when the AbortSignal fires (between steps), bit-exact resume.
 *
 *   const run = recipes.train(model, data, { kind: 'dpo', steps: 100, out: 'runs/a', saveEvery: 20 });
 *   run.on('step', (m) => console.log(m.step, m.loss));
 *   const { stopped } = await run.result;   // 'done' | 'aborted'
 */
import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type TypedEmitter from 'typed-emitter';
import { fail } from '../errors';
import { LlamaModel } from '../models/llama';
import type { LoraOptions } from '../models/lora';
import type { TrainNoiseOptions } from '../models/train';
import type { DpoLossOptions } from '../ops/dpo_loss';
import { AdamW, type AdamWOptions } from '../train/optimizer';
import { dpoStep, sftStep } from '../train/steps';
import { deviceOf } from '../tensor';
import { boolOpt, checkOptions, enumOpt, numberOpt } from '../validate';
import { dpoBatch, onDevice, sftBatch } from './batch';
import type { PreferenceRecord } from './data';
import { writeMetricsSvg } from '../plot/svg';
import { lrFactor, resolveSchedule, type LrSchedule, type ResolvedSchedule } from './schedule';
import { checkpointDir, latestCheckpoint, loadModelWeights, readTrainerState, restoreOptimizer, saveCheckpoint, type TrainerState } from './state';
import { startRun } from '../run_events';

export const TRAIN_KINDS = ['sft', 'dpo'] as const;
export type TrainKind = (typeof TRAIN_KINDS)[number];
export type RecordSource = Iterable<PreferenceRecord> | AsyncIterable<PreferenceRecord>;

export interface TrainOptions {
  kind: TrainKind;
  /** Optimizer steps in all (>= 1). */
  steps: number;
  /** Records per step (default 4; DPO: 2 x batchSize rows). */
  batchSize?: number;
  /** AdamW base learning rate (default 1e-4); the schedule multiplies it. */
  lr?: number;
  /** Learning-rate schedule (default constant), as transformers' get_scheduler: lib/recipes/schedule.ts. */
  lrSchedule?: LrSchedule;
  /** Other AdamW options (default weightDecay 0, maxGradNorm 1). */
  optimizer?: Omit<AdamWOptions, 'lr'>;
  /** DPO loss options (default beta 0.1). */
  dpo?: DpoLossOptions;
  /** NoiseBoost on the visual tokens (used for batches with image features; DPO: chosen rows). */
  noise?: Omit<TrainNoiseOptions, 'seed' | 'offset' | 'rows'>;
  /** Adapters added when the model has none (default rank 8, alpha 16, every projection; not used with full). */
  lora?: LoraOptions;
  /**
   * Full fine-tuning: AdamW over every parameter (model.parameters(); float32 master weights for
   * float16/bfloat16 models), no adapters (default false). DPO's reference is then a frozen model.
   */
  full?: boolean;
  /** DPO with full: the frozen reference (default: a copy of the model as passed, made by save + load through a temporary directory). */
  reference?: LlamaModel;
  /** Output directory: checkpoints, metrics.jsonl, metrics.svg (default: nothing written). */
  out?: string;
  /** Checkpoint every N steps (default: only at the end and on abort; needs out). */
  saveEvery?: number;
  /** Seed of the noise and LoRA init (default 0). */
  seed?: number;
  /** Stops between steps, after saving a checkpoint. */
  signal?: AbortSignal;
  /** Continue from the newest checkpoint under `out` (fresh start when there is none). */
  resume?: boolean;
  /** Token id placed at the image positions (replaced by the visual tokens; default 0). */
  imageToken?: number;
  /**
   * Online data (online BDHS): every `every` steps (and at the start) the source is replaced by
   * `source(model, step)`, read from its beginning. A resumed run regenerates at the resume step.
   */
  refresh?: { every: number; source: (model: LlamaModel, step: number) => Promise<RecordSource> | RecordSource };
}

export interface StepEvent {
  step: number;
  totalSteps: number;
  loss: number;
  /** DPO only (NaN for SFT), like margin and the rewards. */
  rewardAccuracy: number;
  margin: number;
  chosenReward: number;
  rejectedReward: number;
  tokensPerSecond: number;
  etaSeconds: number;
  lr: number;
}

/** How a training run (recipes.train, recipes.deem) ended, with its step events. */
export interface RunResult<E> {
  stopped: 'done' | 'aborted';
  step: number;
  /** The last checkpoint written (undefined without out). */
  checkpoint?: string;
  history: E[];
}

/** The events of a training run with step events E and result R. */
export type RunEvents<E, R> = {
  step: (e: E) => void;
  checkpoint: (e: { step: number; dir: string }) => void;
  done: (r: R) => void;
  error: (e: Error) => void;
};

export type TrainResult = RunResult<StepEvent>;
export type TrainEvents = RunEvents<StepEvent, TrainResult>;

export class TrainingRun extends (EventEmitter as new () => TypedEmitter<TrainEvents>) {
  readonly result: Promise<TrainResult>;
  /** @internal */
  constructor(body: (run: TrainingRun) => Promise<TrainResult>) {
    super();
    this.result = startRun(this, () => body(this)); // next tick, done / error events (lib/run_events.ts)
  }
}

const KEYS = ['kind', 'steps', 'batchSize', 'lr', 'lrSchedule', 'optimizer', 'dpo', 'noise', 'lora', 'full', 'reference', 'out', 'saveEvery', 'seed', 'signal', 'resume', 'imageToken', 'refresh'] as const;

/** Cycles over the source (re-iterating it each epoch), skipping the first `skip` records (also recipes.deem's). */
export async function* cycle(op: string, source: RecordSource, skip: number): AsyncGenerator<PreferenceRecord> {
  for (;;) {
    let n = 0;
    for await (const r of source as AsyncIterable<PreferenceRecord>) {
      n++;
      if (skip > 0) {
        skip--;
        continue;
      }
      yield r;
    }
    if (n === 0) fail('ERR_ARGUMENT', op, 'expected a data source with at least one record (re-iterable for more than one epoch) but received none');
  }
}

/** Trains the model on the records; see the module comment. */
export function trainRecipe(model: LlamaModel, source: RecordSource, options: TrainOptions): TrainingRun {
  const op = 'recipes.train';
  const o = checkOptions(op, options, KEYS);
  const kind = enumOpt(op, 'kind', o.kind, TRAIN_KINDS, 'dpo');
  const steps = numberOpt(op, 'steps', o.steps, 1, { integer: true, min: 1 });
  const batchSize = numberOpt(op, 'batchSize', o.batchSize, 4, { integer: true, min: 1 });
  const lr = numberOpt(op, 'lr', o.lr, 1e-4, { min: 0 });
  const seed = numberOpt(op, 'seed', o.seed, 0, { integer: true, min: 0 });
  const saveEvery = o.saveEvery === undefined ? 0 : numberOpt(op, 'saveEvery', o.saveEvery, 0, { integer: true, min: 1 });
  if (saveEvery && !o.out) fail('ERR_ARGUMENT', op, 'expected out (a directory) with saveEvery but received none');
  if (o.resume && !o.out) fail('ERR_ARGUMENT', op, 'expected out (a directory) with resume but received none');
  if (o.out !== undefined && typeof o.out !== 'string') fail('ERR_ARGUMENT', op, `expected out as a directory path but received ${typeof o.out}`);
  const schedule = resolveSchedule(op, o.lrSchedule, steps);
  const full = boolOpt(op, 'full', o.full, false);
  if (full && model.loraParameters().length) fail('ERR_ARGUMENT', op, 'expected a model without LoRA adapters with full: true but received one with adapters (mergeAdapters() first)');
  if (o.reference !== undefined && (!full || !(o.reference instanceof LlamaModel)))
    fail('ERR_ARGUMENT', op, `expected reference (a LlamaModel) only with full: true but received ${o.reference instanceof LlamaModel ? 'full: false' : typeof o.reference}`);
  return new TrainingRun((run) => body(run, model, source, { ...o, kind, steps, batchSize, lr, seed, saveEvery, schedule, full }));
}

type Resolved = TrainOptions & { batchSize: number; lr: number; seed: number; saveEvery: number; schedule: ResolvedSchedule; full: boolean };

/** A frozen copy of the model's weights through a temporary HF checkpoint (bit-exact: same dtype). */
function copyModel(model: LlamaModel): LlamaModel {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mmpref-reference-'));
  try {
    model.save(dir);
    return LlamaModel.load(dir, { dtype: model.dtype, device: deviceOf(model.embed) });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function body(run: TrainingRun, model: LlamaModel, source: RecordSource, o: Resolved): Promise<TrainResult> {
  const op = 'recipes.train';
  if (!o.full && model.loraParameters().length === 0) model.addLora({ rank: 8, alpha: 16, targets: ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'], seed: o.seed, ...o.lora });
  const { type, warmupSteps } = o.schedule;
  let state: TrainerState = { step: 0, position: 0, seed: o.seed, lr: o.lr, totalSteps: o.steps, kind: o.kind, lrSchedule: { type, warmupSteps }, full: o.full };
  const from = o.resume ? latestCheckpoint(o.out!) : undefined;
  if (from) {
    state = { ...readTrainerState(from), totalSteps: o.steps };
    if (!!state.full !== o.full) fail('ERR_ARGUMENT', op, `expected full: ${!!state.full} to resume ${from} (it holds ${state.full ? 'a full model' : 'adapters'}) but received full: ${o.full}`);
  }
  // the saved schedule (type, warmup steps) over this run's total steps: the lr is a function of the step
  const schedule: ResolvedSchedule = state.lrSchedule ? { ...state.lrSchedule, totalSteps: o.steps } : { type: 'constant', warmupSteps: 0, totalSteps: o.steps };
  // full DPO: the reference is the model as passed (before a checkpoint's weights are loaded into it)
  const refFree = o.dpo?.referenceFree || o.dpo?.type === 'simpo';
  const reference = o.full && o.kind === 'dpo' && !refFree ? (o.reference ?? copyModel(model)) : undefined;
  const ownReference = reference !== undefined && reference !== o.reference;
  let opt: AdamW | undefined;
  try {
    if (from) {
      if (o.full) loadModelWeights(from, model);
      else model.loadAdapters(from);
    }
    opt = new AdamW(o.full ? model.parameters() : model.loraParameters(), { weightDecay: 0, maxGradNorm: 1, ...o.optimizer, lr: state.lr });
    if (from) restoreOptimizer(from, opt, state.step);
    return await loop(run, model, source, o, state, from, opt, schedule, reference);
  } finally {
    opt?.dispose();
    if (ownReference) reference.dispose();
  }
}

/**
 * A run's metrics.jsonl under `out` (none without out): fresh, or on resume from a checkpoint the
 * events up to its step (later ones, written after that checkpoint, are dropped and the file rewritten).
 */
export function openMetrics<E extends { step: number }>(out: string | undefined, from: string | undefined, step: number): { metricsFile?: string; history: E[] } {
  const history: E[] = [];
  if (!out) return { history };
  const metricsFile = path.join(out, 'metrics.jsonl');
  fs.mkdirSync(out, { recursive: true });
  if (from && fs.existsSync(metricsFile))
    for (const l of fs.readFileSync(metricsFile, 'utf8').split('\n')) {
      if (!l.trim()) continue;
      const e = JSON.parse(l) as E;
      if (e.step <= step) history.push(e);
    }
  fs.writeFileSync(metricsFile, history.map((e) => JSON.stringify(e) + '\n').join(''));
  return { metricsFile, history };
}

async function loop(run: TrainingRun, model: LlamaModel, source: RecordSource, o: Resolved, state: TrainerState, from: string | undefined, opt: AdamW, schedule: ResolvedSchedule, reference: LlamaModel | undefined): Promise<TrainResult> {
  const op = 'recipes.train';
  const { metricsFile, history } = openMetrics<StepEvent>(o.out, from, state.step);
  let last: string | undefined = from;
  const save = () => {
    if (!o.out) return;
    const dir = checkpointDir(o.out, state.step);
    saveCheckpoint(dir, model, opt, state);
    writeMetricsSvg(path.join(o.out, 'metrics.svg'), history, o.kind);
    last = dir;
    run.emit('checkpoint', { step: state.step, dir });
  };
  let it = cycle(op, source, o.refresh ? 0 : state.position);
  if (o.refresh && (typeof o.refresh.source !== 'function' || !Number.isInteger(o.refresh.every) || o.refresh.every < 1))
    fail('ERR_ARGUMENT', op, `expected refresh { every: an integer >= 1, source: a function } but received every ${o.refresh.every}`);
  let refreshed = -1;
  const t0 = Date.now();
  const startStep = state.step;
  let tokens = 0;
  try {
    while (state.step < o.steps) {
      if (o.signal?.aborted) {
        save();
        return { stopped: 'aborted', step: state.step, ...(last ? { checkpoint: last } : {}), history };
      }
      if (o.refresh && (refreshed < 0 || state.step % o.refresh.every === 0) && refreshed !== state.step) {
        await it.return(undefined);
        it = cycle(op, await o.refresh.source(model, state.step), 0);
        refreshed = state.step;
      }
      const recs: PreferenceRecord[] = [];
      while (recs.length < o.batchSize) recs.push((await it.next()).value as PreferenceRecord);
      const batch = onDevice(o.kind === 'dpo' ? dpoBatch(recs, o.imageToken) : sftBatch(recs, o.imageToken), deviceOf(model.embed));
      const noise = o.noise && batch.visualFeatures ? { noise: { ...o.noise, seed: state.seed, offset: state.step } } : {};
      let e: Omit<StepEvent, 'tokensPerSecond' | 'etaSeconds'>;
      const next = state.step + 1;
      opt.lr = state.lr * lrFactor(schedule, state.step);
      if (o.kind === 'dpo') {
        const m = dpoStep(model, batch, { beta: 0.1, ...o.dpo, ...noise, optimizer: opt, ...(reference ? { reference } : {}) });
        m.refChosen.dispose();
        m.refRejected.dispose();
        tokens += m.tokens;
        e = { step: next, totalSteps: o.steps, loss: m.loss, rewardAccuracy: m.rewardAccuracy, margin: m.margin, chosenReward: m.chosenReward, rejectedReward: m.rejectedReward, lr: opt.lr };
      } else {
        const m = sftStep(model, batch, { ...noise, optimizer: opt });
        tokens += m.tokens;
        e = { step: next, totalSteps: o.steps, loss: m.loss, rewardAccuracy: NaN, margin: NaN, chosenReward: NaN, rejectedReward: NaN, lr: opt.lr };
      }
      for (const t of [batch.tokens, batch.labels, batch.attentionMask, batch.visualFeatures]) (t as { dispose?: () => void } | undefined)?.dispose?.();
      state = { ...state, step: next, position: state.position + recs.length };
      const secs = Math.max(1e-9, (Date.now() - t0) / 1000);
      const ev: StepEvent = { ...e, tokensPerSecond: tokens / secs, etaSeconds: (secs / (next - startStep)) * (o.steps - next) };
      history.push(ev);
      if (metricsFile) fs.appendFileSync(metricsFile, JSON.stringify(ev) + '\n');
      run.emit('step', ev);
      if (o.saveEvery && next % o.saveEvery === 0 && next < o.steps) save();
      await new Promise<void>((r) => setImmediate(r)); // lets a signal fire between steps
    }
    save();
    return { stopped: 'done', step: state.step, ...(last ? { checkpoint: last } : {}), history };
  } finally {
    await it.return(undefined);
  }
}

/**
 * Training checkpoints: <out>/checkpoint-<step>/ holds the PEFT adapters (model.saveAdapters) or,
 * with full fine-tuning, the whole model (model.save: config.json + model.safetensors),
 * optimizer.safetensors (AdamW moments m/<name>, v/<name> and master/<name> weights, float32) and
 * trainer_state.json (step, data position, seed, lr, totals). Resuming restores all of them, so a
 * resumed run continues bit-exactly (test/recipes_runner.test.ts).
 */
import fs from 'node:fs';
import path from 'node:path';
import { fail } from '../errors';
import { loadSafetensors, saveSafetensors } from '../io/safetensors';
import { LlamaModel } from '../models/llama';
import type { Tensor } from '../tensor';
import type { AdamW } from '../train/optimizer';
import type { LrScheduleType } from './schedule';

export interface TrainerState {
  /** Optimizer steps taken. */
  step: number;
  /** Records consumed from the data source (across epochs). */
  position: number;
  seed: number;
  lr: number;
  totalSteps: number;
  kind: 'sft' | 'dpo';
  /** The lr schedule (absent in checkpoints written before schedules: constant). */
  lrSchedule?: { type: LrScheduleType; warmupSteps: number };
  /** Full fine-tuning: the checkpoint holds the whole model, not adapters. */
  full?: boolean;
}

export const checkpointDir = (out: string, step: number): string => path.join(out, `checkpoint-${String(step).padStart(6, '0')}`);

/** The newest checkpoint-* directory under out (undefined when none). */
export function latestCheckpoint(out: string): string | undefined {
  if (!fs.existsSync(out)) return undefined;
  const dirs = fs.readdirSync(out).filter((d) => /^checkpoint-\d+$/.test(d) && fs.existsSync(path.join(out, d, 'trainer_state.json'))).sort();
  return dirs.length ? path.join(out, dirs[dirs.length - 1]!) : undefined;
}

function optimizerTensors(opt: AdamW): [string, Tensor][] {
  const names = [...opt.params.keys()];
  const out: [string, Tensor][] = [];
  names.forEach((n, i) => {
    out.push([`m/${n}`, opt.state.m[i]!], [`v/${n}`, opt.state.v[i]!]);
    if (opt.state.master) out.push([`master/${n}`, opt.state.master[i]!]);
  });
  return out;
}

export function saveCheckpoint(dir: string, model: LlamaModel, opt: AdamW, state: TrainerState): void {
  fs.mkdirSync(dir, { recursive: true });
  if (state.full) model.save(dir);
  else model.saveAdapters(dir);
  saveSafetensors(path.join(dir, 'optimizer.safetensors'), optimizerTensors(opt));
  fs.writeFileSync(path.join(dir, 'trainer_state.json'), JSON.stringify(state, null, 2) + '\n');
}

export function readTrainerState(dir: string): TrainerState {
  const file = path.join(dir, 'trainer_state.json');
  let s: TrainerState;
  try {
    s = JSON.parse(fs.readFileSync(file, 'utf8')) as TrainerState;
  } catch (e) {
    fail('ERR_FORMAT', 'recipes.resume', `expected a JSON trainer state but could not read ${file} (${(e as Error).message})`);
  }
  for (const k of ['step', 'position', 'seed', 'lr'] as const)
    if (typeof s[k] !== 'number') fail('ERR_FORMAT', 'recipes.resume', `expected a number '${k}' in ${file} but received ${JSON.stringify(s[k])}`);
  return s;
}

/** Copies the saved moments (and master weights) into the optimizer and sets its step count. */
export function restoreOptimizer(dir: string, opt: AdamW, step: number): void {
  const op = 'recipes.resume';
  const file = path.join(dir, 'optimizer.safetensors');
  const saved = loadSafetensors(file);
  try {
    for (const [name, dst] of optimizerTensors(opt)) {
      const src = saved.get(name);
      if (!src || src.numel !== dst.numel || src.dtype !== dst.dtype) fail('ERR_FORMAT', op, `expected '${name}' (${dst.dtype}, ${dst.numel} values) in ${file} but received ${src ? `${src.dtype}, ${src.numel} values` : 'none'}`);
      dst.copyFrom(src as typeof dst);
    }
  } finally {
    for (const t of saved.values()) t.dispose();
  }
  opt._setStep(step);
}

/** Copies a full checkpoint's weights (model.save) into the model's tensors, every one checked first. */
export function loadModelWeights(dir: string, model: LlamaModel): void {
  const op = 'recipes.resume';
  const src = LlamaModel.load(dir, { dtype: model.dtype });
  try {
    const saved = new Map(src.parameters());
    const pairs = model.parameters().map(([name, dst]) => {
      const t = saved.get(name);
      if (!t || t.numel !== dst.numel) fail('ERR_FORMAT', op, `expected '${name}' (${dst.numel} values) in ${dir} but received ${t ? `${t.numel} values` : 'none'}`);
      return [t, dst] as const;
    });
    for (const [t, dst] of pairs) dst.copyFrom(t as typeof dst);
  } finally {
    src.dispose();
  }
}

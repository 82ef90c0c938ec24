/**
 * Learning-rate schedules as Hugging Face transformers' get_scheduler defines them
 * (transformers/optimization.py: constant, constant_with_warmup, linear, cosine with num_cycles 0.5),
 * as a multiplier of the base lr. The update number k (1 for the first) uses the multiplier of
 * step k - 1, as torch's LambdaLR stepped after each optimizer step does: with warmup the first
 * update has lr 0. A warmup ratio becomes ceil(ratio x total steps) steps (TrainingArguments
 * .get_warmup_steps). The lr is a function of the step only, so a resumed run continues it exactly.
 */
import { fail } from '../errors';
import { checkOptions, enumOpt, numberOpt } from '../validate';

export const LR_SCHEDULES = ['constant', 'constant_with_warmup', 'linear', 'cosine'] as const;
export type LrScheduleType = (typeof LR_SCHEDULES)[number];

export interface LrSchedule {
  /** Default 'constant'. */
  type?: LrScheduleType;
  /** Linear warmup from 0 over this many steps (default 0; not with warmupRatio). */
  warmupSteps?: number;
  /** Warmup as a fraction of the total steps in [0, 1): ceil(ratio x steps) steps. */
  warmupRatio?: number;
}

export interface ResolvedSchedule {
  type: LrScheduleType;
  warmupSteps: number;
  totalSteps: number;
}

/** Checks a schedule option and turns a warmup ratio into steps. */
export function resolveSchedule(op: string, s: LrSchedule | undefined, totalSteps: number): ResolvedSchedule {
  const o = checkOptions(op, s ?? {}, ['type', 'warmupSteps', 'warmupRatio']);
  const type = enumOpt(op, 'lrSchedule.type', o.type, LR_SCHEDULES, 'constant');
  if (o.warmupSteps !== undefined && o.warmupRatio !== undefined)
    fail('ERR_ARGUMENT', op, `expected lrSchedule.warmupSteps or lrSchedule.warmupRatio but received both (${o.warmupSteps}, ${o.warmupRatio})`);
  const warmupSteps =
    o.warmupRatio !== undefined
      ? Math.ceil(totalSteps * numberOpt(op, 'lrSchedule.warmupRatio', o.warmupRatio, 0, { min: 0, lt: 1 }))
      : numberOpt(op, 'lrSchedule.warmupSteps', o.warmupSteps, 0, { integer: true, min: 0 });
  if (type === 'constant' && warmupSteps > 0)
    fail('ERR_ARGUMENT', op, `expected no warmup with lrSchedule 'constant' (use 'constant_with_warmup') but received ${warmupSteps} warmup steps`);
  return { type, warmupSteps, totalSteps };
}

/** The lr multiplier at `step` (0 for the first update), transformers' lr_lambda. */
export function lrFactor(s: ResolvedSchedule, step: number): number {
  const { type, warmupSteps: w, totalSteps: n } = s;
  if (type === 'constant') return 1;
  if (step < w) return step / Math.max(1, w);
  if (type === 'constant_with_warmup') return 1;
  if (type === 'linear') return Math.max(0, (n - step) / Math.max(1, n - w));
  const progress = (step - w) / Math.max(1, n - w);
  return Math.max(0, 0.5 * (1 + Math.cos(Math.PI * 0.5 * 2 * progress)));
}

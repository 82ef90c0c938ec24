/**
 * NoiseBoost (arXiv 2405.20081; /work/shared/METHODS.md §4): zero-mean Gaussian noise on the
 * visual tokens after the projector, during training only. SFT stage: every row; DPO stage: the
 * chosen rows only (train.dpoStep's default). Default scale 0.5, absolute (the paper's reported
 * scale; whether it is absolute is not public, METHODS.md §4), every visual token (prob 1).
 * Records without image features train without noise (there are no visual tokens to perturb).
 */
import type { LlamaModel } from '../models/llama';
import type { TrainNoiseOptions } from '../models/train';
import { checkOptions, enumOpt } from '../validate';
import { trainRecipe, type RecordSource, type TrainingRun, type TrainOptions } from './runner';

export const NOISEBOOST_STAGES = ['sft', 'dpo'] as const;
export type NoiseBoostStage = (typeof NOISEBOOST_STAGES)[number];

export interface NoiseBoostOptions extends Omit<TrainOptions, 'kind' | 'noise'> {
  /** 'dpo' (default) or 'sft'. */
  stage?: NoiseBoostStage;
  /** Noise options (default sigma 0.5, scale 'absolute', prob 1). */
  noise?: Omit<TrainNoiseOptions, 'seed' | 'offset' | 'rows'>;
}

/** NoiseBoost defaults of METHODS.md §4. */
export const NOISEBOOST_DEFAULTS = { sigma: 0.5, scale: 'absolute', prob: 1 } as const;

export function noiseBoost(model: LlamaModel, data: RecordSource, options: NoiseBoostOptions): TrainingRun {
  const op = 'recipes.noiseBoost';
  const { stage: st, noise, ...rest } = checkOptions(op, options, ['stage', 'noise', 'steps', 'batchSize', 'lr', 'lrSchedule', 'optimizer', 'dpo', 'lora', 'full', 'reference', 'out', 'saveEvery', 'seed', 'signal', 'resume', 'imageToken']);
  const stage = enumOpt(op, 'stage', st, NOISEBOOST_STAGES, 'dpo');
  return trainRecipe(model, data, { ...rest, kind: stage, noise: { ...NOISEBOOST_DEFAULTS, ...noise } });
}

/**
 * Namespace `noise`: perturbation kernels for hallucination-reducing training (docs/methods.md):
 * NoiseBoost visual-token noise, diffusion forward noising (VCD / BPO / BDHS-noise / DEEM),
 * NEFTune embedding noise, and the fused noise-prediction loss. All randomness is Philox
 * (see `random`), reproducible from the seed/offset each op returns.
 */
export {
  visualTokens,
  visualTokensAsync,
  TOKEN_SCALES,
  type TokenScaleMode,
  type TokenSpan,
  type VisualTokensOptions,
  type VisualTokensResult,
} from '../ops/visual_tokens';
export {
  diffuse,
  diffuseAsync,
  CLIP_MEAN,
  CLIP_STD,
  type DiffuseOptions,
  type DiffuseResult,
  type Normalize,
} from '../ops/diffuse';
export {
  schedule,
  minSnrWeights,
  SCHEDULES,
  type ScheduleName,
  type ScheduleOptions,
  type ScheduleSpec,
  type NoiseSchedule,
} from '../ops/noise_schedule';
export { neftune, neftuneAsync, type NeftuneOptions, type NeftuneResult } from '../ops/neftune';
export {
  predictionLoss,
  predictionLossAsync,
  type PredictionLossOptions,
  type PredictionLossResult,
} from '../ops/prediction_loss';
export type { Seed, StreamOptions } from '../op_args';

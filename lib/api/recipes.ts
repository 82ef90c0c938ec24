/** Namespace `recipes`: training recipes (NoiseBoost, BDHS, BPO, DEEM), their common runner and the JSONL data reader. */
export { trainRecipe as train, TrainingRun, TRAIN_KINDS, type RecordSource, type StepEvent, type TrainEvents, type TrainKind, type TrainOptions, type TrainResult, type RunEvents, type RunResult } from '../recipes/runner';
export { LR_SCHEDULES, lrFactor, type LrSchedule, type LrScheduleType, type ResolvedSchedule } from '../recipes/schedule';
export { noiseBoost, NOISEBOOST_DEFAULTS, NOISEBOOST_STAGES, type NoiseBoostOptions, type NoiseBoostStage } from '../recipes/noiseboost';
export { readJsonl, parseRecord, JsonlDataset, BAD_RECORD_MODES, type BadRecordMode, type JsonlOptions, type PreferenceRecord } from '../recipes/data';
export { sftBatch, dpoBatch } from '../recipes/batch';
export { latestCheckpoint, type TrainerState } from '../recipes/state';
export { lineChartSvg, type Series } from '../plot/svg';
export { bdhs, bdhsRejected, answerEmbedding, type BdhsGenerateOptions, type BdhsGenerateResult, type BdhsOptions } from '../recipes/bdhs';
export {
  bpo, bpoRejected, bpoErrorInjection, bpoPairs, bpoDataset, BPO_DEFAULTS, BPO_GENERATORS, ERROR_INJECTION_TEMPLATE,
  type BpoGenerateOptions, type BpoOptions, type BpoErrorInjectionOptions, type EncodedImage, type BpoSample, type BpoDatasetOptions, type BpoGenerator,
} from '../recipes/bpo';
export { deem, deemStep, deemBatch, DeemRun, type DeemBatch, type DeemEvents, type DeemModule, type DeemOptions, type DeemResult, type DeemStepEvent, type DeemStepOptions, type DeemStepResult } from '../recipes/deem';
export { createTinyDeem, type TinyDeem, type TinyDeemOptions } from '../recipes/deem_example';
export { loadTokenizer, TOKENIZER_PACKAGE, type LoadTokenizerOptions, type Tokenizer } from '../recipes/tokenizer';

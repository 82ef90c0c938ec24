/**
 * mmpref: fused native kernels for training multimodal LLMs that hallucinate less.
 *
 *   import { tensor, ops, dpo, noise, backend } from 'mmpref';
 *
 * Every op `f` has a synchronous form and a Promise form `fAsync` (same arguments, runs off the
 * main thread, bit-identical results). Ops run where their inputs live (CPU or CUDA).
 */
export { MmprefError, ERROR_CODES, type ErrorCode } from './errors';
export {
  DTYPES,
  FLOAT_DTYPES,
  type DType,
  type FloatDType,
  type StorageOf,
  halfBitsToNumber,
  numberToHalfBits,
  bf16BitsToNumber,
  numberToBf16Bits,
} from './dtype';
export {
  Tensor,
  tensor,
  empty,
  zeros,
  full,
  fromOrt,
  type TensorLike,
  type TensorOptions,
  type EmptyOptions,
  type OrtTensorLike,
  type TensorData,
  type DeviceSpec,
  type DeviceKind,
} from './tensor';
export {
  backend,
  numThreads,
  setNumThreads,
  cudaAvailable,
  cudaMemoryInfo,
  emptyCudaCache,
  type BackendReport,
  type CudaDevice,
  type CudaMemoryInfo,
} from './backend';
export type { Seed, StreamOptions } from './op_args';
// every option / result type of the namespaces, also at the top level: import type { DpoLossType } from 'mmpref'
export type { AddOptions, ElementwiseOptions, LinearOptions, LogSumExpOptions, PermuteOptions, RmsNormOptions, RotaryOptions } from './api/ops';
export type { RmsNormBackwardOptions, RmsNormGrads, RotaryBackwardOptions, SwigluBackwardOptions, SwigluGrads } from './api/ops';
export type { EmbeddingBackwardOptions, GeluApproximation, GeluOptions } from './api/ops';
export type { CrossEntropyNoneResult, CrossEntropyOptions, CrossEntropyResult } from './api/ops';
export type { LinearBackwardOptions, LinearBackwardResult } from './api/ops';
export type {
  DpoLossInputs,
  DpoLossOptions,
  DpoLossResult,
  DpoLossType,
  DpoStepInputs,
  DpoStepOptions,
  DpoStepResult,
  LogpsBackwardOptions,
  LogpsRowOptions,
  SequenceLogpsOptions,
  SequenceLogpsResult,
} from './api/dpo';
export type { LinearChunkOptions, LinearLogpsOptions, LinearStepInputs, LinearStepOptions, LinearStepResult } from './api/dpo';
export type { LinearCrossEntropyOptions, LinearCrossEntropyResult } from './api/ops';
export type {
  DiffuseOptions,
  DiffuseResult,
  NeftuneOptions,
  NeftuneResult,
  NoiseSchedule,
  Normalize,
  PredictionLossOptions,
  PredictionLossResult,
  ScheduleName,
  ScheduleOptions,
  ScheduleSpec,
  TokenScaleMode,
  TokenSpan,
  VisualTokensOptions,
  VisualTokensResult,
} from './api/noise';
export type { BitsOptions, NormalOptions, RandomOptions, UniformOptions } from './api/random';
export type {
  ImageKeyMaskOptions,
  ImageSpans,
  KVCacheAttendOptions,
  KVCacheOptions,
  MaskedAttentionOptions,
  MaskedAttentionResult,
  MaskedAttentionBackwardOptions,
  MaskedAttentionGrads,
} from './api/attention';
export type { ContrastiveOptions, SampleOptions, SampleResult } from './api/sampling';
export type { CosineOptions, FilterOptions, MeanPoolNormalizeOptions } from './api/similarity';
export type {
  ForwardOptions,
  ForwardResult,
  GenerateEvents,
  GenerateOptions,
  GenerateResult,
  ImageMaskOptions,
  LlamaConfig,
  LlamaInitOptions,
  LlamaLayer,
  LlamaLoadOptions,
  TrainBatch,
  TrainForwardOptions,
  TrainForwardResult,
  TrainNoiseOptions,
  BackwardOptions,
  BackwardResult,
  LlamaSaveOptions,
  LlavaProjector,
  LoadProgress,
  LoraOptions,
  LoraTarget,
  ResolvedLlamaConfig,
  SafetensorsDirOptions,
  SafetensorsEntry,
  SafetensorsHeader,
  SafetensorsReadOptions,
  SafetensorsWriteOptions,
} from './api/models';
export * as ops from './api/ops';
export * as dpo from './api/dpo';
export * as noise from './api/noise';
export * as random from './api/random';
export * as attention from './api/attention';
export * as sampling from './api/sampling';
export * as similarity from './api/similarity';
export * as models from './api/models';
export type { AdamwOptions, AdamwState, AdamwStateOptions, ClipGradNormOptions } from './api/optim';
export * as optim from './api/optim';
export type { AdamWOptions, AdamWStepResult, DpoStepBatch, DpoStepMetrics, DpoStepOptions as TrainDpoStepOptions, SftStepOptions, StepBatch, StepMetrics } from './api/train';
export * as train from './api/train';
export type { BadRecordMode, DeemBatch, DeemEvents, DeemModule, DeemOptions, DeemResult, DeemStepEvent, DeemStepOptions, DeemStepResult, TinyDeem, TinyDeemOptions, BpoGenerateOptions, BpoOptions, BdhsGenerateOptions, BdhsGenerateResult, BdhsOptions, JsonlOptions, LrSchedule, LrScheduleType, NoiseBoostOptions, NoiseBoostStage, PreferenceRecord, RecordSource, ResolvedSchedule, RunEvents, RunResult, Series, StepEvent, TrainerState, TrainEvents, TrainKind, TrainOptions, TrainResult } from './api/recipes';
export type { BpoDatasetOptions, BpoErrorInjectionOptions, EncodedImage, BpoGenerator, BpoSample, LoadTokenizerOptions, Tokenizer } from './api/recipes';
export * as recipes from './api/recipes';

/** Namespace `models`: a small LLaMA-style decoder, Hugging Face checkpoints and LoRA, generate() (BDHS masked-attention sampling), safetensors files. */
export {
  LlamaModel,
  type LlamaConfig,
  type ResolvedLlamaConfig,
  type LlamaInitOptions,
  type LlamaLayer,
  type LlavaProjector,
  type ForwardOptions,
  type ForwardResult,
} from '../models/llama';
export {
  SavedActivations,
  trainableNames,
  type TrainBatch,
  type TrainForwardOptions,
  type TrainForwardResult,
  type TrainNoiseOptions,
  type BackwardOptions,
  type BackwardResult,
} from '../models/train';
export { type LlamaLoadOptions, type LlamaSaveOptions } from '../models/checkpoint';
export { LORA_TARGETS, type LoraOptions, type LoraTarget } from '../models/lora';
export { generate, GenerateRun, type GenerateOptions, type GenerateResult, type GenerateEvents, type ImageMaskOptions } from '../models/generate';
export {
  loadSafetensors,
  saveSafetensors,
  saveSafetensorsDir,
  readSafetensorsHeader,
  type SafetensorsHeader,
  type SafetensorsEntry,
  type SafetensorsReadOptions,
  type SafetensorsWriteOptions,
  type SafetensorsDirOptions,
  type LoadProgress,
} from '../io/safetensors';

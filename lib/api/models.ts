/** Namespace `models`: a small LLaMA-style decoder and generate() (BDHS masked-attention sampling). */
export {
  LlamaModel,
  type LlamaConfig,
  type ResolvedLlamaConfig,
  type LlamaInitOptions,
  type LlamaLayer,
  type ForwardOptions,
  type ForwardResult,
} from '../models/llama';
export { generate, GenerateRun, type GenerateOptions, type GenerateResult, type GenerateEvents, type ImageMaskOptions } from '../models/generate';

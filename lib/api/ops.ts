/** General tensor ops (namespace `ops`). */
export { logSumExp, logSumExpAsync, type LogSumExpOptions } from '../ops/log_sum_exp';
export {
  rmsNorm,
  rmsNormAsync,
  rotary,
  rotaryAsync,
  swiglu,
  swigluAsync,
  add,
  addAsync,
  embedding,
  embeddingAsync,
  type RmsNormOptions,
  type RotaryOptions,
  type ElementwiseOptions,
  type AddOptions,
} from '../ops/decoder_ops';
export { permute, permuteAsync, type PermuteOptions } from '../ops/permute';
export { linear, linearAsync, type LinearOptions } from '../ops/linear';

/** General tensor ops (namespace `ops`). */
export { logSumExp, logSumExpAsync, type LogSumExpOptions } from '../ops/log_sum_exp';
export { rmsNorm, rmsNormAsync, type RmsNormOptions } from '../ops/rms_norm';
export { rotary, rotaryAsync, type RotaryOptions } from '../ops/rotary';
export { swiglu, swigluAsync, type ElementwiseOptions } from '../ops/swiglu';
export { add, addAsync, type AddOptions } from '../ops/add';
export { embedding, embeddingAsync } from '../ops/embedding';
export { permute, permuteAsync, type PermuteOptions } from '../ops/permute';
export { linear, linearAsync, type LinearOptions } from '../ops/linear';
export { embeddingBackward, embeddingBackwardAsync, type EmbeddingBackwardOptions } from '../ops/embedding';
export { gelu, geluAsync, geluBackward, geluBackwardAsync, type GeluOptions, type GeluApproximation } from '../ops/gelu';

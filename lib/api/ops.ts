/** General tensor ops (namespace `ops`). */
export { logSumExp, logSumExpAsync, type LogSumExpOptions } from '../ops/log_sum_exp';
export { rmsNorm, rmsNormAsync, type RmsNormOptions } from '../ops/rms_norm';
export { rotary, rotaryAsync, type RotaryOptions } from '../ops/rotary';
export { swiglu, swigluAsync, type ElementwiseOptions } from '../ops/swiglu';
export { add, addAsync, type AddOptions } from '../ops/add';
export { embedding, embeddingAsync } from '../ops/embedding';
export { permute, permuteAsync, type PermuteOptions } from '../ops/permute';
export { linear, linearAsync, type LinearOptions } from '../ops/linear';
export { rmsNormBackward, rmsNormBackwardAsync, type RmsNormBackwardOptions, type RmsNormGrads } from '../ops/rms_norm';
export { rotaryBackward, rotaryBackwardAsync, type RotaryBackwardOptions } from '../ops/rotary';
export { swigluBackward, swigluBackwardAsync, type SwigluBackwardOptions, type SwigluGrads } from '../ops/swiglu';
export { linearBackward, linearBackwardAsync, type LinearBackwardOptions, type LinearBackwardResult } from '../ops/linear';
export { crossEntropy, crossEntropyAsync, type CrossEntropyOptions, type CrossEntropyResult, type CrossEntropyNoneResult } from '../ops/cross_entropy';
export { linearCrossEntropy, linearCrossEntropyAsync, type LinearCrossEntropyOptions, type LinearCrossEntropyResult } from '../ops/linear_logps';
export { embeddingBackward, embeddingBackwardAsync, type EmbeddingBackwardOptions } from '../ops/embedding';
export { gelu, geluAsync, geluBackward, geluBackwardAsync, type GeluOptions, type GeluApproximation } from '../ops/gelu';

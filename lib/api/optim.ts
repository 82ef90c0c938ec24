/**
 * Namespace `optim`: PyTorch's AdamW and gradient-norm clipping over lists of tensors, updating
 * parameters, optimiser state and gradients in place.
 */
export { adamw, adamwAsync, adamwState, type AdamwOptions, type AdamwState, type AdamwStateOptions } from '../ops/adamw';
export { clipGradNorm, clipGradNormAsync, type ClipGradNormOptions } from '../ops/clip_grad_norm';

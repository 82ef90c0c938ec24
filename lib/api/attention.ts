/**
 * Namespace `attention`: masked multi-head attention for BDHS sampling (image keys blocked in
 * every layer and decode step), the image-key mask itself, and a preallocated KV cache.
 */
export {
  masked,
  maskedAsync,
  maskedBackward,
  maskedBackwardAsync,
  MAX_HEAD_DIM,
  type MaskedAttentionOptions,
  type MaskedAttentionResult,
  type MaskedAttentionBackwardOptions,
  type MaskedAttentionGrads,
} from '../ops/attention_masked';
export { imageKeyMask, imageKeyMaskAsync, type ImageKeyMaskOptions, type ImageSpans } from '../ops/image_key_mask';
export { KVCache, type KVCacheOptions, type KVCacheAttendOptions } from '../ops/kv_cache';

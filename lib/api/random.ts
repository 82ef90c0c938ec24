/**
 * Namespace `random`: tensors from the counter-based Philox4x32-10 stream named by (seed, offset).
 * Element i of a stream is the same on every device and thread count; CPU and CUDA give the same
 * bits. The word/element convention is documented in docs/noise.md and native/cpp/core/normal.h.
 */
export {
  normal,
  normalAsync,
  uniform,
  uniformAsync,
  bits,
  bitsAsync,
  type RandomOptions,
  type NormalOptions,
  type UniformOptions,
  type BitsOptions,
} from '../ops/random_fill';
export type { Seed, StreamOptions } from '../op_args';

/**
 * attention.imageKeyMask: the BDHS image-key mask (docs/methods.md) as a bool [B, L] tensor, true
 * where a key may be attended. Each image key (a position inside one of its row's spans) is
 * blocked independently with probability `maskRatio`; keys outside the spans are never blocked.
 *
 * Randomness: key p of batch row b is decided by word b * 2^32 + p of the Philox4x32-10 stream
 * (seed, offset), i.e. word p mod 4 of block b * 2^30 + floor(p / 4) (core/philox.h): blocked iff
 * (word >> 8) * 2^-24 < maskRatio. The draw depends on (seed, offset, b, p) only, so the mask is
 * the same for every head and layer, for any length L, and for the prefill and every decode step.
 */
import { describe, empty, parseDevice, tensor, type DeviceSpec, type Tensor, type TensorLike } from '../tensor';
import { fail } from '../errors';
import type { NativeFn } from '../op_decl';
import { prepared, syncAsync } from '../op_call';
import { IMAGE_KEY_MASK } from './image_key_mask.args';
import { checkOptions, expectShape, numberOpt, outputTensor, seedOpt, tensorArg } from '../validate';

declare module '../native' {
  interface NativeAddon {
    imageKeyMask: NativeFn<typeof IMAGE_KEY_MASK>;
  }
}

/**
 * Image token positions per batch row: `spans[b]` lists `[start, length]` pairs (several spans
 * for tiled images). Spans lie inside the sequence and do not overlap within a row.
 */
export type ImageSpans = ReadonlyArray<ReadonlyArray<readonly [start: number, length: number] | readonly number[]>>;

export interface ImageKeyMaskOptions {
  /** Probability that an image key is blocked, in [0, 1] (0 keeps all, 1 blocks all; BDHS uses 0.99). Default 1. */
  maskRatio?: number;
  /** Philox seed: a non-negative safe integer or a bigint below 2^64. Default 0. */
  seed?: number | bigint;
  /** Philox offset (stream index): a non-negative safe integer or a bigint below 2^64. Default 0. */
  offset?: number | bigint;
  /** Mask length L (keys per row), >= every span end. Default: keyMask's length, else the largest span end. */
  length?: number;
  /** A bool/uint8 [B, L] mask (true = may attend, e.g. padding) combined by AND with the image mask. */
  keyMask?: TensorLike;
  /** Device of the result when neither keyMask nor out fixes it: 'cpu' (default), 'cuda' or 'cuda:N'. */
  device?: DeviceSpec;
  /** Write into this bool [B, L] tensor instead of a new one. */
  out?: Tensor<'bool'>;
}

const OP = 'attention.imageKeyMask';
export const KEY_MASK_DTYPES = ['bool', 'uint8'] as const;

/**
 * Validates `imageSpans` against a batch size and a sequence length and packs them as an int32
 * [S, 3] CPU tensor of (row, start, length), the native layout. Errors: ERR_ARGUMENT (not an
 * array of [start, length] integer pairs), ERR_SHAPE (wrong number of rows), ERR_RANGE (outside
 * [0, length), negative, overlapping).
 */
export function packSpans(op: string, spans: unknown, batch: number, length: number, lengthName = 'the sequence length'): Tensor<'int32'> {
  if (!Array.isArray(spans)) fail('ERR_ARGUMENT', op, `expected imageSpans to be an array (one list of [start, length] pairs per batch row) but received ${describe(spans)}`);
  if (spans.length !== batch) fail('ERR_SHAPE', op, `expected imageSpans with ${batch} rows (the batch size) but received ${spans.length}`);
  const flat: number[] = [];
  spans.forEach((row: unknown, b) => {
    if (!Array.isArray(row)) fail('ERR_ARGUMENT', op, `expected imageSpans[${b}] to be an array of [start, length] pairs but received ${describe(row)}`);
    const seen: [number, number][] = [];
    row.forEach((pair: unknown, s) => {
      if (!Array.isArray(pair) || pair.length !== 2 || !pair.every((x) => typeof x === 'number' && Number.isInteger(x)))
        fail('ERR_ARGUMENT', op, `expected imageSpans[${b}][${s}] to be a [start, length] pair of integers but received ${Array.isArray(pair) ? `[${pair.join(', ')}]` : describe(pair)}`);
      const [start, len] = pair as [number, number];
      if (start < 0 || len < 0 || start + len > length)
        fail('ERR_RANGE', op, `expected imageSpans[${b}][${s}] = [${start}, ${len}] inside [0, ${length}) (${lengthName}) with a non-negative start and length`);
      for (const [s0, l0] of seen)
        if (len > 0 && l0 > 0 && start < s0 + l0 && s0 < start + len)
          fail('ERR_RANGE', op, `expected non-overlapping imageSpans but row ${b} has [${s0}, ${l0}] and [${start}, ${len}]`);
      seen.push([start, len]);
      flat.push(b, start, len);
    });
  });
  return tensor(Int32Array.from(flat), [flat.length / 3, 3], { dtype: 'int32' });
}

/** Largest span end (0 without spans); for a default mask length. Assumes packSpans-valid input shape. */
function maxSpanEnd(spans: unknown): number {
  let end = 0;
  if (Array.isArray(spans))
    for (const row of spans)
      if (Array.isArray(row))
        for (const p of row) if (Array.isArray(p) && typeof p[0] === 'number' && typeof p[1] === 'number') end = Math.max(end, p[0] + p[1]);
  return end;
}

/** maskRatio option: a number in [0, 1] (ERR_RANGE outside). */
export function maskRatioOpt(op: string, v: unknown): number {
  return numberOpt(op, 'maskRatio', v, 1, { min: 0, max: 1 });
}

function prepare(imageSpans: ImageSpans, options?: ImageKeyMaskOptions) {
  const o = checkOptions(OP, options, ['maskRatio', 'seed', 'offset', 'length', 'keyMask', 'device', 'out']);
  // defaults and options
  if (!Array.isArray(imageSpans))
    fail('ERR_ARGUMENT', OP, `expected imageSpans to be an array (one list of [start, length] pairs per batch row) but received ${describe(imageSpans)}`);
  const ratio = maskRatioOpt(OP, o.maskRatio);
  const seed = seedOpt(OP, 'seed', o.seed, 0);
  const offset = seedOpt(OP, 'offset', o.offset, 0);
  const keyMask = o.keyMask === undefined ? null : tensorArg(OP, 'keyMask', o.keyMask, KEY_MASK_DTYPES, 2);
  const batch = imageSpans.length;
  const length = numberOpt(OP, 'length', o.length, keyMask ? keyMask.shape[1]! : maxSpanEnd(imageSpans), { integer: true, min: 0, max: 2 ** 32 });
  const device = o.device === undefined ? undefined : parseDevice(o.device, OP);
  // combinations
  if (keyMask) expectShape(OP, 'keyMask', keyMask, [batch, length], 'imageSpans rows x length');
  const spans = packSpans(OP, imageSpans, batch, length, 'length');
  const shape = [batch, length];
  let out: Tensor<'bool'>;
  if (o.out !== undefined) out = outputTensor(OP, o.out, shape, 'bool', keyMask ?? tensorArg(OP, 'out', o.out, ['bool']));
  else if (keyMask) out = outputTensor(OP, undefined, shape, 'bool', keyMask);
  else out = empty(shape, 'bool', { device: device === undefined || device < 0 ? 'cpu' : `cuda:${device}` });
  if (device !== undefined && device !== out._device)
    fail('ERR_DEVICE', OP, `expected device ${o.device} to match ${keyMask ? 'keyMask' : 'out'} but received ${out.device === 'cpu' ? 'cpu' : `cuda:${out._device}`}`);
  return prepared(IMAGE_KEY_MASK, { spans, keyMask, out, maskRatio: ratio, seed, offset }, out);
}

/**
 * The BDHS key mask, bool [B, L] (true = may attend), B = imageSpans.length. Pass it as
 * `keyMask` to {@link masked} for every layer and decode step of one generation.
 *
 * @example
 *   const keep = attention.imageKeyMask([[[5, 576]], [[3, 576]]], { maskRatio: 0.99, seed: 7, length: 1024 });
 */
export const [imageKeyMask, imageKeyMaskAsync] = syncAsync(prepare);

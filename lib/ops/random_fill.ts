/**
 * random.normal / random.uniform / random.bits: tensors filled from the counter-based Philox4x32-10
 * stream named by (seed, offset); output element j is stream element i = start + j. Element i
 * always gets the same value, whatever the shape, the device (CPU and CUDA give the same integer
 * bits and the same float bits), the thread count or the launch shape. A stream has 2^64 blocks
 * of 4 words (2^66 elements; indices wrap):
 *   bits     word i of the stream (uint32 bits, stored in an int32 tensor)
 *   uniform  low + (high - low) * u_i,  u_i = (word_i >> 8) * 2^-24 in [0, 1)
 *   normal   mean + std * z_i, z_i by Box-Muller from block i / 4: words (0, 1) give elements
 *            4k, 4k + 1 and words (2, 3) give 4k + 2, 4k + 3 (u = (w_a >> 1) 2^-31 + 2^-32,
 *            r = sqrt(-2 ln u), theta = 2 pi (w_b >> 8) 2^-24; |z| <= 6.66)
 * computed in float32 and rounded once to the dtype. See native/cpp/core/normal.h.
 */
import { FLOAT_DTYPES, type FloatDType } from '../dtype';
import { fail } from '../errors';
import { type DeviceSpec, type Tensor, describe, empty, parseDevice } from '../tensor';
import { checkOptions, expectShape, numberOpt, tensorArg } from '../validate';
import type { NativeFn } from '../op_decl';
import { prepared, syncAsync } from '../op_call';
import { RANDOM_FILL } from './random_fill.args';
import { type Seed, type StreamOptions, resolveStream } from '../op_args';

declare module '../native' {
  interface NativeAddon {
    randomFill: NativeFn<typeof RANDOM_FILL>;
  }
}

export interface StartOption {
  /** Index of the stream element that becomes output element 0 (regenerate a slice of a stream): a non-negative safe integer or a bigint below 2^66; default 0. */
  start?: Seed;
}

export interface RandomOptions<D extends FloatDType = FloatDType> extends StreamOptions, StartOption {
  /** Output dtype: 'float32' (default), 'float16' or 'bfloat16'. */
  dtype?: D;
  /** 'cpu' (default), 'cuda' or 'cuda:N'. */
  device?: DeviceSpec;
  /** Write into this tensor (its shape must equal `shape`; its dtype and device are used). */
  out?: Tensor;
}

export interface NormalOptions<D extends FloatDType = FloatDType> extends RandomOptions<D> {
  /** Mean of the distribution; finite, default 0. */
  mean?: number;
  /** Standard deviation; finite and >= 0, default 1. */
  std?: number;
}

export interface UniformOptions<D extends FloatDType = FloatDType> extends RandomOptions<D> {
  /** Lower bound (inclusive); finite, default 0. */
  low?: number;
  /** Upper bound (exclusive before rounding to the dtype); finite and >= low, default 1. */
  high?: number;
}

export interface BitsOptions extends StreamOptions, StartOption {
  /** 'cpu' (default), 'cuda' or 'cuda:N'. */
  device?: DeviceSpec;
  /** Write into this int32 tensor (its shape must equal `shape`). */
  out?: Tensor<'int32'>;
}

const KIND = { bits: 0, uniform: 1, normal: 2 } as const;
const FLOAT_MAX = 3.4028234663852886e38;

/** The `start` option as (block, word in block). */
function startOpt(op: string, v: unknown): { startBlock: Seed; startSkip: number } {
  if (v === undefined) return { startBlock: 0, startSkip: 0 };
  if (typeof v === 'bigint') {
    if (v < 0n || v >= 1n << 66n) fail('ERR_RANGE', op, `expected start in [0, 2^66) but received ${v}`);
    return { startBlock: v >> 2n, startSkip: Number(v & 3n) };
  }
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0)
    fail(typeof v === 'number' ? 'ERR_RANGE' : 'ERR_ARGUMENT', op, `expected start to be a non-negative safe integer or a bigint but received ${describe(v)}`);
  return { startBlock: Math.floor(v / 4), startSkip: v % 4 };
}

function outFor(op: string, shape: readonly number[], out: unknown, dtype: FloatDType | 'int32' | undefined, device: DeviceSpec | undefined): Tensor {
  if (out === undefined) return empty(shape, dtype ?? 'float32', { device: device ?? 'cpu' });
  const t = tensorArg(op, 'out', out, dtype ? [dtype] : FLOAT_DTYPES);
  expectShape(op, 'out', t, shape);
  if (device !== undefined && parseDevice(device, op) !== t._device)
    fail('ERR_DEVICE', op, `expected out on ${device} but received ${t._device < 0 ? 'cpu' : `cuda:${t._device}`}`);
  return t;
}

function dtypeOpt(op: string, v: unknown): FloatDType | undefined {
  if (v === undefined) return undefined;
  if (!(FLOAT_DTYPES as readonly unknown[]).includes(v)) fail('ERR_DTYPE', op, `expected dtype 'float32', 'float16' or 'bfloat16' but received ${describe(v)}`);
  return v as FloatDType;
}

function checkShapeArg(op: string, shape: unknown): readonly number[] {
  if (!Array.isArray(shape)) fail('ERR_SHAPE', op, `expected a shape array but received ${typeof shape}`);
  return shape as number[];
}

function prepareNormal(shape: readonly number[], options?: NormalOptions<FloatDType>) {
  const op = 'random.normal';
  const o = checkOptions(op, options, ['seed', 'offset', 'dtype', 'device', 'out', 'mean', 'std', 'start']);
  const dtype = dtypeOpt(op, o.dtype);
  const mean = numberOpt(op, 'mean', o.mean, 0, { min: -FLOAT_MAX, max: FLOAT_MAX });
  const std = numberOpt(op, 'std', o.std, 1, { min: 0, max: FLOAT_MAX });
  const s = resolveStream(op, o);
  const out = outFor(op, checkShapeArg(op, shape), o.out, dtype, o.device);
  return fill(out, KIND.normal, mean, std, s, startOpt(op, o.start));
}

function prepareUniform(shape: readonly number[], options?: UniformOptions<FloatDType>) {
  const op = 'random.uniform';
  const o = checkOptions(op, options, ['seed', 'offset', 'dtype', 'device', 'out', 'low', 'high', 'start']);
  const dtype = dtypeOpt(op, o.dtype);
  const low = numberOpt(op, 'low', o.low, 0, { min: -FLOAT_MAX, max: FLOAT_MAX });
  const high = numberOpt(op, 'high', o.high, 1, { min: -FLOAT_MAX, max: FLOAT_MAX });
  if (!(high >= low)) fail('ERR_RANGE', op, `expected high >= low but received low ${low}, high ${high}`);
  if (!Number.isFinite(Math.fround(high - low))) fail('ERR_RANGE', op, `expected high - low within float32 range but received ${high - low}`);
  const s = resolveStream(op, o);
  const out = outFor(op, checkShapeArg(op, shape), o.out, dtype, o.device);
  return fill(out, KIND.uniform, low, high - low, s, startOpt(op, o.start));
}

function prepareBits(shape: readonly number[], options?: BitsOptions) {
  const op = 'random.bits';
  const o = checkOptions(op, options, ['seed', 'offset', 'device', 'out', 'start']);
  const s = resolveStream(op, o);
  const out = outFor(op, checkShapeArg(op, shape), o.out, 'int32', o.device);
  return fill(out, KIND.bits, 0, 1, s, startOpt(op, o.start));
}

/** out filled with a + b * (element of `kind`) of the stream; a and b's ranges are declared (random_fill.args.ts). */
function fill(out: Tensor, kind: number, a: number, b: number, s: { seed: Seed; offset: Seed }, start: { startBlock: Seed; startSkip: number }) {
  return prepared(RANDOM_FILL, { out, kind, a, b, ...s, ...start }, out);
}

/** Standard normal samples (mean + std * N(0, 1)) of `shape`: element i is normal i of stream (seed, offset). */
export const [normal, normalAsync] = syncAsync(prepareNormal) as [
  <D extends FloatDType = 'float32'>(shape: readonly number[], options?: NormalOptions<D>) => Tensor<D>,
  <D extends FloatDType = 'float32'>(shape: readonly number[], options?: NormalOptions<D>) => Promise<Tensor<D>>,
];

/** Uniform samples in [low, high) of `shape`: element i uses word i of stream (seed, offset). */
export const [uniform, uniformAsync] = syncAsync(prepareUniform) as [
  <D extends FloatDType = 'float32'>(shape: readonly number[], options?: UniformOptions<D>) => Tensor<D>,
  <D extends FloatDType = 'float32'>(shape: readonly number[], options?: UniformOptions<D>) => Promise<Tensor<D>>,
];

/** The raw Philox words of stream (seed, offset): element i = word i (block i / 4, word i % 4), as int32 bits. */
export const [bits, bitsAsync] = syncAsync(prepareBits) as [(shape: readonly number[], options?: BitsOptions) => Tensor<'int32'>, (shape: readonly number[], options?: BitsOptions) => Promise<Tensor<'int32'>>];

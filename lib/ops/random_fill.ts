/**
 * random.normal / random.uniform / random.bits: tensors filled from the counter-based Philox4x32-10
 * stream named by (seed, offset). Element i always gets the same value, whatever the shape, the
 * device (CPU and CUDA give the same integer bits and the same float bits), the thread count or
 * the launch shape:
 *   bits     word i of the stream (uint32 bits, stored in an int32 tensor)
 *   uniform  low + (high - low) * u_i,  u_i = (word_i >> 8) * 2^-24 in [0, 1)
 *   normal   mean + std * z_i, z_i by Box-Muller from block i / 4: words (0, 1) give elements
 *            4k, 4k + 1 and words (2, 3) give 4k + 2, 4k + 3 (u = (w_a >> 1) 2^-31 + 2^-32,
 *            r = sqrt(-2 ln u), theta = 2 pi (w_b >> 8) 2^-24; |z| <= 6.66)
 * computed in float32 and rounded once to the dtype. See native/cpp/core/normal.h.
 */
import { FLOAT_DTYPES, type FloatDType } from '../dtype';
import { fail } from '../errors';
import { native, withCallerStack } from '../native';
import { type DeviceSpec, type Tensor, empty, parseDevice } from '../tensor';
import { checkOptions, enumOpt, expectShape, numberOpt, tensorArg } from '../validate';
import { type Seed, type StreamOptions, resolveStream } from '../random_args';

declare module '../native' {
  interface NativeAddon {
    randomFill(out: Tensor, kind: number, a: number, b: number, seed: Seed, offset: Seed, async: false): void;
    randomFill(out: Tensor, kind: number, a: number, b: number, seed: Seed, offset: Seed, async: true): Promise<void>;
  }
}

export interface RandomOptions extends StreamOptions {
  /** Output dtype: 'float32' (default), 'float16' or 'bfloat16'. */
  dtype?: FloatDType;
  /** 'cpu' (default), 'cuda' or 'cuda:N'. */
  device?: DeviceSpec;
  /** Write into this tensor (its shape must equal `shape`; its dtype and device are used). */
  out?: Tensor;
}

export interface NormalOptions extends RandomOptions {
  /** Mean of the distribution; finite, default 0. */
  mean?: number;
  /** Standard deviation; finite and >= 0, default 1. */
  std?: number;
}

export interface UniformOptions extends RandomOptions {
  /** Lower bound (inclusive); finite, default 0. */
  low?: number;
  /** Upper bound (exclusive before rounding to the dtype); finite and >= low, default 1. */
  high?: number;
}

export interface BitsOptions extends StreamOptions {
  /** 'cpu' (default), 'cuda' or 'cuda:N'. */
  device?: DeviceSpec;
  /** Write into this int32 tensor (its shape must equal `shape`). */
  out?: Tensor<'int32'>;
}

const KIND = { bits: 0, uniform: 1, normal: 2 } as const;
const FLOAT_MAX = 3.4028234663852886e38;

interface Prepared {
  out: Tensor;
  kind: number;
  a: number;
  b: number;
  seed: Seed;
  offset: Seed;
}

function outFor(op: string, shape: readonly number[], out: unknown, dtype: FloatDType | 'int32' | undefined, device: DeviceSpec | undefined): Tensor {
  if (out === undefined) return empty(shape, dtype ?? 'float32', { device: device ?? 'cpu' });
  const t = tensorArg(op, 'out', out, dtype ? [dtype] : FLOAT_DTYPES);
  expectShape(op, 'out', t, shape);
  if (device !== undefined && parseDevice(device, op) !== t._device)
    fail('ERR_DEVICE', op, `expected out on ${device} but received ${t._device < 0 ? 'cpu' : `cuda:${t._device}`}`);
  return t;
}

function checkShapeArg(op: string, shape: unknown): readonly number[] {
  if (!Array.isArray(shape)) fail('ERR_SHAPE', op, `expected a shape array but received ${typeof shape}`);
  return shape as number[];
}

function prepareNormal(shape: readonly number[], options?: NormalOptions): Prepared {
  const op = 'random.normal';
  const o = checkOptions(op, options, ['seed', 'offset', 'dtype', 'device', 'out', 'mean', 'std']);
  const dtype = o.dtype === undefined ? undefined : enumOpt(op, 'dtype', o.dtype, FLOAT_DTYPES, 'float32');
  const mean = numberOpt(op, 'mean', o.mean, 0, { min: -FLOAT_MAX, max: FLOAT_MAX });
  const std = numberOpt(op, 'std', o.std, 1, { min: 0, max: FLOAT_MAX });
  const s = resolveStream(op, o);
  const out = outFor(op, checkShapeArg(op, shape), o.out, dtype, o.device);
  return { out, kind: KIND.normal, a: mean, b: std, ...s };
}

function prepareUniform(shape: readonly number[], options?: UniformOptions): Prepared {
  const op = 'random.uniform';
  const o = checkOptions(op, options, ['seed', 'offset', 'dtype', 'device', 'out', 'low', 'high']);
  const dtype = o.dtype === undefined ? undefined : enumOpt(op, 'dtype', o.dtype, FLOAT_DTYPES, 'float32');
  const low = numberOpt(op, 'low', o.low, 0, { min: -FLOAT_MAX, max: FLOAT_MAX });
  const high = numberOpt(op, 'high', o.high, 1, { min: -FLOAT_MAX, max: FLOAT_MAX });
  if (!(high >= low)) fail('ERR_RANGE', op, `expected high >= low but received low ${low}, high ${high}`);
  if (!Number.isFinite(Math.fround(high - low))) fail('ERR_RANGE', op, `expected high - low within float32 range but received ${high - low}`);
  const s = resolveStream(op, o);
  const out = outFor(op, checkShapeArg(op, shape), o.out, dtype, o.device);
  return { out, kind: KIND.uniform, a: low, b: high - low, ...s };
}

function prepareBits(shape: readonly number[], options?: BitsOptions): Prepared {
  const op = 'random.bits';
  const o = checkOptions(op, options, ['seed', 'offset', 'device', 'out']);
  const s = resolveStream(op, o);
  const out = outFor(op, checkShapeArg(op, shape), o.out, 'int32', o.device);
  return { out, kind: KIND.bits, a: 0, b: 1, ...s };
}

function run(p: Prepared): Tensor {
  native.randomFill(p.out, p.kind, p.a, p.b, p.seed, p.offset, false);
  return p.out;
}

async function runAsync(p: Prepared, stack: string | undefined): Promise<Tensor> {
  await withCallerStack(native.randomFill(p.out, p.kind, p.a, p.b, p.seed, p.offset, true), stack);
  return p.out;
}

/** Standard normal samples (mean + std * N(0, 1)) of `shape`: element i is normal i of stream (seed, offset). */
export function normal(shape: readonly number[], options?: NormalOptions): Tensor {
  return run(prepareNormal(shape, options));
}

/** {@link normal} off the main thread; bit-identical results. */
export async function normalAsync(shape: readonly number[], options?: NormalOptions): Promise<Tensor> {
  const stack = new Error().stack;
  return runAsync(prepareNormal(shape, options), stack);
}

/** Uniform samples in [low, high) of `shape`: element i uses word i of stream (seed, offset). */
export function uniform(shape: readonly number[], options?: UniformOptions): Tensor {
  return run(prepareUniform(shape, options));
}

/** {@link uniform} off the main thread; bit-identical results. */
export async function uniformAsync(shape: readonly number[], options?: UniformOptions): Promise<Tensor> {
  const stack = new Error().stack;
  return runAsync(prepareUniform(shape, options), stack);
}

/** The raw Philox words of stream (seed, offset): element i = word i (block i / 4, word i % 4), as int32 bits. */
export function bits(shape: readonly number[], options?: BitsOptions): Tensor<'int32'> {
  return run(prepareBits(shape, options)) as Tensor<'int32'>;
}

/** {@link bits} off the main thread; bit-identical results. */
export async function bitsAsync(shape: readonly number[], options?: BitsOptions): Promise<Tensor<'int32'>> {
  const stack = new Error().stack;
  return (await runAsync(prepareBits(shape, options), stack)) as Tensor<'int32'>;
}

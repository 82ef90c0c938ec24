import { fail } from './errors';

/** Element types. float16 and bfloat16 are stored as their uint16 bit patterns. */
export const DTYPES = ['float32', 'float16', 'bfloat16', 'int32', 'int64', 'uint8', 'bool'] as const;
export type DType = (typeof DTYPES)[number];
export type FloatDType = 'float32' | 'float16' | 'bfloat16';
export const FLOAT_DTYPES: readonly FloatDType[] = ['float32', 'float16', 'bfloat16'];

/** The TypedArray that stores each dtype (zero-copy `.data`). */
export interface StorageMap {
  float32: Float32Array;
  float16: Uint16Array;
  bfloat16: Uint16Array;
  int32: Int32Array;
  int64: BigInt64Array;
  uint8: Uint8Array;
  bool: Uint8Array;
}
export type StorageOf<D extends DType> = StorageMap[D];
export type AnyStorage = StorageMap[DType];

/** Native dtype codes (native/cpp/core/dtype.h). */
export const DTYPE_CODES: Record<DType, number> = {
  float32: 0,
  float16: 1,
  bfloat16: 2,
  int32: 3,
  int64: 4,
  uint8: 5,
  bool: 6,
};

export const ITEM_SIZE: Record<DType, number> = {
  float32: 4,
  float16: 2,
  bfloat16: 2,
  int32: 4,
  int64: 8,
  uint8: 1,
  bool: 1,
};

type Ctor = { new (buf: ArrayBufferLike, off: number, len: number): AnyStorage; new (len: number): AnyStorage };
export const STORAGE_CTOR: Record<DType, Ctor> = {
  float32: Float32Array as unknown as Ctor,
  float16: Uint16Array as unknown as Ctor,
  bfloat16: Uint16Array as unknown as Ctor,
  int32: Int32Array as unknown as Ctor,
  int64: BigInt64Array as unknown as Ctor,
  uint8: Uint8Array as unknown as Ctor,
  bool: Uint8Array as unknown as Ctor,
};

export function isDType(v: unknown): v is DType {
  return typeof v === 'string' && (DTYPES as readonly string[]).includes(v);
}

// ---- float16 / bfloat16 <-> number (exact decode; encode rounds to nearest even via float32,
// bit-identical to native/cpp/core/half.h) -----------------------------------------------------
const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

export function halfBitsToNumber(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return sign * m * 2 ** -24;
  if (e === 31) return m ? NaN : sign * Infinity;
  return sign * (1 + m / 1024) * 2 ** (e - 15);
}

export function numberToHalfBits(x: number): number {
  f32[0] = x;
  let f = u32[0]!;
  const sign = (f >>> 16) & 0x8000;
  f &= 0x7fffffff;
  if (f >= 0x47800000) return sign | (f > 0x7f800000 ? 0x7e00 : 0x7c00);
  if (f < 0x38800000) {
    // denormal or zero: let float32 addition round (magic 0.5 = denorm_magic)
    u32[0] = f;
    f32[0] = Math.fround(f32[0]! + 0.5);
    return sign | (u32[0]! - 0x3f000000);
  }
  const mantOdd = (f >>> 13) & 1;
  return sign | ((f - (112 << 23) + 0xfff + mantOdd) >>> 13);
}

export function bf16BitsToNumber(b: number): number {
  u32[0] = (b & 0xffff) << 16;
  return f32[0]!;
}

export function numberToBf16Bits(x: number): number {
  f32[0] = x;
  const u = u32[0]!;
  if ((u & 0x7fffffff) > 0x7f800000) return ((u >>> 16) | 0x40) & 0xffff;
  return Math.floor((u + 0x7fff + ((u >>> 16) & 1)) / 65536) & 0xffff;
}

/** Inclusive value range of each integer dtype (bool takes any value: truthiness). */
const INT_RANGE: Partial<Record<DType, readonly [bigint, bigint]>> = {
  int32: [-(2n ** 31n), 2n ** 31n - 1n],
  int64: [-(2n ** 63n), 2n ** 63n - 1n],
  uint8: [0n, 255n],
};

/** ERR_RANGE unless every value is an integer the integer dtype holds (no wrapping, no truncation). */
function checkIntegers(dtype: DType, src: ArrayLike<number | bigint | boolean>, op: string): void {
  const r = INT_RANGE[dtype];
  if (!r) return;
  const lo = Number(r[0]), hi = Number(r[1]);
  for (let i = 0; i < src.length; i++) {
    const v = src[i];
    const ok =
      typeof v === 'bigint' ? v >= r[0] && v <= r[1] : typeof v === 'boolean' || (Number.isInteger(v) && (v as number) >= lo && (v as number) <= hi && (dtype !== 'int64' || Number.isSafeInteger(v)));
    if (!ok)
      fail('ERR_RANGE', op, `expected ${dtype} values (integers in [${r[0]}, ${r[1]}]) but element ${i} is ${typeof v === 'bigint' ? `${v}n` : String(v)}`);
  }
}

/**
 * Writes numbers into a storage array of `dtype` (encoding half types, BigInt for int64). Integer
 * dtypes take only integers they can hold (ERR_RANGE otherwise, never wrapped or truncated).
 */
export function encodeInto(dtype: DType, dst: AnyStorage, src: ArrayLike<number | bigint | boolean>, op = 'tensor'): void {
  const n = src.length;
  if (!(ArrayBuffer.isView(src) && (src as unknown as AnyStorage) instanceof STORAGE_CTOR[dtype])) checkIntegers(dtype, src, op);
  switch (dtype) {
    case 'float16':
      for (let i = 0; i < n; i++) (dst as Uint16Array)[i] = numberToHalfBits(Number(src[i]));
      return;
    case 'bfloat16':
      for (let i = 0; i < n; i++) (dst as Uint16Array)[i] = numberToBf16Bits(Number(src[i]));
      return;
    case 'int64':
      for (let i = 0; i < n; i++) {
        const v = src[i]!;
        (dst as BigInt64Array)[i] = typeof v === 'bigint' ? v : BigInt(Number(v));
      }
      return;
    case 'bool':
      for (let i = 0; i < n; i++) (dst as Uint8Array)[i] = src[i] ? 1 : 0;
      return;
    default:
      for (let i = 0; i < n; i++) (dst as Float32Array)[i] = Number(src[i]);
  }
}

/** Decodes a storage array of `dtype` into float32 values (a copy). */
export function decodeToFloat32(dtype: DType, src: AnyStorage): Float32Array {
  const n = src.length;
  const out = new Float32Array(n);
  switch (dtype) {
    case 'float16':
      for (let i = 0; i < n; i++) out[i] = halfBitsToNumber((src as Uint16Array)[i]!);
      break;
    case 'bfloat16':
      for (let i = 0; i < n; i++) out[i] = bf16BitsToNumber((src as Uint16Array)[i]!);
      break;
    case 'int64':
      for (let i = 0; i < n; i++) out[i] = Number((src as BigInt64Array)[i]!);
      break;
    default:
      out.set(src as Float32Array);
  }
  return out;
}

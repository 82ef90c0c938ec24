/**
 * Tensors: dense, contiguous, row-major. On the CPU `.data` is a zero-copy TypedArray view over an
 * ArrayBuffer or SharedArrayBuffer that native code reads and writes in place; on CUDA the memory
 * is a device allocation freed by dispose() or, failing that, by a finalizer when collected.
 */
import { inspect, type InspectOptionsStylized } from 'node:util';
import { cudaAvailable, cudaUnavailableReason } from './backend';
import {
  DTYPE_CODES,
  DTYPES,
  ITEM_SIZE,
  STORAGE_CTOR,
  decodeToFloat32,
  encodeInto,
  isDType,
  type AnyStorage,
  type DType,
  type StorageOf,
} from './dtype';
import { MmprefError, fail } from './errors';
import { native, type DeviceStore } from './native';

export type DeviceKind = 'cpu' | 'cuda';
/** 'cpu', 'cuda' (device 0) or 'cuda:N'. */
export type DeviceSpec = DeviceKind | `cuda:${number}`;

/** An onnxruntime-node style tensor: `{ type, data, dims }` (used without copying). */
export interface OrtTensorLike {
  type: string;
  data: ArrayBufferView | readonly unknown[];
  dims: readonly number[];
}

type NestedNumbers = number | boolean | bigint | readonly NestedNumbers[];
export type TensorData = ArrayBufferView | readonly NestedNumbers[];

export interface TensorOptions<D extends DType = DType> {
  /** Element type (default: from the data, float32 for plain numbers). */
  dtype?: D;
  /** 'cpu' (default), 'cuda' or 'cuda:N'. */
  device?: DeviceSpec;
  /** Back the data with a SharedArrayBuffer (copying it when it is not already shared). */
  shared?: boolean;
}

export interface EmptyOptions {
  /** Back the data with a SharedArrayBuffer (CPU only). */
  shared?: boolean;
  /** 'cpu' (default), 'cuda' or 'cuda:N'. */
  device?: DeviceSpec;
}

const OP = 'tensor';

export class Tensor<D extends DType = DType> {
  /** Dimensions, outermost first. */
  readonly shape: readonly number[];
  readonly dtype: D;
  /** @internal native dtype code */
  readonly _code: number;
  /** @internal -1 on the CPU, the CUDA device index otherwise */
  readonly _device: number;
  /** @internal TypedArray (CPU) or device memory handle (CUDA); undefined once disposed */
  _store: AnyStorage | DeviceStore | undefined;

  /** Use tensor(), empty(), zeros(), full() or fromOrt(). */
  private constructor(store: AnyStorage | DeviceStore, shape: readonly number[], dtype: D, device: number) {
    this._store = store;
    this.shape = Object.freeze([...shape]);
    this.dtype = dtype;
    this._code = DTYPE_CODES[dtype];
    this._device = device;
  }

  /** 'cpu' or 'cuda'. */
  get device(): DeviceKind {
    return this._device < 0 ? 'cpu' : 'cuda';
  }
  /** CUDA device index, -1 on the CPU. */
  get deviceIndex(): number {
    return this._device;
  }
  get ndim(): number {
    return this.shape.length;
  }
  /** Number of elements. */
  get numel(): number {
    return numelOf(this.shape);
  }
  get byteLength(): number {
    return this.numel * ITEM_SIZE[this.dtype];
  }
  get disposed(): boolean {
    return this._store === undefined;
  }
  /** True when the data lives in a SharedArrayBuffer. */
  get isShared(): boolean {
    const s = this._store;
    return this._device < 0 && s !== undefined && (s as AnyStorage).buffer instanceof SharedArrayBuffer;
  }

  /**
   * The zero-copy TypedArray view of a CPU tensor (Uint16Array bits for float16/bfloat16,
   * BigInt64Array for int64, Uint8Array for uint8/bool). Writes are seen by native code.
   */
  get data(): StorageOf<D> {
    const s = this._store;
    if (s === undefined) fail('ERR_DETACHED', 'Tensor.data', 'the tensor was disposed');
    if (this._device >= 0)
      fail('ERR_DEVICE', 'Tensor.data', `the tensor is on cuda:${this._device}; call .to('cpu') first`);
    hostStoreLive(s as AnyStorage, this.numel, 'Tensor.data');
    return s as StorageOf<D>;
  }

  /** Copies to `device` (returns this tensor when it is already there). */
  to(device: DeviceSpec): Tensor<D> {
    const dst = parseDevice(device, 'Tensor.to');
    if (dst === this._device) return this;
    const store = this.liveStore('Tensor.to');
    if (dst < 0) {
      const host = new STORAGE_CTOR[this.dtype](this.numel);
      native.copyDeviceToHost!(host, store as DeviceStore);
      return new Tensor(host, this.shape, this.dtype, -1);
    }
    const dev = allocDevice(dst, this.byteLength, 'Tensor.to');
    try {
      if (this._device < 0) native.copyHostToDevice!(dev, store as AnyStorage);
      else {
        // device -> device: stage through the host (multi-GPU copies are rare here)
        const host = new STORAGE_CTOR[this.dtype](this.numel);
        native.copyDeviceToHost!(host, store as DeviceStore);
        native.copyHostToDevice!(dev, host);
      }
    } catch (e) {
      native.deviceFree(dev);
      throw e;
    }
    return new Tensor(dev, this.shape, this.dtype, dst);
  }

  /**
   * Copies `src`'s values into this tensor, in place, and returns it: the same dtype and number of
   * elements (shapes may differ), any devices (host <-> CUDA, or between two CUDA tensors).
   * `src` is not modified; a host source that overlaps this tensor is copied as if through a buffer.
   */
  copyFrom(src: Tensor<D>): this {
    const op = 'Tensor.copyFrom';
    if (!(src instanceof Tensor)) fail('ERR_ARGUMENT', op, `expected src to be a Tensor but received ${src === null ? 'null' : typeof src}`);
    if (src.dtype !== this.dtype) fail('ERR_DTYPE', op, `expected src of dtype ${this.dtype} but received ${src.dtype}`);
    if (src.numel !== this.numel) fail('ERR_SHAPE', op, `expected src of ${this.numel} elements but received [${src.shape.join(', ')}] (${src.numel})`);
    const to = this.liveStore(op);
    const from = src.liveStore(op);
    const host = (s: AnyStorage | DeviceStore) => (s as Float32Array).subarray(0, this.numel);
    if (this._device < 0 && src._device < 0) host(to).set(host(from));
    else if (this._device < 0) native.copyDeviceToHost!(host(to), from as DeviceStore);
    else if (src._device < 0) native.copyHostToDevice!(to as DeviceStore, host(from));
    else if (src._device === this._device) native.copyDeviceToDevice!(to as DeviceStore, from as DeviceStore);
    else {
      const staged = new STORAGE_CTOR[this.dtype](this.numel); // between two devices: through the host
      native.copyDeviceToHost!(staged, from as DeviceStore);
      native.copyHostToDevice!(to as DeviceStore, staged);
    }
    return this;
  }

  /**
   * @internal `count` elements of `src` from `srcStart` into this tensor from `start` (same dtype
   * and device; ranges inside both; disjoint when src is this tensor). `count` zeros when src is null.
   */
  _copyRange(src: Tensor<D> | null, start: number, srcStart: number, count: number): void {
    const op = 'Tensor._copyRange';
    const inside = (t: Tensor, at: number) => Number.isInteger(at) && at >= 0 && Number.isInteger(count) && count >= 0 && at + count <= t.numel;
    if (!inside(this, start) || (src && !inside(src, srcStart))) fail('ERR_RANGE', op, `expected ranges inside the tensors but received ${count} elements at ${start} / ${srcStart}`);
    if (src && (src.dtype !== this.dtype || src._device !== this._device)) fail('ERR_ARGUMENT', op, 'expected src of the same dtype and device');
    const to = this.liveStore(op);
    const from = src?.liveStore(op);
    if (this._device < 0) {
      const dst = (to as Float32Array).subarray(start, start + count);
      if (from) dst.set((from as Float32Array).subarray(srcStart, srcStart + count));
      else if (this.dtype === 'int64') (dst as unknown as BigInt64Array).fill(0n);
      else dst.fill(0);
    } else {
      const size = ITEM_SIZE[this.dtype];
      if (from) native.copyDeviceToDevice!(to as DeviceStore, from as DeviceStore, start * size, srcStart * size, count * size);
      else native.deviceMemset!(to as DeviceStore, 0, start * size, count * size);
    }
  }

  /** A view with another shape over the same memory (same number of elements). */
  reshape(shape: readonly number[]): Tensor<D> {
    const s = checkShape(shape, 'Tensor.reshape');
    const inferred = s.indexOf(-1);
    if (inferred >= 0) {
      const rest = s.reduce((a, b, i) => (i === inferred ? a : a * b), 1);
      if (rest === 0 || this.numel % rest !== 0)
        fail('ERR_SHAPE', 'Tensor.reshape', `cannot infer -1 in [${s.join(', ')}] for ${this.numel} elements`);
      s[inferred] = this.numel / rest;
    }
    if (numelOf(s) !== this.numel)
      fail('ERR_SHAPE', 'Tensor.reshape', `expected a shape of ${this.numel} elements but received [${s.join(', ')}]`);
    return new Tensor(this.liveStore('Tensor.reshape'), s, this.dtype, this._device);
  }

  /** A deep copy on the same device. */
  clone(): Tensor<D> {
    const store = this.liveStore('Tensor.clone');
    if (this._device < 0) {
      const copy = new STORAGE_CTOR[this.dtype](this.numel);
      (copy as Float32Array).set(store as Float32Array);
      return new Tensor(copy, this.shape, this.dtype, -1);
    }
    const dev = allocDevice(this._device, this.byteLength, 'Tensor.clone');
    native.copyDeviceToDevice!(dev, store as DeviceStore);
    return new Tensor(dev, this.shape, this.dtype, this._device);
  }

  /** The values as float32 (decoding float16/bfloat16; copies from CUDA when needed). */
  toFloat32Array(): Float32Array {
    const t = this._device < 0 ? this : this.to('cpu');
    return decodeToFloat32(this.dtype, t.data as AnyStorage);
  }

  /** The values as a flat array of numbers (bigint for int64). */
  toArray(): D extends 'int64' ? bigint[] : number[] {
    const t = this._device < 0 ? this : this.to('cpu');
    if (this.dtype === 'int64') return Array.from(t.data as BigInt64Array) as never;
    return Array.from(t.toFloat32Array()) as never;
  }

  /**
   * Releases the memory now: CUDA memory is freed (once every running async op that uses it is
   * done); a CPU tensor drops its reference. Any later use is an ERR_DETACHED error.
   */
  dispose(): void {
    const s = this._store;
    if (s === undefined) return;
    this._store = undefined;
    if (this._device >= 0) native.deviceFree(s as DeviceStore);
  }

  toString(): string {
    return `Tensor(${this.dtype}, [${this.shape.join(', ')}], ${this._device < 0 ? 'cpu' : `cuda:${this._device}`})`;
  }

  /**
   * console.log / util.inspect: dtype, shape, device and the first few values, decoded (float16 and
   * bfloat16 as numbers, not bits). CUDA tensors of up to 4096 elements are copied to show values.
   */
  [inspect.custom](_depth: number, options: InspectOptionsStylized, inspectFn: typeof inspect = inspect): string {
    const head = this.toString();
    if (this._store === undefined) return `${head} ${options.stylize('<disposed>', 'special')}`;
    if (this._device >= 0 && this.numel > INSPECT_COPY_LIMIT) return `${head} ${options.stylize("<on the device: .to('cpu') to read>", 'special')}`;
    let host: Tensor<D>;
    try {
      host = this._device < 0 ? this : this.to('cpu');
    } catch (e) {
      return `${head} ${options.stylize(`<unreadable: ${(e as Error).message}>`, 'special')}`; // never throw from console.log
    }
    const n = Math.min(this.numel, INSPECT_VALUES);
    const store = host._store as AnyStorage;
    let values: (number | bigint | boolean)[];
    if (this.dtype === 'int64') values = Array.from((store as BigInt64Array).subarray(0, n));
    else if (this.dtype === 'bool') values = Array.from((store as Uint8Array).subarray(0, n), (v) => v !== 0);
    else if (this.dtype === 'float32' || this.dtype === 'float16' || this.dtype === 'bfloat16') {
      const digits = this.dtype === 'float32' ? 7 : 4;
      const raw = decodeToFloat32(this.dtype, (store as Float32Array | Uint16Array).subarray(0, n));
      values = Array.from(raw, (v) => (Number.isFinite(v) ? Number(v.toPrecision(digits)) : v));
    } else values = Array.from((store as Int32Array | Uint8Array).subarray(0, n)); // int32, uint8
    const more = this.numel - n;
    const items = values.map((v) => inspectFn(v, options));
    if (more > 0) items.push(`... ${more} more`);
    return `${head} [ ${items.join(', ')} ]`;
  }

  /** @internal */
  liveStore(op: string): AnyStorage | DeviceStore {
    if (this._store === undefined) fail('ERR_DETACHED', op, 'the tensor was disposed');
    if (this._device < 0) hostStoreLive(this._store as AnyStorage, this.numel, op);
    return this._store;
  }

  /** @internal wraps storage without checks (use tensor(), empty(), ...) */
  static _wrap<D extends DType>(store: AnyStorage | DeviceStore, shape: readonly number[], dtype: D, device: number): Tensor<D> {
    return new Tensor(store, shape, dtype, device);
  }
}

/** @internal Where a tensor is, as a device spec: 'cpu' or 'cuda:N' (to make tensors beside it). */
export function deviceOf(t: Tensor): 'cpu' | `cuda:${number}` {
  return t.device === 'cpu' ? 'cpu' : `cuda:${t.deviceIndex}`;
}

/** @internal `t` on `device`; when it had to be copied there, the original (the caller's own) is disposed. */
export function moveTo<T extends Tensor>(t: T, device: 'cpu' | `cuda:${number}`): T {
  const d = t.to(device) as T;
  if (d !== t) t.dispose();
  return d;
}

/** Values shown by util.inspect, and the largest CUDA tensor it copies to show them. */
const INSPECT_VALUES = 8;
const INSPECT_COPY_LIMIT = 4096;

// ---- helpers ----------------------------------------------------------------------------------

export function numelOf(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

function checkShape(shape: unknown, op: string): number[] {
  if (!Array.isArray(shape)) fail('ERR_SHAPE', op, `expected a shape array but received ${describe(shape)}`);
  if (shape.length > 8) fail('ERR_SHAPE', op, `at most 8 dimensions are supported, received ${shape.length}`);
  const out = shape.map((d) => d as number);
  for (const d of out)
    if (!(Number.isInteger(d) && (d >= 0 || d === -1)))
      fail('ERR_SHAPE', op, `expected non-negative integer dimensions but received [${shape.join(', ')}]`);
  if (out.filter((d) => d === -1).length > 1) fail('ERR_SHAPE', op, 'only one dimension may be -1');
  return out;
}

function checkConcreteShape(shape: unknown, op: string): number[] {
  const s = checkShape(shape, op);
  if (s.includes(-1)) fail('ERR_SHAPE', op, 'a shape with -1 is only allowed in reshape()');
  if (numelOf(s) > Number.MAX_SAFE_INTEGER) fail('ERR_SHAPE', op, 'too many elements');
  return s;
}

export function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return `an array of length ${v.length}`;
  if (ArrayBuffer.isView(v)) return `a ${v.constructor.name} of length ${(v as unknown as ArrayLike<unknown>).length}`;
  if (v instanceof Tensor) return v.toString();
  return typeof v === 'object' ? 'an object' : `${typeof v} ${String(v)}`;
}

/** Parses a device spec into -1 (CPU) or a CUDA index, checking that CUDA can be used. */
export function parseDevice(device: unknown, op: string): number {
  if (device === undefined || device === 'cpu') return -1;
  if (typeof device === 'string') {
    const m = /^cuda(?::(\d+))?$/.exec(device);
    if (m) {
      if (!cudaAvailable()) fail('ERR_DEVICE', op, `CUDA is not available: ${cudaUnavailableReason()}`);
      return m[1] === undefined ? 0 : Number(m[1]);
    }
  }
  return fail('ERR_DEVICE', op, `expected device 'cpu', 'cuda' or 'cuda:N' but received ${describe(device)}`);
}

function allocDevice(device: number, bytes: number, op: string): DeviceStore {
  if (!native.deviceAlloc) fail('ERR_DEVICE', op, 'this build of mmpref has no CUDA support');
  return native.deviceAlloc(device, bytes);
}

/** ERR_DETACHED when a host store no longer holds `numel` elements (its ArrayBuffer was transferred or shrunk). */
function hostStoreLive(s: AnyStorage, numel: number, op: string, name = 'the tensor'): void {
  if (s.length === numel) return;
  const whose = name === 'the tensor' ? "the tensor's" : `${name}'s`;
  if (isDetached(s.buffer)) fail('ERR_DETACHED', op, `expected ${whose} ArrayBuffer to be attached but received a detached (transferred) one`);
  fail('ERR_SHAPE', op, `expected ${whose} storage to hold ${numel} elements (its shape) but received ${s.length}`);
}

/** True when an ArrayBuffer has been detached (transferred); SharedArrayBuffers never are. */
export function isDetached(buf: ArrayBufferLike): boolean {
  if (buf.byteLength !== 0 || buf instanceof SharedArrayBuffer) return false;
  try {
    new Uint8Array(buf);
    return false;
  } catch {
    return true;
  }
}

function defaultDtypeFor(data: ArrayBufferView): DType | undefined {
  if (data instanceof Float32Array || data instanceof Float64Array) return 'float32';
  if (data instanceof Int32Array) return 'int32';
  if (data instanceof BigInt64Array) return 'int64';
  if (data instanceof Uint8Array) return 'uint8';
  return undefined;
}

function storageMatches(dtype: DType, data: ArrayBufferView): boolean {
  return data.constructor === STORAGE_CTOR[dtype];
}

function flatten(data: readonly NestedNumbers[], op: string): { values: (number | bigint | boolean)[]; shape: number[] } {
  const shape: number[] = [];
  let level: unknown = data;
  while (Array.isArray(level)) {
    shape.push(level.length);
    level = level[0];
  }
  const values: (number | bigint | boolean)[] = [];
  const walk = (v: unknown, depth: number): void => {
    if (depth === shape.length) {
      if (typeof v !== 'number' && typeof v !== 'boolean' && typeof v !== 'bigint')
        fail('ERR_ARGUMENT', op, `expected numbers but found ${describe(v)}`);
      values.push(v);
      return;
    }
    if (!Array.isArray(v) || v.length !== shape[depth])
      fail('ERR_SHAPE', op, `nested arrays must be rectangular (dimension ${depth} should have length ${shape[depth]})`);
    for (const e of v) walk(e, depth + 1);
  };
  walk(data, 0);
  return { values, shape };
}

function isOrtLike(v: unknown): v is OrtTensorLike {
  return typeof v === 'object' && v !== null && !(v instanceof Tensor) && 'type' in v && 'data' in v && 'dims' in v;
}

const ORT_TYPES: Record<string, DType> = {
  float32: 'float32',
  float16: 'float16',
  bfloat16: 'bfloat16',
  int32: 'int32',
  int64: 'int64',
  uint8: 'uint8',
  bool: 'bool',
};

/** Wraps an onnxruntime-node style tensor `{ type, data, dims }` without copying. */
export function fromOrt(t: OrtTensorLike): Tensor {
  if (typeof t !== 'object' || t === null) return fail('ERR_ARGUMENT', 'fromOrt', `expected an ORT tensor { type, data, dims } but received ${describe(t)}`);
  const dtype = ORT_TYPES[t.type];
  if (!dtype) fail('ERR_DTYPE', 'fromOrt', `expected type ${Object.keys(ORT_TYPES).join(', ')} but received ${String(t.type)}`);
  let data = t.data as ArrayBufferView;
  // ORT may hand float16 as a Float16Array (newer runtimes) or Uint16Array: view its bits.
  if (dtype === 'float16' && ArrayBuffer.isView(data) && !(data instanceof Uint16Array))
    data = new Uint16Array(data.buffer, data.byteOffset, data.byteLength / 2);
  return tensor(data, t.dims, { dtype });
}

/** Any input an op accepts as a tensor. */
export type TensorLike<D extends DType = DType> = Tensor<D> | OrtTensorLike;

const isFn = (o: object, k: string) => typeof (o as Record<string, unknown>)[k] === 'function';
const has = (o: object, k: string) => k in o;

/** @internal What `v` looks like and how to pass it, for the "expected a Tensor" error ('' when no hint applies). */
export function foreignTensorHint(v: unknown): string {
  if (ArrayBuffer.isView(v) || Array.isArray(v)) return ': wrap it with tensor(data, shape)';
  if (typeof v !== 'object' || v === null) return '';
  if (isFn(v, 'dataSync') && has(v, 'shape'))
    return ' (a TensorFlow.js tensor?): pass tensor(t.dataSync(), t.shape), which copies its values to the CPU';
  if (isFn(v, 'data_ptr') || (isFn(v, 'numpy') && has(v, 'shape')) || (isFn(v, 'cpu') && has(v, 'shape') && has(v, 'dtype')))
    return ' (a torch-like tensor?): pass its values as a TypedArray, tensor(values, shape)';
  if (has(v, 'data') && has(v, 'shape') && has(v, 'stride'))
    return ' (an ndarray?): pass tensor(a.data, a.shape) for a contiguous row-major array (offset 0)';
  if (has(v, 'data') && has(v, 'shape') && ArrayBuffer.isView((v as { data: unknown }).data))
    return ': pass tensor(x.data, x.shape)';
  if (has(v, 'data') && has(v, 'dims') && !has(v, 'type'))
    return ": an onnxruntime-style tensor needs { type, data, dims } (type e.g. 'float32')";
  return '';
}

/** Returns `v` as a Tensor (ORT-style objects are wrapped without copying). */
export function asTensor(v: unknown, name: string, op: string): Tensor {
  if (v instanceof Tensor) {
    // a Tensor's fields can be overwritten from JS: everything below reads shape as an array
    const s: unknown = v.shape;
    if (!Array.isArray(s) || !s.every((d) => Number.isSafeInteger(d) && d >= 0))
      fail('ERR_SHAPE', op, `expected ${name} with a shape of non-negative integers but received shape ${describe(s)}`);
    // and a host store that holds exactly that many elements: TS code sizes arrays from shapes
    if (v._store !== undefined && v._device < 0) hostStoreLive(v._store as AnyStorage, numelOf(s as number[]), op, name);
    return v;
  }
  if (isOrtLike(v)) return fromOrt(v);
  return fail('ERR_ARGUMENT', op, `expected a Tensor for ${name} but received ${describe(v)}${foreignTensorHint(v)}`);
}

// ---- constructors -----------------------------------------------------------------------------

/**
 * Makes a tensor from data. A TypedArray whose type already stores `dtype` is used without
 * copying (Float32Array for float32, Uint16Array bits for float16/bfloat16, Int32Array, BigInt64Array,
 * Uint8Array for uint8/bool); other arrays are converted. An onnxruntime-style `{type, data, dims}`
 * is accepted too. `shape` defaults to the data's own (nested arrays) or `[length]`.
 */
export function tensor<D extends DType>(data: TensorData | OrtTensorLike, shape: readonly number[] | undefined, options: TensorOptions<D> & { dtype: D }): Tensor<D>;
export function tensor(data: Int32Array, shape?: readonly number[], options?: TensorOptions<'int32'>): Tensor<'int32'>;
export function tensor(data: BigInt64Array | readonly bigint[], shape?: readonly number[], options?: TensorOptions<'int64'>): Tensor<'int64'>;
export function tensor(data: Uint8Array, shape?: readonly number[], options?: TensorOptions<'uint8'>): Tensor<'uint8'>;
export function tensor(data: readonly boolean[] | readonly (readonly boolean[])[], shape?: readonly number[], options?: TensorOptions<'bool'>): Tensor<'bool'>;
export function tensor(data: OrtTensorLike, shape?: readonly number[], options?: TensorOptions): Tensor;
export function tensor(data: TensorData, shape?: readonly number[], options?: TensorOptions<'float32'>): Tensor<'float32'>;
export function tensor<D extends DType = 'float32'>(
  data: TensorData | OrtTensorLike,
  shape?: readonly number[],
  options: TensorOptions<D> = {},
): Tensor<D> {
  if (isOrtLike(data)) {
    const t = fromOrt(data);
    return (options.device ? t.to(options.device) : t) as Tensor<D>;
  }
  if (options.dtype !== undefined && !isDType(options.dtype))
    fail('ERR_DTYPE', OP, `expected dtype ${DTYPES.join(', ')} but received ${describe(options.dtype)}`);
  let store: AnyStorage;
  let dtype: DType;
  let inferredShape: number[];
  if (ArrayBuffer.isView(data)) {
    if (isDetached(data.buffer)) fail('ERR_DETACHED', OP, 'the data\'s ArrayBuffer is detached');
    if (data instanceof DataView) fail('ERR_ARGUMENT', OP, 'expected a TypedArray but received a DataView');
    dtype = options.dtype ?? defaultDtypeFor(data) ?? fail('ERR_DTYPE', OP, `a ${data.constructor.name} needs an explicit dtype`);
    const len = (data as unknown as ArrayLike<number>).length;
    inferredShape = [len];
    if (storageMatches(dtype, data) && !(options.shared && !(data.buffer instanceof SharedArrayBuffer))) {
      store = data as AnyStorage;
    } else {
      if (data instanceof Uint16Array && (dtype === 'float16' || dtype === 'bfloat16')) {
        store = newStorage(dtype, len, options.shared);
        (store as Uint16Array).set(data);
      } else {
        if (data instanceof Uint16Array && dtype !== 'int32' && dtype !== 'uint8')
          fail('ERR_DTYPE', OP, `a Uint16Array holds float16/bfloat16 bits; it cannot become ${dtype}`);
        store = newStorage(dtype, len, options.shared);
        encodeInto(dtype, store, data as unknown as ArrayLike<number>);
      }
    }
  } else if (Array.isArray(data)) {
    const flat = flatten(data, OP);
    dtype = options.dtype ?? (typeof flat.values[0] === 'boolean' ? 'bool' : typeof flat.values[0] === 'bigint' ? 'int64' : 'float32');
    store = newStorage(dtype, flat.values.length, options.shared);
    encodeInto(dtype, store, flat.values);
    inferredShape = flat.shape;
  } else {
    return fail('ERR_ARGUMENT', OP, `expected a TypedArray, an array or an ORT tensor but received ${describe(data)}`);
  }
  const s = shape === undefined ? inferredShape : checkConcreteShape(shape, OP);
  if (numelOf(s) !== store.length)
    fail('ERR_SHAPE', OP, `expected data of ${numelOf(s)} elements for shape [${s.join(', ')}] but received ${store.length}`);
  const t = Tensor._wrap(store, s, dtype as D, -1);
  return options.device && parseDevice(options.device, OP) >= 0 ? t.to(options.device) : t;
}

function newStorage(dtype: DType, n: number, shared?: boolean): AnyStorage {
  const Ctor = STORAGE_CTOR[dtype];
  if (!shared) return new Ctor(n);
  return new Ctor(new SharedArrayBuffer(n * ITEM_SIZE[dtype]), 0, n);
}

/** An uninitialised tensor (CPU memory is zeroed by the runtime anyway). */
export function empty<D extends DType = 'float32'>(shape: readonly number[], dtype?: D, options: EmptyOptions = {}): Tensor<D> {
  const s = checkConcreteShape(shape, 'empty');
  const dt = (dtype ?? 'float32') as D;
  if (!isDType(dt)) fail('ERR_DTYPE', 'empty', `expected dtype ${DTYPES.join(', ')} but received ${describe(dtype)}`);
  const dev = parseDevice(options.device, 'empty');
  if (dev >= 0) {
    if (options.shared) fail('ERR_ARGUMENT', 'empty', 'shared memory is only available on the CPU');
    return Tensor._wrap(allocDevice(dev, numelOf(s) * ITEM_SIZE[dt], 'empty'), s, dt, dev);
  }
  try {
    return Tensor._wrap(newStorage(dt, numelOf(s), options.shared), s, dt, -1);
  } catch (e) {
    if (e instanceof RangeError) fail('ERR_OOM', 'empty', `could not allocate ${numelOf(s) * ITEM_SIZE[dt]} bytes: ${e.message}`);
    throw e;
  }
}

/** A tensor of zeros. */
export function zeros<D extends DType = 'float32'>(shape: readonly number[], dtype?: D, options: EmptyOptions = {}): Tensor<D> {
  const t = empty(shape, dtype, options);
  if (t._device >= 0) native.deviceMemset!(t._store as DeviceStore, 0);
  return t;
}

/** A tensor filled with `value` (encoded into the dtype). */
export function full<D extends DType = 'float32'>(
  shape: readonly number[],
  value: number | bigint | boolean,
  dtype?: D,
  options: EmptyOptions = {},
): Tensor<D> {
  const host = empty(shape, dtype, { shared: options.shared });
  const one = newStorage(host.dtype, 1);
  encodeInto(host.dtype, one, [value], 'full');
  (host.data as Float32Array).fill((one as Float32Array)[0]!);
  return options.device && parseDevice(options.device, 'full') >= 0 ? host.to(options.device) : host;
}

export { MmprefError };

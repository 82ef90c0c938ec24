/**
 * attention.KVCache: preallocated per-layer key/value buffers [B, Hkv, maxLength, d] on the CPU or
 * a CUDA device, for a decoder loop: prefill appends the prompt's keys/values, each decode step
 * appends one position, and attention reads the filled prefix in place (kvLength), never copying.
 *
 *   const cache = new attention.KVCache({ layers: 2, batch: 1, kvHeads: 8, headDim: 128, maxLength: 2048, dtype: 'bfloat16' });
 *   cache.append(layer, k, v);                         // k, v [B, Hkv, t, d]
 *   const y = cache.attend(layer, q, { causal: true, keyMask });   // = attention.masked over the prefix
 */
import type { FloatDType } from '../dtype';
import { FLOAT_DTYPES } from '../dtype';
import { ITEM_SIZE } from '../dtype';
import { checkFits } from '../op_args';

/** At most this many layers (each layer is two JS tensors; more would exhaust the JS heap first). */
export const MAX_LAYERS = 65536;
import { fail } from '../errors';
import { withCallerStack } from '../native';
import { empty, parseDevice, type DeviceSpec, type Tensor, type TensorLike } from '../tensor';
import { checkOptions, enumOpt, expectShape, numberArg, sameDevice, shapeStr, tensorArg } from '../validate';
import type { NativeFn } from '../op_decl';
import { callOp } from '../op_call';
import { KV_CACHE_APPEND } from './kv_cache.args';
import { masked, maskedAsync, type MaskedAttentionOptions, type MaskedAttentionResult } from './attention_masked';

declare module '../native' {
  interface NativeAddon {
    kvCacheAppend: NativeFn<typeof KV_CACHE_APPEND>;
  }
}

export interface KVCacheOptions {
  /** Number of layers (one key and one value buffer each), an integer >= 1. */
  layers: number;
  /** Batch size B, an integer >= 1. */
  batch: number;
  /** Key/value heads Hkv, an integer >= 1. */
  kvHeads: number;
  /** Head dim d, an integer in [1, 256]. */
  headDim: number;
  /** Capacity in positions, an integer >= 1: appends past it are ERR_RANGE errors. */
  maxLength: number;
  /** 'float32' (default), 'float16' or 'bfloat16'. */
  dtype?: FloatDType;
  /** 'cpu' (default), 'cuda' or 'cuda:N'. */
  device?: DeviceSpec;
}

/** Attention options of {@link KVCache.attend}: those of attention.masked less kvLength (the filled length). */
export type KVCacheAttendOptions = Omit<MaskedAttentionOptions, 'kvLength'>;

const OP = 'KVCache';

export class KVCache<D extends FloatDType = FloatDType> {
  readonly layers: number;
  readonly batch: number;
  readonly kvHeads: number;
  readonly headDim: number;
  readonly maxLength: number;
  readonly dtype: D;
  private readonly _k: Tensor<D>[] = [];
  private readonly _v: Tensor<D>[] = [];
  private readonly _len: number[];

  constructor(options: KVCacheOptions & { dtype?: D }) {
    if (options === undefined) fail('ERR_ARGUMENT', OP, 'expected an options object with layers, batch, kvHeads, headDim and maxLength but received undefined');
    const o = checkOptions(OP, options, ['layers', 'batch', 'kvHeads', 'headDim', 'maxLength', 'dtype', 'device']);
    this.layers = numberArg(OP, 'layers', o.layers, { integer: true, min: 1, max: MAX_LAYERS });
    this.batch = numberArg(OP, 'batch', o.batch, { integer: true, min: 1 });
    this.kvHeads = numberArg(OP, 'kvHeads', o.kvHeads, { integer: true, min: 1 });
    this.headDim = numberArg(OP, 'headDim', o.headDim, { integer: true, min: 1, max: 256 });
    this.maxLength = numberArg(OP, 'maxLength', o.maxLength, { integer: true, min: 1 });
    this.dtype = enumOpt(OP, 'dtype', o.dtype, FLOAT_DTYPES, 'float32') as D;
    const dev = parseDevice(o.device, OP);
    const device: DeviceSpec = dev < 0 ? 'cpu' : `cuda:${dev}`;
    const shape = [this.batch, this.kvHeads, this.maxLength, this.headDim];
    checkFits(OP, `a cache of ${this.layers} layers x 2 x ${shapeStr(shape)} ${this.dtype}`, 2 * this.layers * shape.reduce((a, b) => a * b, 1) * ITEM_SIZE[this.dtype], dev);
    try {
      for (let l = 0; l < this.layers; l++) {
        // CPU buffers are SharedArrayBuffers: they cannot be detached, so Async appends and
        // attention use them in place (no copy), and queued appends to one layer all land
        this._k.push(empty(shape, this.dtype, { device, shared: dev < 0 }));
        this._v.push(empty(shape, this.dtype, { device, shared: dev < 0 }));
      }
    } catch (e) {
      this.dispose();
      throw e;
    }
    this._len = new Array<number>(this.layers).fill(0);
  }

  /** 'cpu' or 'cuda'. */
  get device(): 'cpu' | 'cuda' {
    return this._k[0]!.device;
  }
  /** Positions every layer holds (the minimum of the per-layer lengths): a decode step's queryOffset. */
  get length(): number {
    return Math.min(...this._len);
  }
  /** Bytes held by all buffers. */
  get byteLength(): number {
    return this._k.reduce((s, t) => s + 2 * t.byteLength, 0);
  }

  /** Filled length of one layer. */
  lengthOf(layer: number): number {
    return this._len[this.layerIndex(layer)]!;
  }

  /** The whole key buffer of a layer, [B, Hkv, maxLength, d] (positions >= lengthOf(layer) are unspecified). */
  keys(layer: number): Tensor<D> {
    return this.live(this._k, layer);
  }
  /** The whole value buffer of a layer, [B, Hkv, maxLength, d]. */
  values(layer: number): Tensor<D> {
    return this.live(this._v, layer);
  }
  /** The buffers and filled length of a layer, as attention.masked takes them: masked(q, view.k, view.v, { kvLength: view.kvLength }). */
  view(layer: number): { k: Tensor<D>; v: Tensor<D>; kvLength: number } {
    return { k: this.keys(layer), v: this.values(layer), kvLength: this.lengthOf(layer) };
  }

  /**
   * Appends k, v [B, Hkv, t, d] (the cache's dtype and device) at positions
   * [lengthOf(layer), lengthOf(layer) + t) of a layer; returns the new length. ERR_RANGE when it
   * would pass maxLength (nothing is written then).
   */
  append(layer: number, k: TensorLike, v: TensorLike): number {
    const p = this.prepareAppend(layer, k, v);
    try {
      callOp(KV_CACHE_APPEND, { kCache: this._k[p.layer]!, vCache: this._v[p.layer]!, k: p.k, v: p.v, start: p.start }, false);
    } catch (e) {
      this._len[p.layer] = p.start;
      throw e;
    }
    return this._len[p.layer]!;
  }

  /** {@link append} off the main thread. The length is reserved at the call, so appends may be queued back to back. */
  async appendAsync(layer: number, k: TensorLike, v: TensorLike): Promise<number> {
    const stack = new Error().stack;
    const p = this.prepareAppend(layer, k, v);
    const end = this._len[p.layer]!;
    try {
      await withCallerStack(callOp(KV_CACHE_APPEND, { kCache: this._k[p.layer]!, vCache: this._v[p.layer]!, k: p.k, v: p.v, start: p.start }, true), stack);
    } catch (e) {
      if (this._len[p.layer] === end) this._len[p.layer] = p.start;
      throw e;
    }
    return end;
  }

  /**
   * attention.masked(q, keys(layer), values(layer), { ...options, kvLength: lengthOf(layer) }):
   * attention over the filled prefix, in place. With `causal`, queryOffset defaults to
   * lengthOf(layer) - Tq (the queries are the newest positions).
   */
  attend(layer: number, q: TensorLike, options: KVCacheAttendOptions & ({ returnLse: true } | { lseOut: Tensor<'float32'> })): MaskedAttentionResult;
  attend(layer: number, q: TensorLike, options?: KVCacheAttendOptions): Tensor;
  attend(layer: number, q: TensorLike, options?: KVCacheAttendOptions): Tensor | MaskedAttentionResult {
    const v = this.view(layer);
    return masked(q, v.k, v.v, { ...this.attendOptions(options), kvLength: v.kvLength });
  }

  /** {@link attend} off the main thread. */
  attendAsync(layer: number, q: TensorLike, options: KVCacheAttendOptions & ({ returnLse: true } | { lseOut: Tensor<'float32'> })): Promise<MaskedAttentionResult>;
  attendAsync(layer: number, q: TensorLike, options?: KVCacheAttendOptions): Promise<Tensor>;
  attendAsync(layer: number, q: TensorLike, options?: KVCacheAttendOptions): Promise<Tensor | MaskedAttentionResult> {
    const v = this.view(layer);
    return maskedAsync(q, v.k, v.v, { ...this.attendOptions(options), kvLength: v.kvLength });
  }

  /**
   * Forgets positions: every layer's length becomes min(its length, `length`) (default 0), e.g.
   * to rewind to the shared prompt before sampling another answer. The memory is kept.
   */
  reset(length = 0): void {
    numberArg(`${OP}.reset`, 'length', length, { integer: true, min: 0 });
    for (let l = 0; l < this.layers; l++) this._len[l] = Math.min(this._len[l]!, length);
  }

  /** Frees every buffer now (CUDA memory included); any later use is an ERR_DETACHED error. */
  dispose(): void {
    for (const t of this._k) t.dispose();
    for (const t of this._v) t.dispose();
  }

  toString(): string {
    return `KVCache(${this.layers} layers, [${this.batch}, ${this.kvHeads}, ${this.maxLength}, ${this.headDim}], ${this.dtype}, ${this.device}, length ${this.length})`;
  }

  private attendOptions(options: KVCacheAttendOptions | undefined): MaskedAttentionOptions {
    if (options !== undefined && typeof options === 'object' && options !== null && 'kvLength' in options)
      fail('ERR_ARGUMENT', `${OP}.attend`, 'unknown option \'kvLength\' (the cache supplies its filled length)');
    return options ?? {};
  }

  private layerIndex(layer: number): number {
    return numberArg(OP, 'layer', layer, { integer: true, min: 0, max: this.layers - 1 });
  }

  private live(list: Tensor<D>[], layer: number): Tensor<D> {
    const t = list[this.layerIndex(layer)]!;
    if (t.disposed) fail('ERR_DETACHED', OP, 'the cache was disposed');
    return t;
  }

  private prepareAppend(layer: number, k: TensorLike, v: TensorLike): { layer: number; k: Tensor; v: Tensor; start: number } {
    const op = `${OP}.append`;
    const l = this.layerIndex(layer);
    const cache = this.live(this._k, l);
    const kt = tensorArg(op, 'k', k, [this.dtype], 4);
    const vt = tensorArg(op, 'v', v, [this.dtype], 4);
    const t = kt.shape[2]!;
    expectShape(op, 'k', kt, [this.batch, this.kvHeads, t, this.headDim], `the cache [B, Hkv, t, d]`);
    expectShape(op, 'v', vt, kt.shape, 'k');
    sameDevice(op, { cache, k: kt, v: vt });
    const start = this._len[l]!;
    if (start + t > this.maxLength)
      fail('ERR_RANGE', op, `expected at most ${this.maxLength - start} new positions (layer ${l} holds ${start} of ${this.maxLength}) but received ${t} (k ${shapeStr(kt.shape)})`);
    this._len[l] = start + t;
    return { layer: l, k: kt, v: vt, start };
  }
}

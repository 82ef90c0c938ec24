/**
 * Argument helpers for any op: seed/offset resolution (random and noise ops), small side tensors
 * (masks, per-sample integers and weights) given as tensors or plain arrays and moved to the
 * device of the main input, the in-place/out choice, and running a native call that owns
 * temporaries. Temporaries made here are disposed by {@link Temps.dispose} once the op is done.
 */
import { randomInt } from 'node:crypto';
import os from 'node:os';
import { backend } from './backend';
import type { DType } from './dtype';
import { fail } from './errors';
import { Tensor, describe, deviceOf, tensor } from './tensor';
import { withCallerStack } from './native';
import { expectShape, outputTensor, sameDevice, seedOpt, shapeStr, tensorArg } from './validate';

/** A Philox seed or offset: a non-negative safe integer or a bigint below 2^64. */
export type Seed = number | bigint;

/** The stream options every random op takes. */
export interface StreamOptions {
  /** Philox key: same seed, same offset, same bits on every device and thread count. Default: a fresh random 48-bit integer (returned by the noise ops). */
  seed?: Seed;
  /** Philox stream offset (a second, independent 64-bit counter word); default 0. */
  offset?: Seed;
}

/** Resolves seed (random when absent) and offset (0 when absent). */
export function resolveStream(op: string, o: StreamOptions): { seed: Seed; offset: Seed } {
  const seed = o.seed === undefined ? randomInt(0, 2 ** 48 - 1) : seedOpt(op, 'seed', o.seed, 0);
  return { seed, offset: seedOpt(op, 'offset', o.offset, 0) };
}

/** Side tensors created for one call (uploads to CUDA, arrays turned into tensors). */
export class Temps {
  private readonly list: Tensor[] = [];
  /** Keeps `t` (when it was created here) for disposal. */
  own<T extends Tensor>(t: T): T {
    this.list.push(t);
    return t;
  }
  /** `t` on the device of `like` (copied, and owned, when it is elsewhere). */
  onDeviceOf<T extends Tensor>(t: T, like: Tensor): T {
    if (t._device === like._device) return t;
    return this.own(t.to(deviceOf(like)) as T);
  }
  dispose(): void {
    for (const t of this.list) t.dispose();
    this.list.length = 0;
  }
}

const isArrayLike = (v: unknown): v is ArrayLike<unknown> =>
  Array.isArray(v) || (ArrayBuffer.isView(v) && !(v instanceof DataView));

/**
 * A side tensor of exact `shape` and one of `dtypes`, given as a tensor (must already be on the
 * device of `like`) or as a plain array / TypedArray (converted to `arrayDtype` and uploaded).
 */
export function sideTensor(
  op: string,
  name: string,
  v: unknown,
  shape: readonly number[],
  dtypes: readonly DType[],
  arrayDtype: DType,
  like: Tensor,
  temps: Temps,
  from: string,
): Tensor {
  if (isArrayLike(v)) {
    if (v.length !== shape.reduce((a, b) => a * b, 1))
      fail('ERR_SHAPE', op, `expected ${name} of shape ${shapeStr(shape)} (from ${from}) but received ${describe(v)}`);
    for (let i = 0; i < v.length; i++) {
      const e = v[i];
      const ok = arrayDtype === 'bool' ? typeof e === 'boolean' || e === 0 || e === 1 : typeof e === 'number' && Number.isFinite(e) && (arrayDtype !== 'int32' || Number.isInteger(e));
      if (!ok) fail('ERR_ARGUMENT', op, `expected ${name} to hold ${arrayDtype === 'bool' ? 'booleans' : arrayDtype === 'int32' ? 'integers' : 'finite numbers'} but element ${i} is ${describe(e)}`);
      if (arrayDtype === 'int32' && ((e as number) < -(2 ** 31) || (e as number) >= 2 ** 31))
        fail('ERR_RANGE', op, `expected ${name} to hold int32 values but element ${i} is ${String(e)}`);
    }
    const t = temps.own(tensor(Array.from(v as ArrayLike<number | boolean>), [...shape], { dtype: arrayDtype }));
    return temps.onDeviceOf(t, like);
  }
  const t = tensorArg(op, name, v, dtypes);
  expectShape(op, name, t, shape, from);
  sameDevice(op, { input: like, [name]: t });
  return t;
}

/** An integer argument or an int32 [B] tensor / array: returns the scalar (tensor = null) or the tensor. */
export function perSampleInt(
  op: string,
  name: string,
  v: unknown,
  batch: number,
  like: Tensor,
  temps: Temps,
  from: string,
): { scalar: number; tensor: Tensor | null } {
  if (typeof v === 'number') {
    if (!Number.isInteger(v)) fail('ERR_RANGE', op, `expected ${name} to be an integer but received ${v}`);
    return { scalar: v, tensor: null };
  }
  if (v === undefined || v === null) fail('ERR_ARGUMENT', op, `expected ${name} (an integer or an int32 [${batch}] tensor) but received ${describe(v)}`);
  return { scalar: -1, tensor: sideTensor(op, name, v, [batch], ['int32'], 'int32', like, temps, from) };
}

/** The output of an op with `inPlace` / `out` options: x itself, the given `out`, or a new tensor like x. */
export function inPlaceOrOut(op: string, x: Tensor, inPlace: boolean, out: unknown, xName: string): Tensor {
  if (inPlace && out !== undefined) fail('ERR_ARGUMENT', op, 'expected inPlace or out, not both');
  if (inPlace) return x;
  const t = outputTensor(op, out, x.shape, x.dtype, x);
  if (t === x) fail('ERR_ARGUMENT', op, `out is ${xName}: use inPlace: true`);
  return t;
}

/**
 * Runs a native call, then disposes the call's temporaries; when it fails, `cleanup` disposes the
 * outputs made for it.
 */
export function runNative(temps: Temps, call: () => void, cleanup?: () => void): void {
  try {
    call();
  } catch (e) {
    cleanup?.();
    throw e;
  } finally {
    temps.dispose();
  }
}

/** {@link runNative} for an async call; errors get the caller's stack. */
export async function runNativeAsync(temps: Temps, call: () => Promise<void>, stack: string | undefined, cleanup?: () => void): Promise<void> {
  try {
    await withCallerStack(call(), stack);
  } catch (e) {
    cleanup?.();
    throw e;
  } finally {
    temps.dispose();
  }
}

/**
 * Checks, before anything is allocated, that `bytes` can fit in the memory of `device` (-1: host
 * RAM, else the CUDA device's total memory): ERR_OOM naming `what` otherwise, instead of a V8 heap
 * abort or a runaway allocation loop.
 */
export function checkFits(op: string, what: string, bytes: number, device: number): void {
  const dev = device < 0 ? undefined : backend().cuda.devices.find((d) => d.index === device);
  const limit = device < 0 ? os.totalmem() : dev?.totalMemory ?? Infinity;
  if (!(bytes <= limit))
    fail('ERR_OOM', op, `expected ${what} to fit in ${limit} bytes of ${device < 0 ? 'host' : `cuda:${device}`} memory but it needs ${bytes}`);
}

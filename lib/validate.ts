/**
 * Input checks shared by lib/ops/*: each throws an MmprefError naming the op, the argument, what
 * was expected and what was received ("sequenceLogps: expected labels of shape [4, 128] (from
 * logits [4, 128, 32000]) but received [4, 127]"). Native code re-checks everything anyway.
 */
import type { DType } from './dtype';
import { fail } from './errors';
import { rangeText } from './op_decl';
import { Tensor, asTensor, describe, empty } from './tensor';

export const shapeStr = (s: readonly number[]): string => `[${s.join(', ')}]`;

/** Options object: undefined -> {}, anything but a plain object -> ERR_ARGUMENT, unknown keys -> ERR_ARGUMENT. */
export function checkOptions<T extends object>(op: string, opts: T | undefined, allowed: readonly string[]): T {
  if (opts === undefined) return {} as T;
  if (typeof opts !== 'object' || opts === null || Array.isArray(opts) || opts instanceof Tensor)
    fail('ERR_ARGUMENT', op, `expected an options object but received ${describe(opts)}`);
  for (const k of Object.keys(opts))
    if (!allowed.includes(k))
      fail('ERR_ARGUMENT', op, `unknown option '${k}' (expected one of ${allowed.join(', ')})`);
  return opts;
}

/** A tensor argument with an allowed dtype set (and, optionally, a rank). */
export function tensorArg(
  op: string,
  name: string,
  v: unknown,
  dtypes?: readonly DType[],
  ndim?: number | readonly number[],
): Tensor {
  const t = asTensor(v, name, op);
  if (t.disposed) fail('ERR_DETACHED', op, `${name} was disposed`);
  if (dtypes && !dtypes.includes(t.dtype))
    fail('ERR_DTYPE', op, `expected ${name} of dtype ${dtypes.join(' or ')} but received ${t.dtype}`);
  if (ndim !== undefined) {
    const ok = typeof ndim === 'number' ? t.ndim === ndim : ndim.includes(t.ndim);
    if (!ok)
      fail('ERR_SHAPE', op, `expected ${name} with ${typeof ndim === 'number' ? ndim : ndim.join(' or ')} dimensions but received ${shapeStr(t.shape)}`);
  }
  return t;
}

/** Exact shape check; `from` explains where the expectation comes from. */
export function expectShape(op: string, name: string, t: Tensor, expected: readonly number[], from?: string): void {
  if (t.shape.length !== expected.length || t.shape.some((d, i) => d !== expected[i]))
    fail('ERR_SHAPE', op, `expected ${name} of shape ${shapeStr(expected)}${from ? ` (from ${from})` : ''} but received ${shapeStr(t.shape)}`);
}

/** All tensors on one device. */
export function sameDevice(op: string, named: Record<string, Tensor | undefined>): void {
  let first: [string, Tensor] | undefined;
  for (const [name, t] of Object.entries(named)) {
    if (!t) continue;
    if (!first) first = [name, t];
    else if (t._device !== first[1]._device)
      fail('ERR_DEVICE', op, `expected ${name} on the same device as ${first[0]} (${devName(first[1])}) but received ${devName(t)}`);
  }
}
const devName = (t: Tensor): string => (t._device < 0 ? 'cpu' : `cuda:${t._device}`);

export interface NumberRule {
  min?: number;
  max?: number;
  /** exclusive bounds */
  gt?: number;
  lt?: number;
  integer?: boolean;
  /** accept +-Infinity (default: finite only) */
  allowInfinity?: boolean;
}

/** A numeric option: default when undefined, ERR_ARGUMENT when not a finite number, ERR_RANGE outside the rule. */
export function numberOpt(op: string, name: string, v: unknown, dflt: number, rule: NumberRule = {}): number {
  if (v === undefined) return dflt;
  return numberArg(op, name, v, rule);
}

export function numberArg(op: string, name: string, v: unknown, rule: NumberRule = {}): number {
  if (typeof v !== 'number' || Number.isNaN(v)) fail('ERR_ARGUMENT', op, `expected a number for ${name} but received ${describe(v)}`);
  const bad =
    (rule.integer && !Number.isInteger(v)) ||
    (rule.min !== undefined && v < rule.min) ||
    (rule.max !== undefined && v > rule.max) ||
    (rule.gt !== undefined && !(v > rule.gt)) ||
    (rule.lt !== undefined && !(v < rule.lt)) ||
    (!rule.allowInfinity && !Number.isFinite(v));
  if (bad) fail('ERR_RANGE', op, `expected ${name} ${ruleStr(rule)} but received ${v}`);
  return v;
}

function ruleStr(r: NumberRule): string {
  return rangeText(r, r.integer ? 'an integer' : r.allowInfinity ? 'a number' : 'a finite number');
}

export function boolOpt(op: string, name: string, v: unknown, dflt: boolean): boolean {
  if (v === undefined) return dflt;
  if (typeof v !== 'boolean') fail('ERR_ARGUMENT', op, `expected a boolean for ${name} but received ${describe(v)}`);
  return v;
}

export function enumOpt<T extends string>(op: string, name: string, v: unknown, values: readonly T[], dflt: T): T {
  if (v === undefined) return dflt;
  if (typeof v !== 'string' || !(values as readonly string[]).includes(v))
    fail('ERR_ARGUMENT', op, `expected ${name} to be one of ${values.map((x) => `'${x}'`).join(', ')} but received ${describe(v)}`);
  return v as T;
}

/** A seed or offset: a non-negative safe integer or a bigint below 2^64. */
export function seedOpt(op: string, name: string, v: unknown, dflt: number | bigint): number | bigint {
  if (v === undefined) return dflt;
  if (typeof v === 'bigint') {
    if (v < 0n || v >= 1n << 64n) fail('ERR_RANGE', op, `expected ${name} in [0, 2^64) but received ${v}`);
    return v;
  }
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0)
    fail(typeof v === 'number' ? 'ERR_RANGE' : 'ERR_ARGUMENT', op, `expected ${name} to be a non-negative safe integer or a bigint but received ${describe(v)}`);
  return v;
}

/**
 * The output tensor: a given `out` is checked (shape, dtype, device) and used; otherwise a new one
 * is allocated on `like`'s device.
 */
export function outputTensor<D extends DType>(
  op: string,
  out: unknown,
  shape: readonly number[],
  dtype: D,
  like: Tensor,
  name = 'out',
): Tensor<D> {
  if (out === undefined) return empty(shape, dtype, { device: like._device < 0 ? 'cpu' : `cuda:${like._device}` });
  const t = tensorArg(op, name, out, [dtype]);
  expectShape(op, name, t, shape);
  sameDevice(op, { input: like, [name]: t });
  return t as Tensor<D>;
}

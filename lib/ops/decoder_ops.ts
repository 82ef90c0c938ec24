/**
 * Layer ops for decoders (used by the LLaMA-style model in lib/models): RMSNorm, rotary position
 * embeddings, SwiGLU, residual add and embedding lookup, on the CPU and CUDA, float32 math with one
 * rounding into the input dtype. Formulas: native/cpp/ops/decoder_ops.h.
 */
import type { FloatDType } from '../dtype';
import { fail } from '../errors';
import { native, withCallerStack } from '../native';
import type { Tensor, TensorLike } from '../tensor';

type FloatTensor = Tensor<FloatDType>;
import { boolOpt, checkOptions, expectShape, numberOpt, outputTensor, sameDevice, shapeStr, tensorArg } from '../validate';

declare module '../native' {
  interface NativeAddon {
    rmsNorm(x: Tensor, w: Tensor, out: Tensor, eps: number, async: boolean): void | Promise<void>;
    rotary(x: Tensor, out: Tensor, positions: Tensor | null, offset: number, theta: number, async: boolean): void | Promise<void>;
    swiglu(gate: Tensor, up: Tensor, out: Tensor, async: boolean): void | Promise<void>;
    add(a: Tensor, b: Tensor, out: Tensor, alpha: number, async: boolean): void | Promise<void>;
    embedding(table: Tensor, tokens: Tensor, out: Tensor, async: boolean): void | Promise<void>;
  }
}

const FLOATS: readonly FloatDType[] = ['float32', 'float16', 'bfloat16'];

/** Runs a prepared native call synchronously or as a Promise with the caller's stack. */
function call<R>(async: boolean, stack: string | undefined, invoke: (async: boolean) => void | Promise<void>, result: R): R | Promise<R> {
  if (!async) {
    invoke(false);
    return result;
  }
  return withCallerStack(invoke(true) as Promise<void>, stack).then(() => result);
}

// ---- rmsNorm ----------------------------------------------------------------------------------

export interface RmsNormOptions {
  /** Added to the mean square before the square root (default 1e-6, >= 0). */
  eps?: number;
  /** Write here (same shape and dtype as x) instead of a new tensor; may be x itself. */
  out?: Tensor;
}

function rmsNormPrep(x: TensorLike, weight: TensorLike, options?: RmsNormOptions) {
  const op = 'rmsNorm';
  const o = checkOptions(op, options, ['eps', 'out']);
  const t = tensorArg(op, 'x', x, FLOATS);
  if (t.ndim < 1) fail('ERR_SHAPE', op, 'expected x with at least 1 dimension but received a scalar');
  const w = tensorArg(op, 'weight', weight, t.dtype === 'float32' ? ['float32'] : [t.dtype, 'float32'], 1);
  expectShape(op, 'weight', w, [t.shape[t.ndim - 1]!], `x ${shapeStr(t.shape)}`);
  sameDevice(op, { x: t, weight: w });
  const eps = numberOpt(op, 'eps', o.eps, 1e-6, { min: 0 });
  const out = outputTensor(op, o.out, t.shape, t.dtype as FloatDType, t);
  return { invoke: (a: boolean) => native.rmsNorm(t, w, out, eps, a), out };
}

/** y = x * rsqrt(mean(x^2) + eps) * weight over the last dimension (LLaMA RMSNorm). */
export function rmsNorm(x: TensorLike, weight: TensorLike, options?: RmsNormOptions): FloatTensor {
  const p = rmsNormPrep(x, weight, options);
  return call(false, undefined, p.invoke, p.out) as FloatTensor;
}
export async function rmsNormAsync(x: TensorLike, weight: TensorLike, options?: RmsNormOptions): Promise<FloatTensor> {
  const stack = new Error().stack;
  const p = rmsNormPrep(x, weight, options);
  return call(true, stack, p.invoke, p.out);
}

// ---- rotary -----------------------------------------------------------------------------------

export interface RotaryOptions {
  /** Position of each token, int32 [B, T] (default: offset + t). */
  positions?: TensorLike<'int32'>;
  /** Position of the first token when positions is not given (default 0; e.g. the KV-cache length). */
  offset?: number;
  /** Base of the frequencies theta^(-2i/d) (default 10000). */
  theta?: number;
  /** Rotate x itself (default false: a new tensor). */
  inPlace?: boolean;
}

function rotaryPrep(x: TensorLike, options?: RotaryOptions) {
  const op = 'rotary';
  const o = checkOptions(op, options, ['positions', 'offset', 'theta', 'inPlace']);
  const t = tensorArg(op, 'x', x, FLOATS, 4);
  if (t.shape[3]! % 2) fail('ERR_SHAPE', op, `expected an even head dimension but received x of shape ${shapeStr(t.shape)}`);
  const pos = o.positions === undefined ? undefined : tensorArg(op, 'positions', o.positions, ['int32'], 2);
  if (pos) expectShape(op, 'positions', pos, [t.shape[0]!, t.shape[2]!], `x ${shapeStr(t.shape)}`);
  sameDevice(op, { x: t, positions: pos });
  const offset = numberOpt(op, 'offset', o.offset, 0, { integer: true, min: 0 });
  const theta = numberOpt(op, 'theta', o.theta, 10000, { gt: 0 });
  const out = (boolOpt(op, 'inPlace', o.inPlace, false) ? t : outputTensor(op, undefined, t.shape, t.dtype, t)) as FloatTensor;
  return { invoke: (a: boolean) => native.rotary(t, out, pos ?? null, offset, theta, a), out };
}

/**
 * Rotary position embedding of q or k [B, H, T, d] (Hugging Face rotate_half convention): pairs
 * (i, i + d/2) rotated by pos * theta^(-2i/d).
 */
export function rotary(x: TensorLike, options?: RotaryOptions): FloatTensor {
  const p = rotaryPrep(x, options);
  return call(false, undefined, p.invoke, p.out) as FloatTensor;
}
export async function rotaryAsync(x: TensorLike, options?: RotaryOptions): Promise<FloatTensor> {
  const stack = new Error().stack;
  const p = rotaryPrep(x, options);
  return call(true, stack, p.invoke, p.out);
}

// ---- swiglu and add ---------------------------------------------------------------------------

export interface ElementwiseOptions {
  /** Write here (same shape and dtype) instead of a new tensor; may be an input (in place). */
  out?: Tensor;
}

function pairPrep(op: string, an: string, bn: string, a: TensorLike, b: TensorLike, out: unknown) {
  const x = tensorArg(op, an, a, FLOATS);
  const y = tensorArg(op, bn, b, [x.dtype]);
  expectShape(op, bn, y, x.shape, `${an} ${shapeStr(x.shape)}`);
  sameDevice(op, { [an]: x, [bn]: y });
  return { x, y, out: outputTensor(op, out, x.shape, x.dtype as FloatDType, x) };
}

/** silu(gate) * up, elementwise (the LLaMA MLP activation). */
export function swiglu(gate: TensorLike, up: TensorLike, options?: ElementwiseOptions): FloatTensor {
  const o = checkOptions('swiglu', options, ['out']);
  const p = pairPrep('swiglu', 'gate', 'up', gate, up, o.out);
  native.swiglu(p.x, p.y, p.out, false);
  return p.out;
}
export async function swigluAsync(gate: TensorLike, up: TensorLike, options?: ElementwiseOptions): Promise<FloatTensor> {
  const stack = new Error().stack;
  const o = checkOptions('swiglu', options, ['out']);
  const p = pairPrep('swiglu', 'gate', 'up', gate, up, o.out);
  await withCallerStack(native.swiglu(p.x, p.y, p.out, true) as Promise<void>, stack);
  return p.out;
}

export interface AddOptions extends ElementwiseOptions {
  /** Scale of b (default 1). */
  alpha?: number;
}

/** a + alpha * b, elementwise, same shapes (no broadcasting); `out: a` accumulates in place. */
export function add(a: TensorLike, b: TensorLike, options?: AddOptions): FloatTensor {
  const o = checkOptions('add', options, ['out', 'alpha']);
  const p = pairPrep('add', 'a', 'b', a, b, o.out);
  native.add(p.x, p.y, p.out, numberOpt('add', 'alpha', o.alpha, 1), false);
  return p.out;
}
export async function addAsync(a: TensorLike, b: TensorLike, options?: AddOptions): Promise<FloatTensor> {
  const stack = new Error().stack;
  const o = checkOptions('add', options, ['out', 'alpha']);
  const p = pairPrep('add', 'a', 'b', a, b, o.out);
  await withCallerStack(native.add(p.x, p.y, p.out, numberOpt('add', 'alpha', o.alpha, 1), true) as Promise<void>, stack);
  return p.out;
}

// ---- embedding --------------------------------------------------------------------------------

function embeddingPrep(table: TensorLike, tokens: TensorLike, out: unknown) {
  const op = 'embedding';
  const t = tensorArg(op, 'table', table, FLOATS, 2);
  const k = tensorArg(op, 'tokens', tokens, ['int32', 'int64']);
  sameDevice(op, { table: t, tokens: k });
  return { t, k, out: outputTensor(op, out, [...k.shape, t.shape[1]!], t.dtype as FloatDType, t) };
}

/** Rows of table [V, D] for tokens [...] -> [..., D]; a token outside [0, V) is ERR_RANGE. */
export function embedding(table: TensorLike, tokens: TensorLike, options?: ElementwiseOptions): FloatTensor {
  const o = checkOptions('embedding', options, ['out']);
  const p = embeddingPrep(table, tokens, o.out);
  native.embedding(p.t, p.k, p.out, false);
  return p.out;
}
export async function embeddingAsync(table: TensorLike, tokens: TensorLike, options?: ElementwiseOptions): Promise<FloatTensor> {
  const stack = new Error().stack;
  const o = checkOptions('embedding', options, ['out']);
  const p = embeddingPrep(table, tokens, o.out);
  await withCallerStack(native.embedding(p.t, p.k, p.out, true) as Promise<void>, stack);
  return p.out;
}

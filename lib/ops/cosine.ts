/**
 * similarity.cosine and similarity.filter (BDHS semantic rejection, docs/methods.md).
 * cos(a, b) = a.b / (|a| |b|), 0 for a zero vector, clamped to [-1, 1]; float32 accumulation.
 */
import { FLOAT_DTYPES, type FloatDType } from '../dtype';
import { fail } from '../errors';
import { withCallerStack } from '../native';
import { empty, type Tensor, type TensorLike } from '../tensor';
import type { NativeFn } from '../op_decl';
import { callOp } from '../op_call';
import { COSINE, SIMILARITY_FILTER } from './cosine.args';
import { boolOpt, checkOptions, numberOpt, outputTensor, sameDevice, shapeStr, tensorArg } from '../validate';

declare module '../native' {
  interface NativeAddon {
    cosine: NativeFn<typeof COSINE>;
    similarityFilter: NativeFn<typeof SIMILARITY_FILTER>;
  }
}

export interface CosineOptions {
  /** Row i of a with row i of b: [N, E] x [N, E] -> [N] (default false: all pairs, [N, E] x [M, E] -> [N, M]). */
  paired?: boolean;
  /** Write into this float32 tensor ([N, M], or [N] when paired; same device) instead of a new one. */
  out?: Tensor<'float32'>;
}

export interface FilterOptions {
  /** Keep a candidate iff its similarity is below this (compared in float32). Finite number; default 0.97 (BDHS eps_s). */
  threshold?: number;
  /** Compare candidate i with reference i only (default false: with every reference, keep iff the maximum is below). */
  paired?: boolean;
}

const FLOATS = FLOAT_DTYPES;

function pair(op: string, na: string, nb: string, a: TensorLike, b: TensorLike, paired: boolean) {
  const x = tensorArg(op, na, a, FLOATS, 2);
  const y = tensorArg(op, nb, b, [x.dtype], 2);
  const [n, e] = x.shape as [number, number];
  if (y.shape[1] !== e || (paired && y.shape[0] !== n))
    fail('ERR_SHAPE', op, `expected ${nb} of shape [${paired ? n : 'M'}, ${e}] (from ${na} ${shapeStr(x.shape)}${paired ? ', paired' : ''}) but received ${shapeStr(y.shape)}`);
  sameDevice(op, { [na]: x, [nb]: y });
  return { x, y, n, m: y.shape[0]! };
}

function prepareCosine(a: TensorLike, b: TensorLike, options?: CosineOptions) {
  const o = checkOptions('cosine', options, ['paired', 'out']);
  const paired = boolOpt('cosine', 'paired', o.paired, false);
  const p = pair('cosine', 'a', 'b', a, b, paired);
  const out = outputTensor('cosine', o.out, paired ? [p.n] : [p.n, p.m], 'float32', p.x);
  return { ...p, paired, out };
}

/** Cosine similarities: a [N, E] x b [M, E] -> float32 [N, M], or paired [N, E] x [N, E] -> [N]. */
export function cosine(a: TensorLike, b: TensorLike, options?: CosineOptions): Tensor<'float32'> {
  const p = prepareCosine(a, b, options);
  callOp(COSINE, { a: p.x, b: p.y, paired: p.paired, out: p.out }, false);
  return p.out;
}

/** {@link cosine} off the main thread; bit-identical results. */
export async function cosineAsync(a: TensorLike, b: TensorLike, options?: CosineOptions): Promise<Tensor<'float32'>> {
  const stack = new Error().stack;
  const p = prepareCosine(a, b, options);
  await withCallerStack(callOp(COSINE, { a: p.x, b: p.y, paired: p.paired, out: p.out }, true), stack);
  return p.out;
}

function prepareFilter(candidates: TensorLike, references: TensorLike, options?: FilterOptions) {
  const o = checkOptions('filter', options, ['threshold', 'paired']);
  const paired = boolOpt('filter', 'paired', o.paired, false);
  const threshold = numberOpt('filter', 'threshold', o.threshold, 0.97);
  const p = pair('filter', 'candidates', 'references', candidates, references, paired);
  const keep = empty([p.n], 'bool', { device: p.x._device < 0 ? 'cpu' : `cuda:${p.x._device}` });
  return { ...p, paired, threshold, keep };
}

/**
 * BDHS rejection step: bool [N], true where candidate n is not a near-duplicate, i.e. its cosine
 * similarity with every reference (paired: with reference n) is below `threshold`. A NaN
 * similarity drops the candidate; with no references every candidate is kept.
 */
export function filter(candidates: TensorLike, references: TensorLike, options?: FilterOptions): Tensor<'bool'> {
  const p = prepareFilter(candidates, references, options);
  callOp(SIMILARITY_FILTER, { candidates: p.x, references: p.y, paired: p.paired, threshold: p.threshold, keep: p.keep }, false);
  return p.keep;
}

/** {@link filter} off the main thread; bit-identical results. */
export async function filterAsync(candidates: TensorLike, references: TensorLike, options?: FilterOptions): Promise<Tensor<'bool'>> {
  const stack = new Error().stack;
  const p = prepareFilter(candidates, references, options);
  await withCallerStack(callOp(SIMILARITY_FILTER, { candidates: p.x, references: p.y, paired: p.paired, threshold: p.threshold, keep: p.keep }, true), stack);
  return p.keep;
}

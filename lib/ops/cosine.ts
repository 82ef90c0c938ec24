/**
 * similarity.cosine and similarity.filter (BDHS semantic rejection, docs/methods.md).
 * cos(a, b) = a.b / (|a| |b|), 0 for a zero vector, clamped to [-1, 1]; float32 accumulation.
 */
import { fail } from '../errors';
import { empty, type Tensor, type TensorLike } from '../tensor';
import { dtypesOf, type NativeFn, type OpDecl } from '../op_decl';
import { declaredOutput, prepared, syncAsync } from '../op_call';
import { COSINE, SIMILARITY_FILTER } from './cosine.args';
import { boolOpt, checkOptions, expectShape, sameDevice, shapeStr, tensorArg } from '../validate';

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

/** The two embedding matrices (x's dtypes from the declaration, y of x's dtype), on one device. */
function pair(d: OpDecl, na: string, nb: string, a: TensorLike, b: TensorLike) {
  const op = d.label;
  const x = tensorArg(op, na, a, dtypesOf(d, na));
  const y = tensorArg(op, nb, b, [x.dtype]);
  sameDevice(op, { [na]: x, [nb]: y });
  return { x, y, n: x.shape[0] ?? 0, m: y.shape[0] ?? 0 };
}

// x [N, E] and y [M, E] are declared; paired (M = N) is a flag the pattern cannot state: prepare's check and message (binding/cosine.cc)
function checkPaired(op: string, na: string, nb: string, x: Tensor, y: Tensor): void {
  if (y.shape[0] !== x.shape[0])
    fail('ERR_SHAPE', op, `expected ${nb} of shape ${shapeStr(x.shape)} (from ${na} ${shapeStr(x.shape)}, paired) but received ${shapeStr(y.shape)}`);
}

function prepareCosine(a: TensorLike, b: TensorLike, options?: CosineOptions) {
  const o = checkOptions('cosine', options, ['paired', 'out']);
  const paired = boolOpt('cosine', 'paired', o.paired, false);
  const { x, y, n, m } = pair(COSINE, 'a', 'b', a, b);
  const out = declaredOutput('cosine', o.out, () => (paired ? [n] : [n, m]), 'float32', x);
  return prepared(COSINE, { a: x, b: y, paired, out }, out, () => {
    if (paired) checkPaired('cosine', 'a', 'b', x, y);
    expectShape('cosine', 'out', out, paired ? [n] : [n, m], paired ? 'paired a and b' : 'a and b');
  });
}

/** Cosine similarities: a [N, E] x b [M, E] -> float32 [N, M], or paired [N, E] x [N, E] -> [N]. */
export const [cosine, cosineAsync] = syncAsync(prepareCosine);

const FILTER = SIMILARITY_FILTER.label;

function prepareFilter(candidates: TensorLike, references: TensorLike, options?: FilterOptions) {
  const o = checkOptions(FILTER, options, ['threshold', 'paired']);
  const paired = boolOpt(FILTER, 'paired', o.paired, false);
  const threshold = o.threshold === undefined ? 0.97 : o.threshold;
  const { x, y, n } = pair(SIMILARITY_FILTER, 'candidates', 'references', candidates, references);
  const keep = empty([n], 'bool', { device: x._device < 0 ? 'cpu' : `cuda:${x._device}` });
  return prepared(SIMILARITY_FILTER, { candidates: x, references: y, paired, threshold, keep }, keep as Tensor<'bool'>, () => {
    if (paired) checkPaired(FILTER, 'candidates', 'references', x, y);
  });
}

/**
 * BDHS rejection step: bool [N], true where candidate n is not a near-duplicate, i.e. its cosine
 * similarity with every reference (paired: with reference n) is below `threshold`. A NaN
 * similarity drops the candidate; with no references every candidate is kept.
 */
export const [filter, filterAsync] = syncAsync(prepareFilter);

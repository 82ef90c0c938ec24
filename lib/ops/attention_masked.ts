/**
 * attention.masked: multi-head attention with key masking, flash style (online softmax, no
 * [Tq, Tk] score matrix), float32 accumulation.
 *
 *   out[b, h, i] = sum_j softmax_j(scale * <q[b, h, i], k[b, h / G, j]>) v[b, h / G, j]
 *
 * over the keys j < kvLength that row i may attend: keyMask[b, j] (and not a blocked image key)
 * and, when causal, j <= queryOffset + i. G = Hq / Hkv (GQA; Hkv = 1 is MQA). A row with no
 * attendable key gives zeros (and lse -Infinity), never NaN.
 */
import type { FloatDType } from '../dtype';
import { fail } from '../errors';
import { withCallerStack } from '../native';
import { empty, type Tensor, type TensorLike } from '../tensor';
import { boolOpt, checkOptions, numberOpt, outputTensor, sameDevice, seedOpt, shapeStr, tensorArg } from '../validate';
import { type NativeFn, dtypesOf } from '../op_decl';
import { callOp } from '../op_call';
import { ATTENTION_MASKED, ATTENTION_MASKED_BACKWARD } from './attention_masked.args';
import { IMAGE_KEY_MASK } from './image_key_mask.args';
import { KEY_MASK_DTYPES, maskRatioOpt, packSpans, type ImageSpans } from './image_key_mask';

declare module '../native' {
  interface NativeAddon {
    attentionMasked: NativeFn<typeof ATTENTION_MASKED>;
    attentionMaskedBackward: NativeFn<typeof ATTENTION_MASKED_BACKWARD>;
  }
}

export interface MaskedAttentionOptions {
  /** Score scale, a finite number. Default 1 / sqrt(d). */
  scale?: number;
  /** Causal masking: query row i sees keys j <= queryOffset + i. Default false. */
  causal?: boolean;
  /** Absolute position of query row 0 (causal only), an integer. Default kvLength - Tq (the queries are the last Tq positions). */
  queryOffset?: number;
  /** Keys used: the first kvLength of k/v's T dimension (a KV cache's filled length), in [0, T]. Default T. */
  kvLength?: number;
  /** bool/uint8 [B, L], L >= kvLength: true (nonzero) = key j of row b may be attended (as an HF attention_mask). */
  keyMask?: TensorLike;
  /** Image token spans per batch row ([start, length] pairs inside [0, kvLength), non-overlapping); image keys are blocked with probability maskRatio. */
  imageSpans?: ImageSpans;
  /** Probability that an image key is blocked, in [0, 1] (needs imageSpans). Default 1 (all image keys blocked). */
  maskRatio?: number;
  /** Philox seed of the image-key draw (needs imageSpans), as in imageKeyMask. Default 0. */
  seed?: number | bigint;
  /** Philox offset of the image-key draw (needs imageSpans), as in imageKeyMask. Default 0. */
  offset?: number | bigint;
  /** Also return the log-sum-exp of the kept scaled scores per (b, h, i), float32 [B, Hq, Tq]. Default false. */
  returnLse?: boolean;
  /** Write the output into this tensor (q's shape, dtype and device). */
  out?: Tensor;
  /** Write the lse into this float32 [B, Hq, Tq] tensor (implies returnLse). */
  lseOut?: Tensor<'float32'>;
}

export interface MaskedAttentionResult {
  /** [B, Hq, Tq, d], q's dtype */
  out: Tensor;
  /** float32 [B, Hq, Tq]; -Infinity for rows with no attendable key */
  lse: Tensor<'float32'>;
}

const OP = 'attention.masked';
const FLOATS = dtypesOf(ATTENTION_MASKED, 'q');
export const MAX_HEAD_DIM = 256;

interface Prepared {
  q: Tensor;
  k: Tensor;
  v: Tensor;
  /** the forward's output (prepareInputs leaves q here; the backward never uses it) */
  out: Tensor;
  lse: Tensor<'float32'> | null;
  mask: Tensor | null;
  /** a mask made here (image spans), disposed after the call */
  ownMask: boolean;
  scale: number;
  causal: boolean;
  queryOffset: number;
  kvLength: number;
  spans: { spans: Tensor<'int32'>; ratio: number; seed: number | bigint; offset: number | bigint } | null;
}

const MASK_OPTIONS = ['scale', 'causal', 'queryOffset', 'kvLength', 'keyMask', 'imageSpans', 'maskRatio', 'seed', 'offset'] as const;

function prepare(q: TensorLike, k: TensorLike, v: TensorLike, options?: MaskedAttentionOptions): Prepared {
  const o = checkOptions(OP, options, [...MASK_OPTIONS, 'returnLse', 'out', 'lseOut']);
  const p = prepareInputs(OP, q, k, v, o);
  // outputs
  const returnLse = boolOpt(OP, 'returnLse', o.returnLse, false) || o.lseOut !== undefined;
  p.out = outputTensor(OP, o.out, p.q.shape, p.q.dtype, p.q);
  p.lse = returnLse ? outputTensor(OP, o.lseOut, [p.q.shape[0]!, p.q.shape[1]!, p.q.shape[2]!], 'float32', p.q, 'lseOut') : null;
  return p;
}

/** q, k, v and the mask options, shared by the forward and the backward (`OP` names the caller). */
function prepareInputs(OP: string, q: TensorLike, k: TensorLike, v: TensorLike, o: MaskedAttentionOptions): Prepared {
  // tensors: q [B, Hq, Tq, D], k/v [B, Hkv, T, D] and keyMask [B, L] are declared (checked with the
  // call); the ranks here (the defaults read them), then what native prepare checks too, in its words
  const qt = tensorArg(OP, 'q', q, FLOATS, 4);
  const kt = tensorArg(OP, 'k', k, FLOATS, 4);
  const vt = tensorArg(OP, 'v', v, FLOATS, 4);
  if (kt.dtype !== qt.dtype || vt.dtype !== qt.dtype)
    fail('ERR_DTYPE', OP, `expected q, k and v of one dtype but received ${qt.dtype}, ${kt.dtype} and ${vt.dtype}`);
  const [B, Hq, Tq, d] = qt.shape as [number, number, number, number];
  const [, Hkv, T] = kt.shape as [number, number, number, number];
  if (d < 1 || d > MAX_HEAD_DIM) fail('ERR_SHAPE', OP, `expected a head dim d in [1, ${MAX_HEAD_DIM}] but received q ${shapeStr(qt.shape)}`);
  if (Hkv < 1 || Hq % Hkv !== 0)
    fail('ERR_SHAPE', OP, `expected the query heads Hq = ${Hq} to be a multiple of the kv heads but received Hkv = ${Hkv} (k ${shapeStr(kt.shape)})`);
  sameDevice(OP, { q: qt, k: kt, v: vt });
  // options
  const kvLength = numberOpt(OP, 'kvLength', o.kvLength, T, { integer: true, min: 0, max: T });
  const scale = numberOpt(OP, 'scale', o.scale, 1 / Math.sqrt(d));
  if (Math.abs(scale) > 3.4028234663852886e38) fail('ERR_RANGE', OP, `expected a scale representable in float32 but received ${scale}`);
  const causal = boolOpt(OP, 'causal', o.causal, false);
  const queryOffset = numberOpt(OP, 'queryOffset', o.queryOffset, kvLength - Tq, { integer: true, min: -(2 ** 53), max: 2 ** 53 });
  let mask: Tensor | null = null;
  if (o.keyMask !== undefined) {
    mask = tensorArg(OP, 'keyMask', o.keyMask, KEY_MASK_DTYPES, 2);
    if (mask.shape[1]! < kvLength)
      fail('ERR_SHAPE', OP, `expected keyMask of shape [${B}, L] with L >= ${kvLength} (kvLength) but received ${shapeStr(mask.shape)}`);
    sameDevice(OP, { q: qt, keyMask: mask });
  }
  // image-key masking: spans + ratio (+ seed, offset), combined with keyMask by AND
  let spans: Prepared['spans'] = null;
  if (o.imageSpans !== undefined) {
    spans = {
      spans: packSpans(OP, o.imageSpans, B, kvLength, 'kvLength'),
      ratio: maskRatioOpt(OP, o.maskRatio),
      seed: seedOpt(OP, 'seed', o.seed, 0),
      offset: seedOpt(OP, 'offset', o.offset, 0),
    };
  } else {
    for (const name of ['maskRatio', 'seed', 'offset'] as const)
      if (o[name] !== undefined) fail('ERR_ARGUMENT', OP, `expected ${name} only together with imageSpans but received ${name} without imageSpans`);
  }
  return { q: qt, k: kt, v: vt, out: qt, lse: null, mask, ownMask: false, scale, causal, queryOffset, kvLength, spans };
}

/** Draws the image-key mask (AND keyMask) on q's device when imageSpans were given. */
function imageMask(p: Prepared, async: boolean): Promise<void> | void {
  if (!p.spans) return;
  const L = p.mask ? p.mask.shape[1]! : p.kvLength;
  const m = empty([p.q.shape[0]!, L], 'bool', { device: p.q._device < 0 ? 'cpu' : `cuda:${p.q._device}` });
  const s = p.spans;
  const base = p.mask;
  p.mask = m;
  p.ownMask = true;
  if (async) return callOp(IMAGE_KEY_MASK, { spans: s.spans, keyMask: base, out: m, maskRatio: s.ratio, seed: s.seed, offset: s.offset }, true);
  callOp(IMAGE_KEY_MASK, { spans: s.spans, keyMask: base, out: m, maskRatio: s.ratio, seed: s.seed, offset: s.offset }, false);
}

function finish(p: Prepared): Tensor | MaskedAttentionResult {
  if (p.ownMask) p.mask!.dispose();
  return p.lse ? { out: p.out, lse: p.lse } : p.out;
}

/**
 * Masked attention. q [B, Hq, Tq, d], k/v [B, Hkv, T, d] (float32/float16/bfloat16, one dtype and
 * device, Hq a multiple of Hkv, d <= 256) -> out [B, Hq, Tq, d] in q's dtype, or
 * `{ out, lse }` with `returnLse`.
 *
 * Masks: `keyMask` (explicit, true = may attend) and/or `imageSpans` + `maskRatio` + `seed`
 * (BDHS: image keys blocked with probability maskRatio, drawn as by {@link imageKeyMask}); when
 * both are given a key must pass both. `causal` adds j <= queryOffset + i. A decoder step over a
 * KV cache passes the cache buffers with `kvLength` = filled length (no copy).
 *
 * @example
 *   // prefill with BDHS masking, then one decode step over a cache
 *   const keep = attention.imageKeyMask(spans, { maskRatio: 0.99, seed, length: maxT });
 *   const y = attention.masked(q, k, v, { causal: true, keyMask: keep });
 *   const y1 = attention.masked(q1, cache.keys(l), cache.values(l), { causal: true, keyMask: keep, kvLength: cache.lengthOf(l) });
 */
export function masked(q: TensorLike, k: TensorLike, v: TensorLike, options: MaskedAttentionOptions & ({ returnLse: true } | { lseOut: Tensor<'float32'> })): MaskedAttentionResult;
export function masked(q: TensorLike, k: TensorLike, v: TensorLike, options?: MaskedAttentionOptions): Tensor;
export function masked(q: TensorLike, k: TensorLike, v: TensorLike, options?: MaskedAttentionOptions): Tensor | MaskedAttentionResult {
  const p = prepare(q, k, v, options);
  try {
    imageMask(p, false);
    callOp(ATTENTION_MASKED, { q: p.q, k: p.k, v: p.v, out: p.out, lse: p.lse, keyMask: p.mask, scale: p.scale, causal: p.causal, queryOffset: p.queryOffset, kvLength: p.kvLength }, false);
  } catch (e) {
    if (p.ownMask) p.mask!.dispose();
    throw e;
  }
  return finish(p);
}

/** {@link masked} off the main thread; bit-identical results. */
export async function maskedAsync(q: TensorLike, k: TensorLike, v: TensorLike, options: MaskedAttentionOptions & ({ returnLse: true } | { lseOut: Tensor<'float32'> })): Promise<MaskedAttentionResult>;
export async function maskedAsync(q: TensorLike, k: TensorLike, v: TensorLike, options?: MaskedAttentionOptions): Promise<Tensor>;
export async function maskedAsync(q: TensorLike, k: TensorLike, v: TensorLike, options?: MaskedAttentionOptions): Promise<Tensor | MaskedAttentionResult> {
  const stack = new Error().stack;
  const p = prepare(q, k, v, options);
  try {
    await withCallerStack(Promise.resolve(imageMask(p, true)), stack);
    await withCallerStack(
      callOp(ATTENTION_MASKED, { q: p.q, k: p.k, v: p.v, out: p.out, lse: p.lse, keyMask: p.mask, scale: p.scale, causal: p.causal, queryOffset: p.queryOffset, kvLength: p.kvLength }, true),
      stack,
    );
  } catch (e) {
    if (p.ownMask) p.mask!.dispose();
    throw e;
  }
  return finish(p);
}

// ---- backward ---------------------------------------------------------------------------------

/** Options of {@link maskedBackward}: the forward's, with the same values (the same keys masked). */
export type MaskedAttentionBackwardOptions = Omit<MaskedAttentionOptions, 'returnLse' | 'out' | 'lseOut'>;

export interface MaskedAttentionGrads {
  /** [B, Hq, Tq, d], q's dtype */
  dq: Tensor;
  /** [B, Hkv, T, d], k's dtype: summed over the Hq / Hkv query heads of each kv head; zeros for keys no row sees (and keys >= kvLength) */
  dk: Tensor;
  /** [B, Hkv, T, d], v's dtype, summed like dk */
  dv: Tensor;
}

const BWD = 'attention.maskedBackward';

interface PreparedBackward extends Prepared {
  dOut: Tensor;
  fwdOut: Tensor;
  fwdLse: Tensor<'float32'>;
  grads: MaskedAttentionGrads;
}

function prepareBackward(dOut: TensorLike, q: TensorLike, k: TensorLike, v: TensorLike, out: TensorLike, lse: TensorLike, options?: MaskedAttentionBackwardOptions): PreparedBackward {
  const o = checkOptions(BWD, options, [...MASK_OPTIONS]);
  const p = prepareInputs(BWD, q, k, v, o);
  // the forward's result and the incoming gradient like q, lse float32 [B, Hq, Tq]: declared
  const g = tensorArg(BWD, 'dOut', dOut, dtypesOf(ATTENTION_MASKED_BACKWARD, 'dOut'));
  const ot = tensorArg(BWD, 'out', out, dtypesOf(ATTENTION_MASKED_BACKWARD, 'out'));
  const lt = tensorArg(BWD, 'lse', lse, dtypesOf(ATTENTION_MASKED_BACKWARD, 'lse')) as Tensor<'float32'>;
  sameDevice(BWD, { q: p.q, dOut: g, out: ot, lse: lt });
  const dev = { device: p.q._device < 0 ? ('cpu' as const) : (`cuda:${p.q._device}` as const) };
  const grads = { dq: empty(p.q.shape, p.q.dtype, dev), dk: empty(p.k.shape, p.k.dtype, dev), dv: empty(p.v.shape, p.v.dtype, dev) };
  return { ...p, dOut: g, fwdOut: ot, fwdLse: lt, grads };
}

function backwardArgs(p: PreparedBackward) {
  return {
    dOut: p.dOut, q: p.q, k: p.k, v: p.v, out: p.fwdOut, lse: p.fwdLse, dq: p.grads.dq, dk: p.grads.dk, dv: p.grads.dv,
    keyMask: p.mask, scale: p.scale, causal: p.causal, queryOffset: p.queryOffset, kvLength: p.kvLength,
  };
}

function dropGrads(p: PreparedBackward): void {
  if (p.ownMask) p.mask!.dispose();
  for (const t of [p.grads.dq, p.grads.dk, p.grads.dv]) t.dispose();
}

/**
 * Gradient of {@link masked} (FlashAttention-2's backward): from the incoming gradient dOut
 * [B, Hq, Tq, d] and the forward's `out` and `lse` (`returnLse: true`), with the forward's
 * options, returns `{ dq, dk, dv }` in the inputs' dtype (float32 math):
 *
 *   D_i = <dO_i, O_i>,  P_ij = exp(scale <q_i, k_j> - lse_i) over the kept keys,
 *   dV = P^T dO,  dS = P * (dO V^T - D),  dQ = scale dS K,  dK = scale dS^T Q.
 *
 * P is recomputed block by block (no [Tq, T] matrix). dk and dv of a kv head are summed over the
 * query heads that read it (GQA); rows with no kept key (lse -Infinity) give zero gradients; keys
 * no row attends get zeros. Pass the same keyMask / imageSpans + maskRatio + seed + offset as the
 * forward: the image-key draw is repeated exactly, so the same keys are masked. Deterministic: the
 * same bits at any thread count.
 *
 * @example
 *   const { out, lse } = attention.masked(q, k, v, { causal: true, returnLse: true });
 *   const { dq, dk, dv } = attention.maskedBackward(dOut, q, k, v, out, lse, { causal: true });
 */
export function maskedBackward(dOut: TensorLike, q: TensorLike, k: TensorLike, v: TensorLike, out: TensorLike, lse: TensorLike, options?: MaskedAttentionBackwardOptions): MaskedAttentionGrads {
  const p = prepareBackward(dOut, q, k, v, out, lse, options);
  try {
    imageMask(p, false);
    callOp(ATTENTION_MASKED_BACKWARD, backwardArgs(p), false);
  } catch (e) {
    dropGrads(p);
    throw e;
  }
  if (p.ownMask) p.mask!.dispose();
  return p.grads;
}

/** {@link maskedBackward} off the main thread; bit-identical results. */
export async function maskedBackwardAsync(dOut: TensorLike, q: TensorLike, k: TensorLike, v: TensorLike, out: TensorLike, lse: TensorLike, options?: MaskedAttentionBackwardOptions): Promise<MaskedAttentionGrads> {
  const stack = new Error().stack;
  const p = prepareBackward(dOut, q, k, v, out, lse, options);
  try {
    await withCallerStack(Promise.resolve(imageMask(p, true)), stack);
    await withCallerStack(callOp(ATTENTION_MASKED_BACKWARD, backwardArgs(p), true), stack);
  } catch (e) {
    dropGrads(p);
    throw e;
  }
  if (p.ownMask) p.mask!.dispose();
  return p.grads;
}

/**
 * Rotary position embedding of q or k [B, H, T, d] (Hugging Face rotate_half convention), on the
 * CPU and CUDA. Formula: native/cpp/ops/rotary.h.
 */
import type { FloatDType } from '../dtype';
import { fail } from '../errors';
import type { NativeFn } from '../op_decl';
import { inPlaceOrOut } from '../op_args';
import { prepared, syncAsync } from '../op_call';
import type { Tensor, TensorLike } from '../tensor';
import { boolOpt, checkOptions, numberOpt, outputTensor, sameDevice, shapeStr, tensorArg } from '../validate';
import { ROTARY, ROTARY_BACKWARD } from './rotary.args';

declare module '../native' {
  interface NativeAddon {
    rotary: NativeFn<typeof ROTARY>;
    rotaryBackward: NativeFn<typeof ROTARY_BACKWARD>;
  }
}

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

function prepare(x: TensorLike, options?: RotaryOptions) {
  const op = 'rotary';
  const o = checkOptions(op, options, ['positions', 'offset', 'theta', 'inPlace']);
  const t = tensorArg(op, 'x', x, ROTARY.args[0].dtypes);
  const pos = o.positions === undefined ? undefined : tensorArg(op, 'positions', o.positions, ['int32']);
  sameDevice(op, { x: t, positions: pos });
  const out = inPlaceOrOut(op, t, boolOpt(op, 'inPlace', o.inPlace, false), undefined, 'x') as Tensor<FloatDType>;
  // shapes x [B, H, T, d] / positions [B, T], offset's and theta's ranges: from the declaration (rotary.args.ts)
  const offset = numberOpt(op, 'offset', o.offset, 0, { integer: true, min: 0, max: 2 ** 40 });
  const theta = o.theta === undefined ? 10000 : o.theta;
  return evenHead(prepared(ROTARY, { x: t, out, positions: pos ?? null, offset, theta }, out), op, 'x', t);
}

/** The head dimension d (declared [B, H, T, d], so x has 4 dims once `prepared` checked it) must be even: pairs (i, i + d/2). */
function evenHead<P>(p: P, op: string, name: string, x: Tensor): P {
  if (x.shape[3]! % 2) fail('ERR_SHAPE', op, `expected an even head dimension but received ${name} of shape ${shapeStr(x.shape)}`);
  return p;
}

/**
 * Rotary position embedding of q or k [B, H, T, d] (Hugging Face rotate_half convention): pairs
 * (i, i + d/2) rotated by pos * theta^(-2i/d).
 */
export const [rotary, rotaryAsync] = syncAsync(prepare);

export interface RotaryBackwardOptions {
  /** The forward's positions, int32 [B, T] (default: offset + t). */
  positions?: TensorLike<'int32'>;
  /** The forward's offset (default 0). */
  offset?: number;
  /** The forward's theta (default 10000). */
  theta?: number;
  /** Rotate dy itself (default false: a new tensor). */
  inPlace?: boolean;
  /** Write dx here (same shape and dtype as dy) instead of a new tensor; `out: dy` is the same as inPlace. */
  out?: Tensor;
}

function prepareBackward(dy: TensorLike, options?: RotaryBackwardOptions) {
  const op = 'rotaryBackward';
  const o = checkOptions(op, options, ['positions', 'offset', 'theta', 'inPlace', 'out']);
  const t = tensorArg(op, 'dy', dy, ROTARY_BACKWARD.args[0].dtypes);
  const pos = o.positions === undefined ? undefined : tensorArg(op, 'positions', o.positions, ['int32']);
  sameDevice(op, { dy: t, positions: pos });
  const inPlace = boolOpt(op, 'inPlace', o.inPlace, false);
  if (inPlace && o.out !== undefined && o.out !== t) fail('ERR_ARGUMENT', op, 'expected inPlace or out, not both');
  const dx = inPlace ? t : outputTensor(op, o.out, t.shape, t.dtype as FloatDType, t);
  const offset = numberOpt(op, 'offset', o.offset, 0, { integer: true, min: 0, max: 2 ** 40 });
  const theta = o.theta === undefined ? 10000 : o.theta;
  return evenHead(prepared(ROTARY_BACKWARD, { dy: t, dx, positions: pos ?? null, offset, theta }, dx), op, 'dy', t);
}

/**
 * Gradient of {@link rotary} (the inverse rotation, by -pos * theta^(-2i/d)): dx from dy [B, H, T, d]
 * with the forward's positions/offset/theta; may work in place (inPlace, or out: dy).
 */
export const [rotaryBackward, rotaryBackwardAsync] = syncAsync(prepareBackward);

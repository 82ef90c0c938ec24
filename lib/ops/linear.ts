/**
 * linear: y = x W^T + b, as torch.nn.functional.linear. x [..., in], weight [out, in] (the
 * nn.Linear layout), optional bias [out]; one dtype for all (float32 / float16 / bfloat16),
 * products summed in float32 and y rounded once. CPU: cache-blocked, multithreaded, vectorised,
 * identical results for any thread count; CUDA: shared-memory tiles, a warp per output for decode
 * shapes (at most 8 rows).
 *
 * linearBackward: the gradients of y = x W^T + b from dy = dL/dy: dx = dy W (x's dtype),
 * dWeight (+)= dy^T x summed over every leading dim of x and dBias (+)= sum dy (both float32),
 * float32 accumulation; `accumulate` adds into given float32 buffers (micro-batches).
 */
import type { FloatDType } from '../dtype';
import { fail } from '../errors';
import { withCallerStack } from '../native';
import type { Tensor, TensorLike } from '../tensor';
import { type NativeFn, dtypesOf } from '../op_decl';
import { callOp, type Prepared, prepared, syncAsync } from '../op_call';
import { LINEAR, LINEAR_BACKWARD } from './linear.args';
import { boolOpt, checkOptions, expectShape, outputTensor, sameDevice, shapeStr, tensorArg } from '../validate';

declare module '../native' {
  interface NativeAddon {
    linear: NativeFn<typeof LINEAR>;
    linearBackward: NativeFn<typeof LINEAR_BACKWARD>;
  }
}

export interface LinearOptions {
  /** Bias [out] added to every row, same dtype and device as x (default: none). */
  bias?: TensorLike;
  /** Write into this tensor of shape [..., out] and x's dtype (same device) instead of a new one. */
  out?: Tensor;
}

const OP = 'linear';

function prepare(x: TensorLike, weight: TensorLike, options?: LinearOptions) {
  const o = checkOptions(OP, options, ['bias', 'out']);
  // x [..., K], weight [N, K], bias [N], out [..., N]: declared (checked with the call); one dtype here
  const xt = tensorArg(OP, 'x', x, dtypesOf(LINEAR, 'x'));
  const wt = tensorArg(OP, 'weight', weight, [xt.dtype]);
  const bt = o.bias === undefined ? null : tensorArg(OP, 'bias', o.bias, [xt.dtype]);
  sameDevice(OP, { x: xt, weight: wt, bias: bt ?? undefined });
  const out = outputTensor(OP, o.out, [...xt.shape.slice(0, -1), wt.ndim === 2 ? wt.shape[0]! : 0], xt.dtype, xt);
  return { x: xt, w: wt, b: bt, out };
}

/** linear(x, weight, { bias }) = x weight^T + bias: [..., in] x [out, in] -> [..., out], dtype of x. */
export function linear<D extends FloatDType>(x: TensorLike<D>, weight: TensorLike<D>, options?: LinearOptions): Tensor<D> {
  const p = prepare(x, weight, options);
  callOp(LINEAR, { x: p.x, weight: p.w, bias: p.b, out: p.out }, false);
  return p.out as Tensor<D>;
}

/** {@link linear} off the main thread; bit-identical results. */
export async function linearAsync<D extends FloatDType>(
  x: TensorLike<D>,
  weight: TensorLike<D>,
  options?: LinearOptions,
): Promise<Tensor<D>> {
  const stack = new Error().stack;
  const p = prepare(x, weight, options);
  await withCallerStack(callOp(LINEAR, { x: p.x, weight: p.w, bias: p.b, out: p.out }, true), stack);
  return p.out as Tensor<D>;
}

export interface LinearBackwardOptions {
  /** Compute dx = dy W (x's shape and dtype). Default true. */
  needInput?: boolean;
  /** Compute dWeight = dy^T x summed over every leading dim (float32 [out, in]). Default true. */
  needWeight?: boolean;
  /** Compute dBias = the sum of dy over every leading dim (float32 [out]). Default false. */
  needBias?: boolean;
  /** Add dWeight and dBias into dWeightOut / dBiasOut (required for the gradients asked for) instead of overwriting them; dx is always overwritten. Default false. */
  accumulate?: boolean;
  /** Write dx here (x's shape, dtype and device) instead of a new tensor; needs needInput. */
  dxOut?: Tensor;
  /** Write (or with accumulate add) dWeight here: float32 [out, in] on x's device; needs needWeight. */
  dWeightOut?: Tensor;
  /** Write (or with accumulate add) dBias here: float32 [out] on x's device; needs needBias. */
  dBiasOut?: Tensor;
}

export interface LinearBackwardResult<D extends FloatDType = FloatDType> {
  /** dL/dx, x's shape and dtype (with needInput). */
  dx?: Tensor<D>;
  /** dL/dweight, float32 [out, in] (with needWeight). */
  dWeight?: Tensor<'float32'>;
  /** dL/dbias, float32 [out] (with needBias). */
  dBias?: Tensor<'float32'>;
}

function prepareBackward(dy: TensorLike, x: TensorLike, weight: TensorLike, options?: LinearBackwardOptions): Prepared<LinearBackwardResult> {
  const op = 'linearBackward';
  const o = checkOptions(op, options, ['needInput', 'needWeight', 'needBias', 'accumulate', 'dxOut', 'dWeightOut', 'dBiasOut']);
  // 1. tensors: x [..., in], weight [out, in] and the outputs' shapes are declared (checked with
  // the call), then dy [..., out] as prepare checks it; one dtype here
  const xt = tensorArg(op, 'x', x, dtypesOf(LINEAR_BACKWARD, 'x'));
  const dt = tensorArg(op, 'dy', dy, [xt.dtype]);
  const wt = tensorArg(op, 'weight', weight, [xt.dtype]);
  const [nOut, nIn] = wt.ndim === 2 ? (wt.shape as [number, number]) : [0, 0];
  sameDevice(op, { dy: dt, x: xt, weight: wt });
  // 2. options: what to compute, where
  const needInput = boolOpt(op, 'needInput', o.needInput, true);
  const needWeight = boolOpt(op, 'needWeight', o.needWeight, true);
  const needBias = boolOpt(op, 'needBias', o.needBias, false);
  const accumulate = boolOpt(op, 'accumulate', o.accumulate, false);
  const given = [['dxOut', o.dxOut, needInput, 'needInput'], ['dWeightOut', o.dWeightOut, needWeight, 'needWeight'], ['dBiasOut', o.dBiasOut, needBias, 'needBias']] as const;
  for (const [name, t, need, flag] of given) {
    if (t !== undefined && !need) fail('ERR_ARGUMENT', op, `expected no ${name} with ${flag}: false but received a tensor`);
    if (accumulate && need && name !== 'dxOut' && t === undefined)
      fail('ERR_ARGUMENT', op, `expected ${name} (the float32 buffer to add into) with accumulate: true but received none`);
  }
  const dx = needInput ? outputTensor(op, o.dxOut, xt.shape, xt.dtype as FloatDType, xt, 'dxOut') : null;
  const dWeight = needWeight ? outputTensor(op, o.dWeightOut, [nOut, nIn], 'float32', xt, 'dWeightOut') : null;
  const dBias = needBias ? outputTensor(op, o.dBiasOut, [nOut], 'float32', xt, 'dBiasOut') : null;
  const r: LinearBackwardResult = {};
  if (dx) r.dx = dx;
  if (dWeight) r.dWeight = dWeight;
  if (dBias) r.dBias = dBias;
  const call = prepared(LINEAR_BACKWARD, { dy: dt, x: xt, weight: wt, dx, dWeight, dBias, accumulate }, r);
  expectShape(op, 'dy', dt, [...xt.shape.slice(0, -1), nOut], `x ${shapeStr(xt.shape)} and weight ${shapeStr(wt.shape)}`);
  return call;
}

const [linearBackwardSync, linearBackwardAsyncImpl] = syncAsync(prepareBackward);

/**
 * Gradients of y = linear(x, weight, { bias }) given dy = dL/dy [..., out]: `{ dx, dWeight, dBias }`
 * as asked by needInput / needWeight / needBias (dx = dy weight, dWeight = dy^T x, dBias = sum dy).
 */
export function linearBackward<D extends FloatDType>(dy: TensorLike<D>, x: TensorLike<D>, weight: TensorLike<D>, options?: LinearBackwardOptions): LinearBackwardResult<D> {
  return linearBackwardSync(dy, x, weight, options) as LinearBackwardResult<D>;
}

/** {@link linearBackward} off the main thread; bit-identical results. */
export async function linearBackwardAsync<D extends FloatDType>(
  dy: TensorLike<D>,
  x: TensorLike<D>,
  weight: TensorLike<D>,
  options?: LinearBackwardOptions,
): Promise<LinearBackwardResult<D>> {
  return (await linearBackwardAsyncImpl(dy, x, weight, options)) as LinearBackwardResult<D>;
}

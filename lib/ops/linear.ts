/**
 * linear: y = x W^T + b, as torch.nn.functional.linear. x [..., in], weight [out, in] (the
 * nn.Linear layout), optional bias [out]; one dtype for all (float32 / float16 / bfloat16),
 * products summed in float32 and y rounded once. CPU: cache-blocked, multithreaded, vectorised,
 * identical results for any thread count; CUDA: shared-memory tiles, a warp per output for decode
 * shapes (at most 8 rows).
 */
import { FLOAT_DTYPES, type FloatDType } from '../dtype';
import { fail } from '../errors';
import { withCallerStack } from '../native';
import type { Tensor, TensorLike } from '../tensor';
import type { NativeFn } from '../op_decl';
import { callOp } from '../op_call';
import { LINEAR } from './linear.args';
import { checkOptions, outputTensor, sameDevice, shapeStr, tensorArg } from '../validate';

declare module '../native' {
  interface NativeAddon {
    linear: NativeFn<typeof LINEAR>;
  }
}

export interface LinearOptions {
  /** Bias [out] added to every row, same dtype and device as x (default: none). */
  bias?: TensorLike;
  /** Write into this tensor of shape [..., out] and x's dtype (same device) instead of a new one. */
  out?: Tensor;
}

const OP = 'linear';
const FLOATS = FLOAT_DTYPES;

function prepare(x: TensorLike, weight: TensorLike, options?: LinearOptions) {
  const o = checkOptions(OP, options, ['bias', 'out']);
  const xt = tensorArg(OP, 'x', x, FLOATS);
  const wt = tensorArg(OP, 'weight', weight, [xt.dtype], 2);
  if (xt.ndim < 1) fail('ERR_SHAPE', OP, 'expected x with at least 1 dimension but received a scalar (shape [])');
  const [nOut, nIn] = wt.shape as [number, number];
  if (xt.shape[xt.ndim - 1] !== nIn)
    fail('ERR_SHAPE', OP, `expected x of shape [..., ${nIn}] (from weight ${shapeStr(wt.shape)}) but received ${shapeStr(xt.shape)}`);
  const bt = o.bias === undefined ? null : tensorArg(OP, 'bias', o.bias, [xt.dtype], 1);
  if (bt && bt.shape[0] !== nOut)
    fail('ERR_SHAPE', OP, `expected bias of shape [${nOut}] (from weight ${shapeStr(wt.shape)}) but received ${shapeStr(bt.shape)}`);
  sameDevice(OP, { x: xt, weight: wt, bias: bt ?? undefined });
  const out = outputTensor(OP, o.out, [...xt.shape.slice(0, -1), nOut], xt.dtype, xt);
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

/**
 * optim.adamw / optim.adamwState: PyTorch's torch.optim.AdamW (amsgrad off) over lists of
 * tensors, updating parameters and state in place (that is the op's purpose). Formula:
 * native/cpp/ops/adamw.h. The whole call is validated first (list lengths, shapes, dtypes,
 * devices, no written tensor overlapping any other tensor of the call); then each tensor is one
 * native call (one CUDA launch per tensor), in list order.
 */
import { FLOAT_DTYPES } from '../dtype';
import { fail } from '../errors';
import type { NativeFn } from '../op_decl';
import { callOp, syncAsync, type Prepared } from '../op_call';
import { type Tensor, tensor, zeros } from '../tensor';
import { boolOpt, checkOptions, expectShape, numberArg, numberOpt, sameDevice, shapeStr, tensorArg } from '../validate';
import { ADAMW } from './adamw.args';
import { checkDisjoint, listArg } from './optim_lists';

declare module '../native' {
  interface NativeAddon {
    _adamw: NativeFn<typeof ADAMW>;
  }
}

const OP = 'optim.adamw';

/** AdamW state, one entry per parameter (from {@link adamwState}); updated in place by {@link adamw}. */
export interface AdamwState {
  /** float32 first moments, each the shape of its parameter. */
  readonly m: readonly Tensor[];
  /** float32 second moments, each the shape of its parameter. */
  readonly v: readonly Tensor[];
  /** float32 master copies of float16/bfloat16 parameters (present when created with masterWeights: true). */
  readonly master?: readonly Tensor[];
}

export interface AdamwStateOptions {
  /** Keep float32 master copies of float16/bfloat16 parameters (params are then written as their round-to-nearest-even); default false; float32 params only allow false. */
  masterWeights?: boolean;
}

export interface AdamwOptions {
  /** Learning rate, a finite number >= 0 (default 1e-3). */
  lr?: number;
  /** First-moment decay in [0, 1) (default 0.9). */
  beta1?: number;
  /** Second-moment decay in [0, 1) (default 0.999). */
  beta2?: number;
  /** Added to the bias-corrected sqrt(v), a finite number >= 0 (default 1e-8). */
  eps?: number;
  /** Decoupled weight decay: params scaled by 1 - lr * weightDecay first; a finite number >= 0 (default 1e-2). */
  weightDecay?: number;
  /** The step number t (1 for the first step), an integer >= 1: bias corrections 1 - beta^t. Required. */
  step: number;
}

/**
 * Zeroed float32 moments (and, with masterWeights, float32 copies of the parameters) on the
 * parameters' devices. The master copies of CUDA parameters go through host memory once.
 */
export function adamwState(params: readonly Tensor[], options?: AdamwStateOptions): AdamwState {
  const op = 'optim.adamwState';
  const o = checkOptions(op, options, ['masterWeights']);
  const master = boolOpt(op, 'masterWeights', o.masterWeights, false);
  const ps = listArg(op, 'params', params).map((p, i) => tensorArg(op, `params[${i}]`, p, FLOAT_DTYPES));
  if (master)
    ps.forEach((p, i) => {
      if (p.dtype === 'float32') fail('ERR_DTYPE', op, `expected params[${i}] of dtype float16 or bfloat16 (masterWeights: true) but received float32`);
    });
  const dev = (p: Tensor) => ({ device: p._device < 0 ? ('cpu' as const) : (`cuda:${p._device}` as const) });
  return {
    m: ps.map((p) => zeros(p.shape, 'float32', dev(p))),
    v: ps.map((p) => zeros(p.shape, 'float32', dev(p))),
    ...(master ? { master: ps.map((p) => tensor(p.toFloat32Array(), p.shape, dev(p))) } : {}),
  };
}

interface Resolved {
  params: Tensor[];
  grads: Tensor[];
  m: Tensor[];
  v: Tensor[];
  master: Tensor[] | undefined;
  scalars: { lr: number; beta1: number; beta2: number; eps: number; weightDecay: number; step: number };
}

function resolve(params: readonly Tensor[], grads: readonly Tensor[], state: AdamwState, options: AdamwOptions): Resolved {
  // options
  const o = checkOptions(OP, options, ['lr', 'beta1', 'beta2', 'eps', 'weightDecay', 'step']);
  if (o === undefined || (o as Partial<AdamwOptions>).step === undefined) fail('ERR_ARGUMENT', OP, 'expected options with a step (an integer >= 1) but received none');
  const scalars = {
    lr: numberOpt(OP, 'lr', o.lr, 1e-3, { min: 0 }),
    beta1: numberOpt(OP, 'beta1', o.beta1, 0.9, { min: 0, lt: 1 }),
    beta2: numberOpt(OP, 'beta2', o.beta2, 0.999, { min: 0, lt: 1 }),
    eps: numberOpt(OP, 'eps', o.eps, 1e-8, { min: 0 }),
    weightDecay: numberOpt(OP, 'weightDecay', o.weightDecay, 1e-2, { min: 0 }),
    step: numberArg(OP, 'step', o.step, { integer: true, min: 1, max: 2 ** 53 }),
  };
  // lists
  if (typeof state !== 'object' || state === null) fail('ERR_ARGUMENT', OP, `expected a state object (from optim.adamwState) but received ${state === null ? 'null' : typeof state}`);
  const ps = listArg(OP, 'params', params);
  const n = ps.length;
  const gs = listArg(OP, 'grads', grads, n);
  const ms = listArg(OP, 'state.m', state.m, n);
  const vs = listArg(OP, 'state.v', state.v, n);
  const masters = state.master === undefined ? undefined : listArg(OP, 'state.master', state.master, n);
  const r: Resolved = { params: [], grads: [], m: [], v: [], master: masters ? [] : undefined, scalars };
  for (let i = 0; i < n; i++) {
    const p = tensorArg(OP, `params[${i}]`, ps[i], FLOAT_DTYPES);
    const from = `params[${i}] ${shapeStr(p.shape)}`;
    const g = tensorArg(OP, `grads[${i}]`, gs[i], p.dtype === 'float32' ? ['float32'] : ['float32', p.dtype]);
    expectShape(OP, `grads[${i}]`, g, p.shape, from);
    const m = tensorArg(OP, `state.m[${i}]`, ms[i], ['float32']);
    expectShape(OP, `state.m[${i}]`, m, p.shape, from);
    const v = tensorArg(OP, `state.v[${i}]`, vs[i], ['float32']);
    expectShape(OP, `state.v[${i}]`, v, p.shape, from);
    let mw: Tensor | undefined;
    if (masters) {
      mw = tensorArg(OP, `state.master[${i}]`, masters[i], ['float32']);
      expectShape(OP, `state.master[${i}]`, mw, p.shape, from);
    }
    sameDevice(OP, { 'params[0]': r.params[0] ?? p, [`params[${i}]`]: p, [`grads[${i}]`]: g, [`state.m[${i}]`]: m, [`state.v[${i}]`]: v, [`state.master[${i}]`]: mw });
    r.params.push(p);
    r.grads.push(g);
    r.m.push(m);
    r.v.push(v);
    if (mw) r.master!.push(mw);
  }
  // NB: each native call checks its own tensors; this checks across the list (the same tensor
  // twice, a gradient that is another parameter's moment, ...)
  checkDisjoint(OP, [
    ...r.params.map((t, i) => ({ name: `params[${i}]`, t, write: true })),
    ...r.grads.map((t, i) => ({ name: `grads[${i}]`, t, write: false })),
    ...r.m.map((t, i) => ({ name: `state.m[${i}]`, t, write: true })),
    ...r.v.map((t, i) => ({ name: `state.v[${i}]`, t, write: true })),
    ...(r.master ?? []).map((t, i) => ({ name: `state.master[${i}]`, t, write: true })),
  ]);
  return r;
}

function call(r: Resolved, i: number, async: boolean): unknown {
  const named = { param: r.params[i]!, grad: r.grads[i]!, m: r.m[i]!, v: r.v[i]!, master: r.master?.[i], ...r.scalars };
  return async ? callOp(ADAMW, named, true) : callOp(ADAMW, named, false);
}

function prepare(params: readonly Tensor[], grads: readonly Tensor[], state: AdamwState, options: AdamwOptions): Prepared<void> {
  const r = resolve(params, grads, state, options);
  return {
    run(async: boolean): unknown {
      if (!async) {
        for (let i = 0; i < r.params.length; i++) call(r, i, false);
        return undefined;
      }
      return (async () => {
        for (let i = 0; i < r.params.length; i++) await (call(r, i, true) as Promise<void>);
      })();
    },
    result(): void {},
  };
}

/**
 * One AdamW step (torch.optim.AdamW, amsgrad off) on every parameter, in place: params, state.m,
 * state.v (and state.master) are updated. grads: float32 or the parameter's dtype, same shapes.
 * With state.master the update is done on the float32 master copies and params are written as
 * their rounding. Nothing else is modified. Every list entry is checked (types, lengths, shapes,
 * dtypes, devices, overlaps) before the first tensor is updated; the tensors are then updated one
 * native call each, in list order, so an error only the native layer can see (a buffer detached
 * while adamwAsync runs) leaves the earlier entries updated and the later ones not.
 */
export const [adamw, adamwAsync] = syncAsync(prepare);

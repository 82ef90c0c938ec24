/**
 * optim.clipGradNorm: PyTorch's torch.nn.utils.clip_grad_norm_ (norm_type 2, foreach) over a list
 * of gradients, scaling them in place. Formula: native/cpp/ops/clip_grad_norm.h.
 * 1. per tensor, in list order: its sum of squares in float64 (native, fixed-order partial sums);
 * 2. total = sqrt(sum of those, in list order), in float64 here;
 * 3. coef = min(1, maxNorm / (total + eps)), rounded to float32; when coef < 1 (or NaN) every
 *    gradient is multiplied by it in place.
 */
import { FLOAT_DTYPES } from '../dtype';
import { fail } from '../errors';
import type { NativeFn } from '../op_decl';
import { callOp, syncAsync, type Prepared } from '../op_call';
import { type Tensor, empty } from '../tensor';
import { boolOpt, checkOptions, numberArg, numberOpt, sameDevice, tensorArg } from '../validate';
import { GRAD_SCALE, GRAD_SUM_SQUARES } from './clip_grad_norm.args';
import { checkDisjoint, listArg } from './optim_lists';

declare module '../native' {
  interface NativeAddon {
    _gradSumSquares: NativeFn<typeof GRAD_SUM_SQUARES>;
    _gradScale: NativeFn<typeof GRAD_SCALE>;
  }
}

const OP = 'optim.clipGradNorm';

export interface ClipGradNormOptions {
  /** Added to the total norm in the scale maxNorm / (total + eps); a finite number >= 0 (default 1e-6, as PyTorch). */
  eps?: number;
  /** Throw ERR_RANGE (and leave the gradients unchanged) when the total norm is NaN or infinite; default false: as PyTorch, the gradients are then multiplied by NaN (NaN norm) or 0 (infinite norm). */
  errorIfNonfinite?: boolean;
}

function prepare(grads: readonly Tensor[], maxNorm: number, options?: ClipGradNormOptions): Prepared<number> {
  const o = checkOptions(OP, options, ['eps', 'errorIfNonfinite']);
  const eps = numberOpt(OP, 'eps', o.eps, 1e-6, { min: 0 });
  const strict = boolOpt(OP, 'errorIfNonfinite', o.errorIfNonfinite, false);
  const max = numberArg(OP, 'maxNorm', maxNorm, { min: 0, allowInfinity: true });
  const gs = listArg<Tensor>(OP, 'grads', grads).map((g, i) => tensorArg(OP, `grads[${i}]`, g, FLOAT_DTYPES));
  gs.forEach((g, i) => sameDevice(OP, { 'grads[0]': gs[0], [`grads[${i}]`]: g }));
  checkDisjoint(OP, gs.map((t, i) => ({ name: `grads[${i}]`, t, write: true })));
  const dev = gs.length && gs[0]!._device >= 0 ? (`cuda:${gs[0]!._device}` as const) : ('cpu' as const);
  const sums = gs.map(() => empty([2], 'float32', { device: dev }));
  let total = 0;
  const finish = (): number => {
    let s = 0;
    for (const t of sums) {
      const hl = t.toFloat32Array();
      s += hl[0]! + hl[1]!;
      if (t._device >= 0) t.dispose();
    }
    total = Math.sqrt(s);
    if (strict && !Number.isFinite(total))
      fail('ERR_RANGE', OP, `expected a finite total norm of the gradients (errorIfNonfinite) but received ${total}`);
    // NB: NaN stays NaN (Math.min(1, NaN) is NaN), as torch's clamp
    return Math.fround(Math.min(1, max / (total + eps)));
  };
  const sumCall = (i: number, async: boolean) => (async ? callOp(GRAD_SUM_SQUARES, { x: gs[i]!, out: sums[i]! }, true) : callOp(GRAD_SUM_SQUARES, { x: gs[i]!, out: sums[i]! }, false));
  const scaleCall = (i: number, coef: number, async: boolean) =>
    async ? callOp(GRAD_SCALE, { x: gs[i]!, out: gs[i]!, coef }, true) : callOp(GRAD_SCALE, { x: gs[i]!, out: gs[i]!, coef }, false);
  return {
    run(async: boolean): unknown {
      if (!async) {
        for (let i = 0; i < gs.length; i++) sumCall(i, false);
        const coef = finish();
        if (!(coef >= 1)) for (let i = 0; i < gs.length; i++) scaleCall(i, coef, false);
        return undefined;
      }
      return (async () => {
        for (let i = 0; i < gs.length; i++) await sumCall(i, true);
        const coef = finish();
        if (!(coef >= 1)) for (let i = 0; i < gs.length; i++) await scaleCall(i, coef, true);
      })();
    },
    result: () => total,
  };
}

/**
 * Clips the global L2 norm of `grads` to maxNorm in place (torch.nn.utils.clip_grad_norm_):
 * returns total = ||all grads||_2 (computed in float64, before clipping) and multiplies every
 * gradient by min(1, maxNorm / (total + eps)) when that is below 1. Deterministic: the bits depend
 * on neither the thread count nor the launch shape. A NaN or infinite total scales by NaN or 0
 * (as PyTorch) unless errorIfNonfinite.
 */
export const [clipGradNorm, clipGradNormAsync] = syncAsync(prepare);

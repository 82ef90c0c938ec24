/**
 * dpo.step: one DPO training step on the policy logits of a concatenated forward (TRL's
 * `concatenated_forward`: rows [chosen_1..chosen_B, rejected_1..rejected_B]) given precomputed
 * reference log-probs: sequenceLogps (returnLse) -> loss -> logpsBackward (one pass, in place by
 * default). Returns the loss, its metrics, the policy log-probs and dloss/dlogits.
 */
import { fail } from '../errors';
import { tensor, type Tensor, type TensorLike } from '../tensor';
import { boolOpt, checkOptions, shapeStr, tensorArg } from '../validate';
import {
  computeLoss,
  lossConfig,
  lossResult,
  refArgs,
  weightsArg,
  type DpoLossOptions,
  type DpoLossResult,
} from './dpo_loss';
import {
  logpsBackward,
  logpsBackwardAsync,
  sequenceLogps,
  sequenceLogpsAsync,
  type LogpsRowOptions,
  type SequenceLogpsResult,
} from './sequence_logps';

export interface DpoStepInputs {
  /** Policy logits float32/float16/bfloat16 [2B, T, V], chosen rows first (or packed [N, V] with cuSeqlens of 2B + 1 entries). */
  logits: TensorLike;
  /** int32/int64 [2B, T] (or [N]); ignoreIndex marks prompt/padding/image positions. */
  labels: TensorLike;
  /** float32 [B]: reference log-probs of the chosen responses (omit when reference-free). */
  refChosen?: TensorLike;
  /** float32 [B]: reference log-probs of the rejected responses (omit when reference-free). */
  refRejected?: TensorLike;
}

export interface DpoStepOptions extends DpoLossOptions, Omit<LogpsRowOptions, 'average'> {
  /** Length-average the log-probs: default true for simpo, false otherwise (TRL 1.x: ipo and sigmoid_norm average the summed log-ratios inside the loss). The reference log-probs must be computed the same way. */
  average?: boolean;
  /** Write dloss/dlogits over the logits (default true: no extra [2B, T, V] memory). */
  inPlace?: boolean;
  /** With inPlace: false, write the gradient into this tensor (logits' shape, dtype, device). */
  out?: TensorLike;
}

export interface DpoStepResult extends DpoLossResult {
  /** float32 [B]: policy log-probs of the chosen rows (as passed to the loss). */
  policyChosen: Tensor<'float32'>;
  /** float32 [B]: policy log-probs of the rejected rows. */
  policyRejected: Tensor<'float32'>;
  /** int32 [2B]: scored tokens per row (chosen rows first). */
  counts: Tensor<'int32'>;
  /** dloss/dlogits in the logits' dtype and shape (the logits tensor itself when inPlace). */
  gradLogits: Tensor;
}

const KEYS = [
  'beta', 'type', 'labelSmoothing', 'referenceFree', 'gamma', 'tau', 'weights',
  'ignoreIndex', 'shift', 'average', 'cuSeqlens', 'inPlace', 'out',
] as const;

function prepare(inputs: DpoStepInputs, options: DpoStepOptions | undefined) {
  const op = 'step';
  const o = checkOptions(op, options, KEYS);
  const cfg = lossConfig(op, o);
  if (typeof inputs !== 'object' || inputs === null) fail('ERR_ARGUMENT', op, 'expected { logits, labels, refChosen, refRejected }');
  checkOptions(op, inputs, ['logits', 'labels', 'refChosen', 'refRejected']);
  const logits = tensorArg(op, 'logits', inputs.logits);
  const rows = o.cuSeqlens === undefined ? logits.shape[0] : tensorArg(op, 'cuSeqlens', o.cuSeqlens, ['int32'], 1).shape[0]! - 1;
  if (rows === undefined || rows % 2 !== 0 || rows < 2)
    fail('ERR_SHAPE', op, `expected an even number (>= 2) of sequences, chosen then rejected, but received ${rows ?? 0}`);
  const B = rows / 2;
  const refs = refArgs(op, cfg, inputs, B, `logits ${shapeStr(logits.shape)}: B = half its sequences`, 'logits', logits);
  const weights = weightsArg(op, o.weights, B);
  const inPlace = boolOpt(op, 'inPlace', o.inPlace, true);
  if (inPlace && o.out !== undefined) fail('ERR_ARGUMENT', op, 'expected out only with inPlace: false');
  const rowOpts: LogpsRowOptions = {
    ignoreIndex: o.ignoreIndex,
    shift: o.shift,
    average: cfg.average,
    cuSeqlens: o.cuSeqlens,
  };
  // the loss between the two native passes: B numbers on the host
  const middle = (fwd: SequenceLogpsResult) => {
    const all = fwd.logps.toFloat32Array();
    const pc = Float64Array.from(all.subarray(0, B));
    const pr = Float64Array.from(all.subarray(B));
    const n = fwd.counts.to('cpu').data as Int32Array;
    const counts = { nc: Float64Array.from(n.subarray(0, B)), nr: Float64Array.from(n.subarray(B)) };
    const v = computeLoss(cfg, pc, pr, refs.rc, refs.rr, weights, counts);
    const device = logits._device < 0 ? 'cpu' : `cuda:${logits._device}`;
    const res = lossResult(v, device);
    const g = new Float32Array(2 * B);
    g.set(v.gradChosen);
    g.set(v.gradRejected, B);
    const host = (a: Float32Array) => tensor(a, [a.length]);
    const dev = (t: Tensor<'float32'>) => (device === 'cpu' ? t : (t.to(device as 'cuda') as Tensor<'float32'>));
    return {
      res,
      grad: dev(host(g)),
      policyChosen: dev(host(all.slice(0, B))),
      policyRejected: dev(host(all.slice(B))),
    };
  };
  return { logits, labels: inputs.labels, rowOpts, inPlace, out: o.out, middle };
}

function finish(
  fwd: SequenceLogpsResult,
  m: ReturnType<ReturnType<typeof prepare>['middle']>,
  gradLogits: Tensor,
): DpoStepResult {
  fwd.lse?.dispose();
  m.grad.dispose();
  return { ...m.res, policyChosen: m.policyChosen, policyRejected: m.policyRejected, counts: fwd.counts, gradLogits };
}

/**
 * One DPO step: policy log-probs of the concatenated chosen/rejected rows, the loss against the
 * reference log-probs, and dloss/dlogits (written over the logits unless `inPlace: false`).
 */
export function step(inputs: DpoStepInputs, options?: DpoStepOptions): DpoStepResult {
  const p = prepare(inputs, options);
  const fwd = sequenceLogps(p.logits, p.labels, { ...p.rowOpts, returnLse: true });
  const m = p.middle(fwd);
  const g = logpsBackward(p.logits, p.labels, m.grad, { ...p.rowOpts, lse: fwd.lse, inPlace: p.inPlace, out: p.out });
  return finish(fwd, m, g);
}

/** {@link step} with both native passes off the main thread; bit-identical results. */
export async function stepAsync(inputs: DpoStepInputs, options?: DpoStepOptions): Promise<DpoStepResult> {
  const p = prepare(inputs, options);
  const fwd = await sequenceLogpsAsync(p.logits, p.labels, { ...p.rowOpts, returnLse: true });
  const m = p.middle(fwd);
  const g = await logpsBackwardAsync(p.logits, p.labels, m.grad, { ...p.rowOpts, lse: fwd.lse, inPlace: p.inPlace, out: p.out });
  return finish(fwd, m, g);
}

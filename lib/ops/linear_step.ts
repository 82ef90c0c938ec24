/**
 * dpo.linearStep: one DPO step from the policy's last hidden states and lm_head (chosen rows
 * first, as dpo.step), never materialising the logits. dL/dlogits_t = g_b (onehot - softmax_t)
 * with g_b = dL/dlogp_b known only once every token is scored, so:
 *   trainable head: pass 1 scores the chunks (linearLogps), the loss gives g, pass 2 recomputes
 *     each chunk's logits for dHidden = G W and dLmHead += G^T X (4 GEMMs over the rows, the
 *     unfused path does 3);
 *   frozen head (lmHeadGrad: false): pass 1 also computes u_t = (onehot - softmax_t) W with g = 1
 *     into a float32 [N, H] buffer, and dHidden_t = g_b u_t needs no second pass (2 GEMMs).
 * The loss is lib/ops/dpo_loss.ts (every type and option); `sftWeight` adds the token-mean NLL of
 * the chosen rows (RPO): loss += w * (-sum of chosen token log-probs / chosen tokens).
 */
import { fail } from '../errors';
import { empty, tensor, type Tensor, type TensorLike } from '../tensor';
import { boolOpt, checkOptions, numberOpt, shapeStr } from '../validate';
import { computeLoss, lossConfig, lossResult, refArgs, weightsArg, type DpoLossOptions, type DpoLossResult } from './dpo_loss';
import { CHUNK_KEYS, gradBuffer, linearCall, linearRows, runLinear, runScale, type LinearCall, type LinearChunkOptions } from './linear_logps';

export interface LinearStepInputs {
  /** Policy hidden states float32/float16/bfloat16 [2B, T, H], chosen rows first (or packed [N, H] with cuSeqlens of 2B + 1 entries). */
  hidden: TensorLike;
  /** lm_head weight [V, H], hidden's dtype. */
  lmHead: TensorLike;
  /** int32/int64 [2B, T] (or [N]); ignoreIndex marks prompt/padding/image positions. */
  labels: TensorLike;
  /** float32 [B]: reference log-probs of the chosen responses (omit when reference-free). */
  refChosen?: TensorLike;
  /** float32 [B]: reference log-probs of the rejected responses (omit when reference-free). */
  refRejected?: TensorLike;
}

export interface LinearStepOptions extends DpoLossOptions, LinearChunkOptions {
  /** Label value of positions that are not scored: any safe integer, default -100. */
  ignoreIndex?: number;
  /** true (default): hidden row t scores labels[t + 1] within its sequence; false: labels[t]. */
  shift?: boolean;
  /** Packed input: int32 [2B + 1] offsets of the sequences in hidden [N, H] / labels [N]. */
  cuSeqlens?: TensorLike;
  /** Compute dLmHead (default true); false for a frozen head (LoRA): one pass, no dLmHead. */
  lmHeadGrad?: boolean;
  /** Accumulate dLmHead into this float32 tensor of lmHead's shape (same device) instead of a new one. */
  dLmHead?: TensorLike;
  /** Weight of the chosen rows' token-mean NLL added to the loss (RPO), a finite number >= 0. Default 0. */
  sftWeight?: number;
}

export interface LinearStepResult extends DpoLossResult {
  /** The DPO loss plus sftWeight * sftLoss. */
  loss: number;
  /** Token-mean NLL of the chosen rows (0 when there are none). */
  sftLoss: number;
  /** float32 [B]: policy log-probs of the chosen rows (as passed to the loss). */
  policyChosen: Tensor<'float32'>;
  /** float32 [B]: policy log-probs of the rejected rows. */
  policyRejected: Tensor<'float32'>;
  /** int32 [2B]: scored tokens per row (chosen rows first). */
  counts: Tensor<'int32'>;
  /** dloss/dhidden, hidden's shape and dtype. */
  dHidden: Tensor;
  /** dloss/dlmHead float32 [V, H] (the given tensor, accumulated into); absent with lmHeadGrad: false. */
  dLmHead?: Tensor<'float32'>;
}

const KEYS = [
  'beta', 'type', 'labelSmoothing', 'referenceFree', 'gamma', 'tau', 'weights', 'average',
  'ignoreIndex', 'shift', 'cuSeqlens', 'lmHeadGrad', 'dLmHead', 'sftWeight', ...CHUNK_KEYS,
] as const;

function prepare(inputs: LinearStepInputs, options: LinearStepOptions | undefined) {
  const op = 'linearStep';
  const o = checkOptions(op, options, KEYS);
  const cfg = lossConfig(op, o);
  if (typeof inputs !== 'object' || inputs === null) fail('ERR_ARGUMENT', op, 'expected { hidden, lmHead, labels, refChosen, refRejected }');
  checkOptions(op, inputs, ['hidden', 'lmHead', 'labels', 'refChosen', 'refRejected']);
  const rows = linearRows(op, inputs.hidden, inputs.lmHead, inputs.labels, { ...o, average: cfg.average });
  if (rows.seqs % 2 !== 0 || rows.seqs < 2)
    fail('ERR_SHAPE', op, `expected an even number (>= 2) of sequences, chosen then rejected, but received ${rows.seqs}`);
  const B = rows.seqs / 2;
  const refs = refArgs(op, cfg, inputs, B, `hidden ${shapeStr(rows.hidden.shape)}: B = half its sequences`, 'hidden', rows.hidden);
  const weights = weightsArg(op, o.weights, B);
  const lmHeadGrad = boolOpt(op, 'lmHeadGrad', o.lmHeadGrad, true);
  if (!lmHeadGrad && o.dLmHead !== undefined) fail('ERR_ARGUMENT', op, 'expected dLmHead only with lmHeadGrad: true');
  const dLmHead = lmHeadGrad ? gradBuffer(op, o.dLmHead, rows) : null;
  const sftWeight = numberOpt(op, 'sftWeight', o.sftWeight, 0, { min: 0 });
  const dev = rows.device;
  // pass 1: log-probs; with a frozen head also u = (onehot - softmax) W (g = 1, / n_b with average)
  const first: LinearCall = lmHeadGrad
    ? linearCall(rows)
    : linearCall(rows, { gradLogps: onDevice(new Float32Array(2 * B).fill(1), dev), dHidden: empty(rows.hidden.shape, 'float32', { device: dev }) });
  // the loss between the passes: B numbers on the host
  const middle = () => {
    const all = first.logps.toFloat32Array();
    const n = first.counts.to('cpu').data as Int32Array;
    const pc = Float64Array.from(all.subarray(0, B));
    const pr = Float64Array.from(all.subarray(B));
    const counts = { nc: Float64Array.from(n.subarray(0, B)), nr: Float64Array.from(n.subarray(B)) };
    const v = computeLoss(cfg, pc, pr, refs.rc, refs.rr, weights, counts);
    // SFT term: NLL = -sum_b S_b / sum_b n_b over chosen rows, S_b = logp_b (* n_b when averaged)
    let nTok = 0;
    let sTok = 0;
    for (let b = 0; b < B; ++b) {
      nTok += n[b]!;
      sTok += cfg.average ? pc[b]! * n[b]! : pc[b]!;
    }
    const sftLoss = nTok > 0 ? -sTok / nTok : 0;
    const g = new Float32Array(2 * B);
    for (let b = 0; b < B; ++b) {
      const sft = sftWeight > 0 && nTok > 0 ? (-sftWeight * (cfg.average ? n[b]! : 1)) / nTok : 0;
      g[b] = v.gradChosen[b]! + sft;
      g[B + b] = v.gradRejected[b]!;
    }
    const res = lossResult(v, dev);
    return {
      res: { ...res, loss: v.loss + sftWeight * sftLoss, sftLoss },
      grad: onDevice(g, dev),
      policyChosen: onDevice(all.slice(0, B), dev),
      policyRejected: onDevice(all.slice(B), dev),
    };
  };
  const second = (grad: Tensor<'float32'>): LinearCall | null =>
    lmHeadGrad ? linearCall(rows, { gradLogps: grad, dHidden: empty(rows.hidden.shape, rows.hidden.dtype, { device: dev }), dLmHead: dLmHead! }) : null;
  return { rows, first, middle, second };
}

function onDevice(a: Float32Array, dev: string): Tensor<'float32'> {
  const h = tensor(a, [a.length]);
  return dev === 'cpu' ? h : (h.to(dev as 'cuda') as Tensor<'float32'>);
}

type Prep = ReturnType<typeof prepare>;

function finish(p: Prep, m: ReturnType<Prep['middle']>, dHidden: Tensor, second: LinearCall | null): LinearStepResult {
  const f = p.first;
  f.perToken.dispose();
  f.logps.dispose();
  f.gradLogps?.dispose();
  if (f.dHidden && f.dHidden !== dHidden) f.dHidden.dispose();
  if (second) for (const t of [second.logps, second.counts, second.perToken]) t.dispose();
  m.grad.dispose();
  const r: LinearStepResult = { ...m.res, policyChosen: m.policyChosen, policyRejected: m.policyRejected, counts: f.counts, dHidden };
  if (second?.dLmHead) r.dLmHead = second.dLmHead;
  return r;
}

/**
 * One DPO step from hidden states: policy log-probs of the concatenated chosen/rejected rows, the
 * loss against the reference log-probs, dloss/dhidden and (unless lmHeadGrad: false) dloss/dlmHead.
 */
export function linearStep(inputs: LinearStepInputs, options?: LinearStepOptions): LinearStepResult {
  const p = prepare(inputs, options);
  runLinear(p.first, false);
  const m = p.middle();
  const s = p.second(m.grad);
  let dHidden: Tensor;
  if (s) {
    runLinear(s, false);
    dHidden = s.dHidden!;
  } else {
    dHidden = empty(p.rows.hidden.shape, p.rows.hidden.dtype, { device: p.rows.device });
    runScale(p.rows, p.first.dHidden!, m.grad, dHidden, false);
  }
  return finish(p, m, dHidden, s);
}

/** {@link linearStep} with both native passes off the main thread; bit-identical results. */
export async function linearStepAsync(inputs: LinearStepInputs, options?: LinearStepOptions): Promise<LinearStepResult> {
  const p = prepare(inputs, options);
  await runLinear(p.first, true);
  const m = p.middle();
  const s = p.second(m.grad);
  let dHidden: Tensor;
  if (s) {
    await runLinear(s, true);
    dHidden = s.dHidden!;
  } else {
    dHidden = empty(p.rows.hidden.shape, p.rows.hidden.dtype, { device: p.rows.device });
    await runScale(p.rows, p.first.dHidden!, m.grad, dHidden, true);
  }
  return finish(p, m, dHidden, s);
}

/**
 * Namespace `dpo`: fused per-sequence log-probabilities and their gradient into the logits, the
 * DPO loss family, and a one-call DPO step (docs/dpo.md).
 */
export {
  sequenceLogps,
  sequenceLogpsAsync,
  logpsBackward,
  logpsBackwardAsync,
  type LogpsRowOptions,
  type SequenceLogpsOptions,
  type SequenceLogpsResult,
  type LogpsBackwardOptions,
} from '../ops/sequence_logps';
export {
  loss,
  lossAsync,
  DPO_LOSS_TYPES,
  type DpoLossType,
  type DpoLossInputs,
  type DpoLossOptions,
  type DpoLossResult,
} from '../ops/dpo_loss';
export { step, stepAsync, type DpoStepInputs, type DpoStepOptions, type DpoStepResult } from '../ops/dpo_step';
export { linearLogps, linearLogpsAsync, type LinearLogpsOptions, type LinearChunkOptions } from '../ops/linear_logps';
export { linearStep, linearStepAsync, type LinearStepInputs, type LinearStepOptions, type LinearStepResult } from '../ops/linear_step';

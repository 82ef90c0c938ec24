/** Namespace `train`: one-call training steps of a LlamaModel (DPO, SFT) and the AdamW optimizer object. */
export { AdamW, type AdamWOptions, type AdamWStepResult } from '../train/optimizer';
export { dpoStep, sftStep, type DpoStepBatch, type DpoStepMetrics, type DpoStepOptions, type SftStepOptions, type StepBatch, type StepMetrics } from '../train/steps';

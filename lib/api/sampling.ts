/** Namespace `sampling`: the fused token sampler (Hugging Face processor order) and VCD logits. */
export { sample, sampleAsync, type SampleOptions, type SampleResult, type Seed } from '../ops/sample';
export { contrastive, contrastiveAsync, type ContrastiveOptions } from '../ops/contrastive';

/**
 * Records -> training batches: each row is [Nv image placeholder tokens] + prompt + answer, right
 * padded; labels score the answer only (-100 on image, prompt and padding; the steps shift).
 * DPO batches hold the chosen rows, then the rejected rows (2B rows).
 */
import { fail } from '../errors';
import type { DpoStepBatch, StepBatch } from '../train/steps';
import { Tensor, moveTo, tensor } from '../tensor';
import type { PreferenceRecord } from './data';

const IGNORE = -100;

function rowsBatch(op: string, recs: readonly PreferenceRecord[], answers: readonly number[][], imageToken: number): StepBatch {
  const withImage = recs.filter((r) => r.image).length;
  if (withImage && withImage !== recs.length) fail('ERR_FORMAT', op, `expected every record of a batch with an image, or none, but line ${recs.find((r) => !r.image)?.line} has none`);
  const shape = recs[0]!.image?.shape;
  if (shape) for (const r of recs) if (r.image!.shape[0] !== shape[0] || r.image!.shape[1] !== shape[1]) fail('ERR_SHAPE', op, `expected image features [${shape.join(', ')}] like the batch's first record but received [${r.image!.shape.join(', ')}] at line ${r.line}`);
  const nv = shape ? shape[0] : 0;
  const n = answers.length;
  const rowRecs = answers.map((_, i) => recs[i % recs.length]!);
  const lens = answers.map((a, i) => nv + rowRecs[i]!.prompt.length + a.length);
  const T = Math.max(...lens);
  const tok = new Int32Array(n * T);
  const lab = new Int32Array(n * T).fill(IGNORE);
  const mask: boolean[] = new Array<boolean>(n * T).fill(false);
  answers.forEach((a, i) => {
    const r = rowRecs[i]!;
    const row = [...new Array<number>(nv).fill(imageToken), ...r.prompt, ...a];
    row.forEach((t, j) => {
      tok[i * T + j] = t;
      mask[i * T + j] = true;
      if (j >= nv + r.prompt.length) lab[i * T + j] = t;
    });
  });
  const b: StepBatch = { tokens: tensor(tok, [n, T]), labels: tensor(lab, [n, T]) };
  if (lens.some((l) => l < T)) b.attentionMask = tensor(mask, [n, T]);
  if (shape) {
    const vf = new Float32Array(n * shape[0] * shape[1]);
    rowRecs.forEach((r, i) => vf.set(r.image!.features, i * shape[0] * shape[1]));
    b.visualFeatures = tensor(vf, [n, shape[0], shape[1]]);
    b.imageStarts = new Array<number>(n).fill(0);
  }
  return b;
}

/** SFT batch: one row per record (prompt + chosen). */
export function sftBatch(recs: readonly PreferenceRecord[], imageToken = 0): StepBatch {
  return rowsBatch('recipes.sftBatch', recs, recs.map((r) => r.chosen), imageToken);
}

/** DPO batch: chosen rows, then rejected rows (every record needs `rejected`). */
export function dpoBatch(recs: readonly PreferenceRecord[], imageToken = 0): DpoStepBatch {
  const op = 'recipes.dpoBatch';
  for (const r of recs) if (!r.rejected) fail('ERR_FORMAT', op, `expected 'rejected' token ids for DPO but line ${r.line} has none`);
  return rowsBatch(op, recs, [...recs.map((r) => r.chosen), ...recs.map((r) => r.rejected!)], imageToken);
}

/** The batch's tensors on `device` (a CUDA model's): the host tensors it replaces are disposed. */
export function onDevice<B extends StepBatch>(b: B, device: 'cpu' | `cuda:${number}`): B {
  const out = { ...b };
  for (const k of ['tokens', 'labels', 'attentionMask', 'visualFeatures'] as const)
    if (b[k] instanceof Tensor) (out as Record<string, unknown>)[k] = moveTo(b[k] as Tensor, device);
  return out;
}

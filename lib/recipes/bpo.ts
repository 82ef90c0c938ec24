/**
 * BPO (arXiv 2403.08730; /work/shared/METHODS.md §3), image weakening: the policy answers the
 * prompt with VCD sampling (sampling.contrastive, §2) between the clean image and its weakened
 * copy (noise.diffuse of the image features at step 900 of the VCD sigmoid schedule), alpha 1,
 * beta 0.2, temperature 0.2 (the released BPO script's settings); the answer becomes the rejected
 * one. A negative alpha amplifies the weakened branch (text-biased negatives; METHODS.md §3 notes
 * the sign was experimented with). Then DPO with beta 0.1 and LoRA r 32, alpha 256 (the released
 * LLaVA recipe). Not implemented: error injection (§3.2) and the pair combinatorics.
 */
import type { LlamaModel } from '../models/llama';
import { diffuse } from '../ops/diffuse';
import { contrastive } from '../ops/contrastive';
import { sample } from '../ops/sample';
import { tensor, type Tensor } from '../tensor';
import type { FloatDType } from '../dtype';
import { checkOptions, numberOpt } from '../validate';
import { promptInputs } from './bdhs';
import type { PreferenceRecord } from './data';
import { TrainingRun, trainRecipe, type RecordSource, type TrainOptions, type TrainResult } from './runner';
import { fail } from '../errors';

export interface BpoGenerateOptions {
  /** Diffusion step of the weakened image (default 900 of 1000, VCD sigmoid schedule). */
  noiseStep?: number;
  /** VCD alpha (default 1) and beta (plausibility cutoff, default 0.2). */
  alpha?: number;
  beta?: number;
  /** Sampling temperature (default 0.2) and seed (default 0; record i uses seed + i). */
  temperature?: number;
  seed?: number;
  /** New tokens per answer (default: the chosen answer's length). */
  maxNewTokens?: number;
  stopTokens?: readonly number[];
  imageToken?: number;
}

/** The BPO defaults of METHODS.md §2-§3 (released BPO scripts). */
export const BPO_DEFAULTS = { noiseStep: 900, alpha: 1, beta: 0.2, temperature: 0.2, dpoBeta: 0.1, loraRank: 32, loraAlpha: 256 } as const;

function weaken(r: PreferenceRecord, t: number, seed: number): PreferenceRecord {
  if (!r.image) return r;
  const x0 = tensor(r.image.features, [1, r.image.shape[0], r.image.shape[1]]);
  const d = diffuse(x0, { t, seed, offset: 0 });
  const out = { ...r, image: { features: Float32Array.from(d.xt.toFloat32Array()), shape: r.image.shape } };
  x0.dispose();
  d.xt.dispose();
  return out;
}

/** Generates one VCD answer per record (see the module comment): records with `rejected` set. */
export async function bpoRejected(model: LlamaModel, data: RecordSource, options: BpoGenerateOptions = {}): Promise<PreferenceRecord[]> {
  const op = 'recipes.bpoRejected';
  const o = checkOptions(op, options, ['noiseStep', 'alpha', 'beta', 'temperature', 'seed', 'maxNewTokens', 'stopTokens', 'imageToken']);
  const t = numberOpt(op, 'noiseStep', o.noiseStep, BPO_DEFAULTS.noiseStep, { integer: true, min: 0, max: 999 });
  const alpha = numberOpt(op, 'alpha', o.alpha, BPO_DEFAULTS.alpha);
  const beta = numberOpt(op, 'beta', o.beta, BPO_DEFAULTS.beta, { min: 0, max: 1 });
  const temperature = numberOpt(op, 'temperature', o.temperature, BPO_DEFAULTS.temperature, { min: 0 });
  const seed = numberOpt(op, 'seed', o.seed, 0, { integer: true, min: 0 });
  const V = model.config.vocabSize;
  const out: PreferenceRecord[] = [];
  let i = 0;
  for await (const r of data as AsyncIterable<PreferenceRecord>) {
    const maxNew = o.maxNewTokens === undefined ? r.chosen.length : numberOpt(op, 'maxNewTokens', o.maxNewTokens, 1, { integer: true, min: 1 });
    const branches = [r, weaken(r, t, seed + i)].map((rec) => {
      const p = promptInputs(model, rec, o.imageToken ?? 0);
      const x = (p.inputEmbeds ?? model.embedTokens(tensor(Int32Array.from(p.tokens![0]!), [1, p.tokens![0]!.length]))) as Tensor<FloatDType>;
      return { x, cache: model.createCache(1, x.shape[1]! + maxNew) };
    });
    const answer: number[] = [];
    for (let step = 0; step < maxNew; step++) {
      const [lc, ld] = branches.map((b) => {
        const f = model.forward(b.x, b.cache, { logits: 'last' });
        f.hidden.dispose();
        b.x.dispose();
        return f.logits.reshape([1, V]);
      }) as [Tensor, Tensor];
      const cd = contrastive(lc, ld, { alpha, beta });
      const s = sample(cd, { temperature, seed: seed + i, step });
      const tok = s.tokens.toArray()[0] as number;
      for (const x of [lc, ld, cd, s.tokens, s.logprobs]) x.dispose();
      answer.push(tok);
      if (o.stopTokens?.includes(tok)) break;
      for (const b of branches) b.x = model.embedTokens(tensor(Int32Array.from([tok]), [1, 1])) as Tensor<FloatDType>;
    }
    for (const b of branches) {
      if (!b.x.disposed) b.x.dispose();
      b.cache.dispose?.();
    }
    out.push({ ...r, rejected: answer });
    i++;
  }
  return out;
}

export interface BpoOptions extends Omit<TrainOptions, 'kind' | 'noise'> {
  generate?: BpoGenerateOptions;
}

/** BPO: bpoRejected, then DPO (beta 0.1, LoRA r 32 alpha 256 unless given). */
export function bpo(model: LlamaModel, data: RecordSource, options: BpoOptions): TrainingRun {
  const { generate: g, ...train } = options;
  return new TrainingRun(async (run) => {
    const records = await bpoRejected(model, data, g);
    if (!records.length) fail('ERR_ARGUMENT', 'recipes.bpo', 'expected at least one record but received none');
    const inner = trainRecipe(model, records, {
      ...train,
      kind: 'dpo',
      dpo: { beta: BPO_DEFAULTS.dpoBeta, ...train.dpo },
      lora: { rank: BPO_DEFAULTS.loraRank, alpha: BPO_DEFAULTS.loraAlpha, ...train.lora },
    });
    inner.on('step', (e) => run.emit('step', e));
    inner.on('checkpoint', (e) => run.emit('checkpoint', e));
    return inner.result as Promise<TrainResult>;
  });
}

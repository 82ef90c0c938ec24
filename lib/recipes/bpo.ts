/**
 * BPO (arXiv 2403.08730; /work/shared/METHODS.md §3), image weakening: the policy answers the
 * prompt with VCD sampling (sampling.contrastive, §2) between the clean image and its weakened
 * copy (noise.diffuse of the image features at step 900 of the VCD sigmoid schedule), alpha 1,
 * beta 0.2, temperature 0.2 (the released BPO script's settings); the answer becomes the rejected
 * one. A negative alpha amplifies the weakened branch (text-biased negatives; METHODS.md §3 notes
 * the sign was experimented with). Then DPO with beta 0.1 and LoRA r 32, alpha 256 (the released
 * LLaVA recipe).
 *
 * Error injection (§3 item 2, bpoErrorInjection): the text-only base LLM (the same model, adapters
 * off, no image features) rewrites the chosen answer after a few-shot prompt, sampled at
 * temperature 0.8, top-p 0.95, at most 1024 new tokens (the released script's vLLM settings).
 * Pairs (bpoPairs, from llava/train/bpo_llava.py): every 2-combination of a sample's completions
 * with unequal scores (chosen 1, negatives 0), higher score chosen; samples with a completion
 * longer than filterSize (350) tokens are dropped.
 */
import type { LlamaModel } from '../models/llama';
import { diffuse } from '../ops/diffuse';
import { contrastive } from '../ops/contrastive';
import { sample } from '../ops/sample';
import { Tensor, tensor } from '../tensor';
import type { FloatDType } from '../dtype';
import { checkOptions, numberOpt } from '../validate';
import { generate } from '../models/generate';
import { onModel, promptInputs } from './bdhs';
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
  /**
   * Your vision encoder (e.g. CLIP in onnxruntime-node), for records with raw `pixels`: BPO weakens
   * the image itself (METHODS.md §3), so the weakened branch's features are
   * `encodeImage(diffuse(pixels, t))`, and the clean branch's are the record's `image` or
   * `encodeImage(pixels)`. Returns features [Nv, Dv] (float32).
   */
  encodeImage?: (pixels: Tensor<'float32'>, record: PreferenceRecord) => EncodedImage | Promise<EncodedImage>;
}

/** What encodeImage returns: a float32 [Nv, Dv] tensor, or the features with their shape. */
export type EncodedImage = Tensor | { features: Float32Array; shape: [number, number] };

/** The BPO defaults of METHODS.md §2-§3 (released BPO scripts). */
export const BPO_DEFAULTS = {
  noiseStep: 900, alpha: 1, beta: 0.2, temperature: 0.2, dpoBeta: 0.1, loraRank: 32, loraAlpha: 256,
  /** Error injection sampling (vLLM in error_injection.py) and the pair filter (bpo_llava.py filter_size, in tokens here). */
  injection: { temperature: 0.8, topP: 0.95, maxNewTokens: 1024 },
  filterSize: 350,
  /** finetune_bpo.sh: cosine schedule, warmup ratio 0.03 (METHODS.md §3) */
  lrSchedule: { type: 'cosine', warmupRatio: 0.03 },
} as const;

async function encoded(op: string, enc: NonNullable<BpoGenerateOptions['encodeImage']>, pixels: Float32Array, shape: readonly number[], r: PreferenceRecord): Promise<PreferenceRecord['image']> {
  const e = await enc(tensor(pixels, shape), r);
  if (!(e instanceof Tensor)) {
    const [nv, dv] = e?.shape ?? [];
    if (!(e?.features instanceof Float32Array) || !Number.isSafeInteger(nv) || !Number.isSafeInteger(dv) || nv! * dv! !== e.features.length)
      fail('ERR_SHAPE', op, `expected encodeImage to return float32 features [Nv, Dv] but received ${e?.shape ? `shape [${e.shape.join(', ')}] over ${e.features?.length} values` : 'no shape'}`);
    return { features: e.features, shape: [nv!, dv!] };
  }
  if (e.shape.length !== 2) fail('ERR_SHAPE', op, `expected encodeImage to return a [Nv, Dv] tensor but received shape [${e.shape.join(', ')}]`);
  return { features: Float32Array.from(e.toFloat32Array()), shape: [e.shape[0]!, e.shape[1]!] };
}

/** `data` of `shape` diffused to step t (Philox seed, offset 0), as a new array. */
function diffused(data: Float32Array, shape: readonly number[], t: number, seed: number): Float32Array {
  const x0 = tensor(data, [1, ...shape]);
  const d = diffuse(x0, { t, seed, offset: 0 });
  const out = Float32Array.from(d.xt.toFloat32Array());
  x0.dispose();
  d.xt.dispose();
  return out;
}

/** The clean and the weakened record: raw pixels are diffused and go through encodeImage, else the features are diffused. */
async function branchesOf(op: string, r: PreferenceRecord, t: number, seed: number, enc: BpoGenerateOptions['encodeImage']): Promise<[PreferenceRecord, PreferenceRecord]> {
  if (!r.pixels) return [r, r.image ? { ...r, image: { features: diffused(r.image.features, r.image.shape, t, seed), shape: r.image.shape } } : r];
  if (!enc) fail('ERR_ARGUMENT', op, `expected encodeImage (your vision encoder) for record line ${r.line}'s raw pixels but received none`);
  const { data, shape } = r.pixels;
  const weak = await encoded(op, enc!, diffused(data, shape, t, seed), shape, r);
  const clean = r.image ?? (await encoded(op, enc!, data, shape, r));
  return [{ ...r, image: clean }, { ...r, image: weak }];
}

/** Generates one VCD answer per record (see the module comment): records with `rejected` set. */
export async function bpoRejected(model: LlamaModel, data: RecordSource, options: BpoGenerateOptions = {}): Promise<PreferenceRecord[]> {
  const op = 'recipes.bpoRejected';
  const o = checkOptions(op, options, ['noiseStep', 'alpha', 'beta', 'temperature', 'seed', 'maxNewTokens', 'stopTokens', 'imageToken', 'encodeImage']);
  if (o.encodeImage !== undefined && typeof o.encodeImage !== 'function') fail('ERR_ARGUMENT', op, `expected encodeImage to be a function but received ${typeof o.encodeImage}`);
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
    const pair = await branchesOf(op, r, t, seed + i, o.encodeImage);
    const branches = pair.map((rec) => {
      const p = promptInputs(model, rec, o.imageToken ?? 0);
      const x = (p.inputEmbeds ?? model.embedTokens(onModel(model, tensor(Int32Array.from(p.tokens![0]!), [1, p.tokens![0]!.length])))) as Tensor<FloatDType>;
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
      for (const b of branches) b.x = model.embedTokens(onModel(model, tensor(Int32Array.from([tok]), [1, 1]))) as Tensor<FloatDType>;
    }
    for (const b of branches) {
      if (!b.x.disposed) b.x.dispose();
      b.cache.dispose?.();
    }
    out.push({ ...pair[0], rejected: answer }); // with raw pixels: the clean features for training
    i++;
  }
  return out;
}

/**
 * mmpref's wording of the few-shot error-injection prompt, written from the description in
 * METHODS.md §3 (the released script's exact text is not reproduced): the chosen answer goes
 * between `before` and `after`.
 */
export const ERROR_INJECTION_TEMPLATE = {
  before:
    'Rewrite the answer so that it still reads fluently and plausibly but is wrong about the image: change some objects, ' +
    'their number, colour, size or position, and keep the rest.\n\n' +
    'Answer: Two dogs are lying on the grass next to a red ball.\nRewritten: Three cats are lying on the sand next to a blue frisbee.\n\n' +
    'Answer: A man in a white shirt is holding an umbrella.\nRewritten: A woman in a black coat is holding a handbag.\n\n' +
    'Answer: ',
  after: '\nRewritten:',
} as const;

export interface BpoErrorInjectionOptions {
  /** The full prompt of a record as token ids (overrides template and tokenize). */
  prompt?: (record: PreferenceRecord) => readonly number[];
  /** Text (needs tokenize) or token ids around the chosen answer (default ERROR_INJECTION_TEMPLATE). */
  template?: { before: string | readonly number[]; after: string | readonly number[] };
  /** Your tokenizer, for a text template (mmpref has none). */
  tokenize?: (text: string) => readonly number[];
  /** Sampling temperature (default 0.8), top-p (default 0.95), new tokens (default 1024): METHODS.md §3. */
  temperature?: number;
  topP?: number;
  maxNewTokens?: number;
  /** A rewrite stops after one of these (e.g. EOS, or a newline id). */
  stopTokens?: readonly number[];
  /** Sampler seed (default 0; record i uses seed + i). */
  seed?: number;
}

function templateIds(op: string, v: string | readonly number[], name: string, tokenize: BpoErrorInjectionOptions['tokenize']): number[] {
  if (typeof v === 'string') {
    if (!tokenize) fail('ERR_ARGUMENT', op, `expected a tokenize function for the text template (${name}), a template of token ids or a prompt function but received none`);
    v = tokenize(v);
  }
  if (!Array.isArray(v) || !v.every((t) => Number.isSafeInteger(t) && t >= 0))
    fail('ERR_ARGUMENT', op, `expected template.${name} as text or non-negative integer token ids but received ${JSON.stringify(v)?.slice(0, 60)}`);
  return [...v];
}

/**
 * Error injection (METHODS.md §3 item 2): the text-only base LLM rewrites each chosen answer; returns
 * the records with `rejected` = the rewrite. The model's adapters are off during the call (restored
 * after) and image features are not used.
 */
export async function bpoErrorInjection(model: LlamaModel, data: RecordSource, options: BpoErrorInjectionOptions = {}): Promise<PreferenceRecord[]> {
  const op = 'recipes.bpoErrorInjection';
  const o = checkOptions(op, options, ['prompt', 'template', 'tokenize', 'temperature', 'topP', 'maxNewTokens', 'stopTokens', 'seed']);
  const d = BPO_DEFAULTS.injection;
  const temperature = numberOpt(op, 'temperature', o.temperature, d.temperature, { min: 0 });
  const topP = numberOpt(op, 'topP', o.topP, d.topP, { min: 0, max: 1 });
  const maxNew = numberOpt(op, 'maxNewTokens', o.maxNewTokens, d.maxNewTokens, { integer: true, min: 1 });
  const seed = numberOpt(op, 'seed', o.seed, 0, { integer: true, min: 0 });
  if (o.prompt !== undefined && typeof o.prompt !== 'function') fail('ERR_ARGUMENT', op, `expected prompt as a function (record) => token ids but received ${typeof o.prompt}`);
  let around: [number[], number[]] | undefined;
  if (!o.prompt) {
    const tpl = o.template ?? ERROR_INJECTION_TEMPLATE;
    around = [templateIds(op, tpl.before, 'before', o.tokenize), templateIds(op, tpl.after, 'after', o.tokenize)];
  }
  const lora = model.loraConfig !== undefined;
  const was = model.adaptersEnabled;
  if (lora) model.setAdaptersEnabled(false);
  const out: PreferenceRecord[] = [];
  try {
    let i = 0;
    for await (const r of data as AsyncIterable<PreferenceRecord>) {
      const ids = o.prompt ? [...o.prompt(r)] : [...around![0], ...r.chosen, ...around![1]];
      if (!ids.length) fail('ERR_ARGUMENT', op, `expected a non-empty error-injection prompt but received none for line ${r.line}`);
      const res = await generate(model, {
        tokens: [ids],
        maxNewTokens: maxNew,
        sampler: { temperature, topP, seed: seed + i },
        ...(o.stopTokens ? { stopTokens: o.stopTokens } : {}),
      }).result;
      out.push({ ...r, rejected: Array.from(res.tokens[0]!) });
      i++;
    }
  } finally {
    if (lora) model.setAdaptersEnabled(was);
  }
  return out;
}

/** One sample for bpoPairs: its record and scored completions (the chosen answer among them). */
export interface BpoSample {
  record: PreferenceRecord;
  completions: readonly { tokens: readonly number[]; score: number }[];
}

/**
 * BPO pair construction (bpo_llava.py): every 2-combination of a sample's completions with unequal
 * scores, the higher score chosen (ties skipped); a sample with any completion longer than
 * `filterSize` tokens (default 350; the released code counts whitespace words) is dropped.
 */
export function bpoPairs(samples: readonly BpoSample[], options: { filterSize?: number } = {}): { records: PreferenceRecord[]; dropped: number } {
  const op = 'recipes.bpoPairs';
  const o = checkOptions(op, options, ['filterSize']);
  const size = numberOpt(op, 'filterSize', o.filterSize, BPO_DEFAULTS.filterSize, { integer: true, min: 1 });
  const records: PreferenceRecord[] = [];
  let dropped = 0;
  for (const s of samples) {
    if (s.completions.some((c) => c.tokens.length > size)) {
      dropped++;
      continue;
    }
    const c = s.completions;
    for (let a = 0; a < c.length; a++)
      for (let b = a + 1; b < c.length; b++) {
        if (c[a]!.score === c[b]!.score) continue;
        const [hi, lo] = c[a]!.score > c[b]!.score ? [c[a]!, c[b]!] : [c[b]!, c[a]!];
        records.push({ ...s.record, chosen: [...hi.tokens], rejected: [...lo.tokens] });
      }
  }
  return { records, dropped };
}

export const BPO_GENERATORS = ['weakening', 'injection'] as const;
export type BpoGenerator = (typeof BPO_GENERATORS)[number];

export interface BpoDatasetOptions {
  /** Negative generators (default ['weakening']; 'injection' needs a prompt, an id template or tokenize). */
  generators?: readonly BpoGenerator[];
  /** Image weakening options (bpoRejected). */
  weakening?: BpoGenerateOptions;
  /** Error injection options (bpoErrorInjection). */
  injection?: BpoErrorInjectionOptions;
  /** Longest completion kept, in tokens (default 350). */
  filterSize?: number;
}

/** BPO preference pairs: each record's chosen answer (score 1) against every generator's negative (score 0), through bpoPairs. */
export async function bpoDataset(model: LlamaModel, data: RecordSource, options: BpoDatasetOptions = {}): Promise<{ records: PreferenceRecord[]; dropped: number }> {
  const op = 'recipes.bpoDataset';
  const o = checkOptions(op, options, ['generators', 'weakening', 'injection', 'filterSize']);
  const gens = o.generators ?? ['weakening'];
  if (!Array.isArray(gens) || !gens.length || gens.some((g) => !(BPO_GENERATORS as readonly string[]).includes(g)))
    fail('ERR_ARGUMENT', op, `expected generators as a non-empty list of ${BPO_GENERATORS.join(', ')} but received ${JSON.stringify(gens)}`);
  const recs: PreferenceRecord[] = [];
  for await (const r of data as AsyncIterable<PreferenceRecord>) recs.push(r);
  const negs: PreferenceRecord[][] = [];
  let base = recs; // the training records: with raw pixels, the weakening's (they carry the clean encoded features)
  for (const g of new Set(gens)) {
    const n = g === 'weakening' ? (base = await bpoRejected(model, recs, o.weakening)) : await bpoErrorInjection(model, recs, o.injection);
    negs.push(n);
  }
  const samples = recs.map((r, i) => ({ record: base[i]!, completions: [{ tokens: r.chosen, score: 1 }, ...negs.map((n) => ({ tokens: n[i]!.rejected!, score: 0 }))] }));
  return bpoPairs(samples, o.filterSize === undefined ? {} : { filterSize: o.filterSize });
}

export interface BpoOptions extends Omit<TrainOptions, 'kind' | 'noise'> {
  /** Image weakening options. */
  generate?: BpoGenerateOptions;
  /** Negative generators (default ['weakening']). */
  generators?: readonly BpoGenerator[];
  /** Error injection options (with 'injection' in generators). */
  injection?: BpoErrorInjectionOptions;
  /** Longest completion kept, in tokens (default 350). */
  filterSize?: number;
}

/** BPO: bpoDataset (image weakening, and error injection when asked), then DPO (beta 0.1, LoRA r 32 alpha 256 unless given). */
export function bpo(model: LlamaModel, data: RecordSource, options: BpoOptions): TrainingRun {
  const { generate: g, generators, injection, filterSize, ...train } = options;
  return new TrainingRun(async (run) => {
    const { records } = await bpoDataset(model, data, {
      ...(g ? { weakening: g } : {}),
      ...(generators ? { generators } : {}),
      ...(injection ? { injection } : {}),
      ...(filterSize !== undefined ? { filterSize } : {}),
    });
    if (!records.length) fail('ERR_ARGUMENT', 'recipes.bpo', 'expected at least one record (after the filterSize filter) but received none');
    const inner = trainRecipe(model, records, {
      ...train,
      kind: 'dpo',
      dpo: { beta: BPO_DEFAULTS.dpoBeta, ...train.dpo },
      lrSchedule: train.lrSchedule ?? BPO_DEFAULTS.lrSchedule,
      lora: { rank: BPO_DEFAULTS.loraRank, alpha: BPO_DEFAULTS.loraAlpha, ...train.lora },
    });
    inner.on('step', (e) => run.emit('step', e));
    inner.on('checkpoint', (e) => run.emit('checkpoint', e));
    return inner.result as Promise<TrainResult>;
  });
}

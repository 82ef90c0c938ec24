/**
 * generate(): prefill + cached decode with a LlamaModel, the sampler, and BDHS image-key masking.
 *
 *   const run = generate(model, { inputEmbeds, imageSpans, imageMask: { ratio: 0.99 }, maxNewTokens: 64,
 *                                 sampler: { temperature: 1, topP: 0.9, seed: 7 }, stopTokens: [13] });
 *   run.on('token', (e) => ...);          // typed events: prefill, token, progress, done
 *   const { tokens, logprobs } = await run.result;
 *
 * Image-key masking (BDHS, docs/methods.md): one mask is drawn per call (attention.imageKeyMask:
 * each image key blocked with probability `ratio`, from `seed`) and applied in the chosen layers
 * for the prefill and every decode step, so it persists with the KV cache.
 * A run is deterministic for a fixed sampler seed; an AbortSignal stops it between steps and the
 * result rejects with the signal's reason.
 */
import { EventEmitter } from 'node:events';
import os from 'node:os';
import { ITEM_SIZE } from '../dtype';
import type TypedEmitter from 'typed-emitter';
import { imageKeyMask, type ImageSpans } from '../ops/image_key_mask';
import { sampleAsync, type SampleOptions } from '../ops/sample';
import type { FloatDType } from '../dtype';
import { fail } from '../errors';
import { describe, Tensor, tensor, type TensorLike } from '../tensor';
import { checkOptions, numberOpt, tensorArg } from '../validate';
import type { LlamaModel } from './llama';
import { startRun } from '../run_events';

export interface ImageMaskOptions {
  /** Probability that an image key is blocked, in [0, 1] (BDHS: 0.99; 1 hides the image). */
  ratio: number;
  /** Layers whose attention is masked (default: all). */
  layers?: readonly number[];
  /** Seed of the mask draw (default: the sampler's seed, else 0). */
  seed?: number | bigint;
}

export interface GenerateOptions {
  /** Prompt tokens, int32 [B, T] or one array per row (rows of different lengths are left-padded). */
  tokens?: TensorLike | readonly (readonly number[])[];
  /** Or the prompt as input embeddings [B, T, D] (e.g. visual tokens spliced into a prompt). */
  inputEmbeds?: TensorLike;
  /** With inputEmbeds: left-padding positions per row (keys never attended, positions start after them), for rows of different lengths. Default: none. */
  leftPad?: readonly number[];
  /** Image token spans per row ([start, length] pairs, prompt positions), for imageMask. */
  imageSpans?: ImageSpans;
  /** Block attention to image keys (BDHS). Needs imageSpans. */
  imageMask?: ImageMaskOptions;
  /** New tokens to generate per row, >= 1. */
  maxNewTokens: number;
  /** Sampler options (sampling.sample); `step` is set per decode step. Default: greedy. */
  sampler?: Omit<SampleOptions, 'step' | 'history'>;
  /** A row stops after producing one of these tokens (e.g. EOS, or '.' for BDHS sentence completion). */
  stopTokens?: readonly number[];
  /** Cancels the run between steps; the result rejects with signal.reason. */
  signal?: AbortSignal;
}

export interface GenerateResult {
  /** Generated tokens per row (the stop token included when one was produced). */
  tokens: Int32Array[];
  /** Log-probability of each generated token under the sampler's final distribution. */
  logprobs: Float32Array[];
  /** Why each row stopped. */
  finishReasons: ('stop' | 'length')[];
  /** Milliseconds: prefill, then all decode steps together. */
  timings: { prefillMs: number; decodeMs: number; tokensPerSecond: number };
}

export type GenerateEvents = {
  /** The prompt was processed: rows x prompt length, and the time it took. */
  prefill: (info: { batch: number; promptLength: number; ms: number }) => void;
  /** One decode step: the token sampled for each row (-1 for rows already finished). */
  token: (info: { step: number; tokens: Int32Array; logprobs: Float32Array }) => void;
  /** Steps done out of maxNewTokens. */
  progress: (done: number, total: number) => void;
  done: (result: GenerateResult) => void;
  error: (error: Error) => void;
};

export class GenerateRun extends (EventEmitter as new () => TypedEmitter<GenerateEvents>) {
  /** Settles when the run finishes, fails or is aborted. */
  readonly result: Promise<GenerateResult>;
  /** @internal */
  constructor(body: (run: GenerateRun) => Promise<GenerateResult>) {
    super();
    this.result = startRun(this, () => body(this)); // next tick, done / error events (lib/run_events.ts)
  }
}

const OP = 'generate';

function promptTokens(tokens: GenerateOptions['tokens']): { ids: Tensor<'int32'>; pad: number[] } {
  if (Array.isArray(tokens)) {
    const rows = tokens as readonly (readonly number[])[];
    if (!rows.length || rows.some((r) => !Array.isArray(r) || !r.length)) fail('ERR_SHAPE', OP, 'expected at least one non-empty token row');
    const T = Math.max(...rows.map((r) => r.length));
    const ids = new Int32Array(rows.length * T);
    const pad = rows.map((r, b) => {
      const p = T - r.length;
      r.forEach((v, i) => {
        if (!Number.isInteger(v)) fail('ERR_ARGUMENT', OP, `expected integer token ids but received ${v}`);
        ids[b * T + p + i] = v;
      });
      return p;
    });
    return { ids: tensor(ids, [rows.length, T]), pad };
  }
  const t = tensorArg(OP, 'tokens', tokens, ['int32'], 2) as Tensor<'int32'>;
  return { ids: t, pad: new Array<number>(t.shape[0]!).fill(0) };
}

/** Generates up to maxNewTokens per row; see the module comment. */
export function generate(model: LlamaModel, options: GenerateOptions): GenerateRun {
  return new GenerateRun((run) => generateBody(run, model, options));
}

async function generateBody(run: GenerateRun, model: LlamaModel, options: GenerateOptions): Promise<GenerateResult> {
  if (typeof model !== 'object' || model === null || typeof (model as { forward?: unknown }).forward !== 'function')
    fail('ERR_ARGUMENT', OP, `expected a models.LlamaModel for model but received ${describe(model)}`);
  const o = checkOptions(OP, options, ['tokens', 'inputEmbeds', 'leftPad', 'imageSpans', 'imageMask', 'maxNewTokens', 'sampler', 'stopTokens', 'signal']);
  if (o.stopTokens !== undefined && (!Array.isArray(o.stopTokens) || !o.stopTokens.every((v) => Number.isSafeInteger(v))))
    fail('ERR_ARGUMENT', OP, `expected stopTokens to be an array of integer token ids but received ${describe(o.stopTokens)}`);
  const maxNew = numberOpt(OP, 'maxNewTokens', o.maxNewTokens, NaN, { integer: true, min: 1 });
  if ((o.tokens === undefined) === (o.inputEmbeds === undefined)) fail('ERR_ARGUMENT', OP, 'give exactly one of tokens and inputEmbeds');
  if (o.leftPad !== undefined && o.inputEmbeds === undefined) fail('ERR_ARGUMENT', OP, 'expected leftPad only with inputEmbeds (token rows are padded from their lengths) but received it with tokens');
  const signal = o.signal;
  const check = () => {
    if (signal?.aborted) throw signal.reason ?? new Error('aborted');
  };
  check();
  const dev = model.device === 'cpu' ? 'cpu' : 'cuda';
  const owned: Tensor[] = [];
  const own = <T extends Tensor>(t: T) => (owned.push(t), t);

  // 1. prompt: embeddings, padding, positions
  let x: Tensor<FloatDType>;
  let pad: number[];
  let history: number[][];
  if (o.tokens !== undefined) {
    const p = promptTokens(o.tokens);
    pad = p.pad;
    x = own(model.embedTokens(dev === 'cpu' ? p.ids : own(p.ids.to('cuda'))));
    const T = p.ids.shape[1]!;
    history = pad.map((pd, b) => Array.from(p.ids.data.subarray(b * T + pd, (b + 1) * T)));
  } else {
    x = tensorArg(OP, 'inputEmbeds', o.inputEmbeds, [model.dtype], 3) as Tensor<FloatDType>;
    pad = new Array<number>(x.shape[0]!).fill(0);
    if (o.leftPad !== undefined) {
      if (!Array.isArray(o.leftPad) || o.leftPad.length !== pad.length || !o.leftPad.every((p) => Number.isInteger(p) && p >= 0 && p < x.shape[1]!))
        fail('ERR_ARGUMENT', OP, `expected leftPad as ${pad.length} integers in [0, ${x.shape[1]}) (one per row of inputEmbeds [${x.shape.join(', ')}]) but received ${describe(o.leftPad)}`);
      pad = [...o.leftPad];
    }
    history = pad.map(() => []);
  }
  const [B, T] = x.shape as [number, number];
  const L = T + maxNew;
  {
    // the KV cache of T + maxNewTokens positions must fit before anything is allocated
    const c = model.config;
    const perPos = 2 * c.numLayers * B * c.numKvHeads * c.headDim * ITEM_SIZE[model.dtype];
    const limit = model.device === 'cpu' ? os.totalmem() : Number.MAX_SAFE_INTEGER;
    const most = Math.floor(limit / perPos) - T;
    if (maxNew > most)
      fail('ERR_RANGE', OP, `expected maxNewTokens <= ${Math.max(most, 0)} (a KV cache of ${T} + maxNewTokens positions at ${perPos} bytes each must fit in ${limit} bytes) but received ${maxNew}`);
  }
  const stop = new Set(o.stopTokens ?? []);
  const sampler = o.sampler ?? { temperature: 0 };

  // 2. key masks: padding (all layers) and the BDHS image mask (chosen layers), drawn once
  const padded = pad.some((p) => p > 0);
  const padMaskHost = tensor(Uint8Array.from({ length: B * L }, (_, i) => (i % L >= pad[Math.floor(i / L)]! ? 1 : 0)), [B, L], { dtype: 'bool' });
  const padMask = own(dev === 'cpu' ? padMaskHost : padMaskHost.to('cuda'));
  let imgMask: Tensor | undefined;
  let imgLayers: Set<number> | undefined;
  if (o.imageMask !== undefined) {
    if (o.imageSpans === undefined) fail('ERR_ARGUMENT', OP, 'imageMask needs imageSpans');
    const im = checkOptions(OP, o.imageMask, ['ratio', 'layers', 'seed']);
    const seed = im.seed ?? (typeof sampler.seed === 'number' || typeof sampler.seed === 'bigint' ? sampler.seed : 0);
    imgMask = own(imageKeyMask(o.imageSpans, { maskRatio: im.ratio, seed, length: L, keyMask: padMask }));
    imgLayers = new Set(im.layers ?? model.layers.map((_, i) => i));
    for (const l of imgLayers)
      if (!Number.isInteger(l) || l < 0 || l >= model.layers.length) fail('ERR_RANGE', OP, `imageMask.layers: no layer ${l}`);
  }
  const keyMask = (layer: number) => (imgMask && imgLayers!.has(layer) ? imgMask : padded ? padMask : undefined);
  const positionsAt = (start: number, n: number) => {
    const p = tensor(Int32Array.from({ length: B * n }, (_, i) => Math.max(0, start + (i % n) - pad[Math.floor(i / n)]!)), [B, n]);
    return own(dev === 'cpu' ? p : p.to('cuda'));
  };

  const cache = model.createCache(B, L);
  try {
    // 3. prefill
    let t0 = performance.now();
    let { logits, hidden } = model.forward(x, cache, { keyMask, positions: positionsAt(0, T), logits: 'last' });
    hidden.dispose();
    const prefillMs = performance.now() - t0;
    run.emit('prefill', { batch: B, promptLength: T, ms: prefillMs });

    // 4. decode
    const out = Array.from({ length: B }, () => [] as number[]);
    const lps = Array.from({ length: B }, () => [] as number[]);
    const done = new Array<boolean>(B).fill(false);
    t0 = performance.now();
    for (let step = 0; step < maxNew; step++) {
      check();
      const H = Math.max(1, ...history.map((h) => h.length));
      const histHost = tensor(Int32Array.from({ length: B * H }, (_, i) => history[Math.floor(i / H)]![i % H] ?? -1), [B, H]);
      const res = await sampleAsync(logits!.reshape([B, model.config.vocabSize]), { ...sampler, step, history: dev === 'cpu' ? histHost : own(histHost.to('cuda')) });
      logits!.dispose();
      const toks = res.tokens.to('cpu').data;
      const lp = res.logprobs.to('cpu').data;
      const shown = new Int32Array(B).fill(-1);
      for (let b = 0; b < B; b++) {
        if (done[b]) continue;
        out[b]!.push(toks[b]!);
        lps[b]!.push(lp[b]!);
        history[b]!.push(toks[b]!);
        shown[b] = toks[b]!;
        if (stop.has(toks[b]!)) done[b] = true;
      }
      res.logprobs.dispose();
      run.emit('token', { step, tokens: shown, logprobs: Float32Array.from(lp) });
      run.emit('progress', step + 1, maxNew);
      if (done.every(Boolean) || step + 1 === maxNew) {
        res.tokens.dispose();
        break;
      }
      // the next step's input: the sampled tokens (finished rows keep decoding, ignored)
      const e = model.embedTokens(res.tokens.reshape([B, 1]));
      res.tokens.dispose();
      ({ logits, hidden } = model.forward(e, cache, { keyMask, positions: positionsAt(T + step, 1), logits: 'last' }));
      e.dispose();
      hidden.dispose();
      await new Promise<void>((r) => setImmediate(r)); // let events and aborts through
    }
    const decodeMs = performance.now() - t0;
    const generated = out.reduce((a, r) => a + r.length, 0);
    return {
      tokens: out.map((r) => Int32Array.from(r)),
      logprobs: lps.map((r) => Float32Array.from(r)),
      finishReasons: done.map((d) => (d ? 'stop' : 'length')),
      timings: { prefillMs, decodeMs, tokensPerSecond: generated / Math.max(1e-9, (prefillMs + decodeMs) / 1000) },
    };
  } finally {
    cache.dispose();
    for (const t of owned) t.dispose();
  }
}

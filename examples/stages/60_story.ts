/**
 * Demo stage: the end-to-end story (issue 17) on a tiny LLaVA-style model that the demo makes, with
 * the recipes API as a user calls it:
 *   1. a seeded float32 model with a vision projector, saved as a Hugging Face checkpoint and loaded
 *      back (same logits); a synthetic multimodal dataset (a few image classes whose features decide
 *      the answer) written as the documented JSONL + .safetensors image features, read back with
 *      recipes.readJsonl
 *   2. a short NoiseBoost SFT warm-up (recipes.noiseBoost, stage 'sft'), merged into the weights, so
 *      that the model answers from the image (the model BDHS starts from)
 *   3. BDHS (recipes.bdhsRejected, its defaults): rejected answers generated with 99% of the image
 *      keys masked, candidates at cosine >= 0.97 to the chosen answer re-drawn (<= 5 tries)
 *   4. NoiseBoost + DPO (recipes.noiseBoost, stage 'dpo', its defaults) for a short run: a live
 *      progress line, the loss / reward-accuracy / margin curves as text, metrics.jsonl +
 *      metrics.svg and the PEFT adapter under the output directory
 *   5. the adapter loads back onto the saved checkpoint (loadAdapters) and gives the same logits
 * Runs on the CPU, so its numbers are the ones quoted in docs/recipes.md (the CUDA training path is
 * checked only on the emulator so far, test/gpu/train.gpu.ts).
 * Output: demo-out/ in the current directory, made fresh each run (npm run demo -- --out DIR).
 */
import fs from 'node:fs';
import path from 'node:path';
import { cudaAvailable, models, random, recipes, tensor, type PreferenceRecord, type StepEvent } from '../../lib';
import { section } from './util';

/** The tiny LLaVA-style model: vocabulary 64, 2 layers of width 64, a projector from 32-wide image features. */
export const STORY_CONFIG = { vocabSize: 64, hiddenSize: 64, intermediateSize: 128, numLayers: 2, numHeads: 4, numKvHeads: 2, ropeTheta: 100 };
const DV = 32; // image feature width (the vision encoder's hidden size)
const NV = 8; // visual tokens per image
const CLASSES = 4;
const PROMPT = [3, 7, 5]; // "what is in the image?"
/** The right answer of image class c: 3 tokens of its own. */
const answerOf = (c: number): number[] => [16 + 3 * c, 17 + 3 * c, 18 + 3 * c];

export interface StoryOptions {
  /** Output directory, made fresh (default 'demo-out' in the current directory). */
  out?: string;
  /** NoiseBoost + DPO steps (default 40). */
  steps?: number;
  /** SFT warm-up steps (default 60). */
  sftSteps?: number;
  /** Records per image class (default 8). */
  perClass?: number;
  /** Where lines go (default console.log); the live progress line is drawn only on a terminal. */
  log?: (line: string) => void;
}

export interface StoryResult {
  out: string;
  modelDir: string;
  dataFile: string;
  pairsFile: string;
  runDir: string;
  checkpoint: string;
  /** max |logits| difference: saved-and-loaded model vs the one made in memory. */
  roundTripMaxDiff: number;
  /** max |logits| difference: loaded checkpoint + loaded adapter vs the trained model. */
  adapterMaxDiff: number;
  /** BDHS tries per record. */
  tries: number[];
  sft: StepEvent[];
  dpo: StepEvent[];
}

const MARKER = '.mmpref-demo-out';
const BLOCKS = '▁▂▃▄▅▆▇█';

/** A one-line chart of a series: each step is a block from ▁ (the series' minimum) to █ (its maximum). */
export function sparkline(v: readonly number[]): string {
  const lo = Math.min(...v);
  const hi = Math.max(...v);
  return v.map((x) => BLOCKS[hi > lo ? Math.round(((x - lo) / (hi - lo)) * 7) : 3]).join('');
}

/** Logits [rows, T, V] of a batch made by recipes.dpoBatch / sftBatch, through the training forward. */
function logitsOf(model: models.LlamaModel, b: ReturnType<typeof recipes.sftBatch>): Float32Array {
  const { tokens, attentionMask, visualFeatures, imageStarts } = b;
  const { logits, hidden, saved } = model.forwardTrain({ tokens, attentionMask, visualFeatures, imageStarts }, { logits: 'all' });
  const out = Float32Array.from(logits!.toFloat32Array());
  for (const t of [logits!, hidden, b.tokens, b.labels, b.attentionMask, b.visualFeatures]) (t as { dispose?: () => void } | undefined)?.dispose?.();
  saved.dispose();
  return out;
}

/** Logits of a DPO batch of the records (chosen rows, then rejected). */
const batchLogits = (model: models.LlamaModel, recs: PreferenceRecord[]): Float32Array => logitsOf(model, recipes.dpoBatch(recs));

/**
 * Does the model read the image? For each record, the answer of every image class is scored by its
 * log-probability under the model (image + prompt given); the fraction of records whose own class's
 * answer scores highest.
 */
function choiceAccuracy(model: models.LlamaModel, recs: PreferenceRecord[]): number {
  const rows = recs.flatMap((r) => Array.from({ length: CLASSES }, (_, c) => ({ ...r, chosen: answerOf(c) })));
  const logits = logitsOf(model, recipes.sftBatch(rows));
  const V = model.config.vocabSize;
  const T = logits.length / (rows.length * V);
  const score = rows.map((r, i) => {
    const a0 = (r.image ? r.image.shape[0] : 0) + r.prompt.length; // first answer position
    let lp = 0;
    r.chosen.forEach((tok, j) => {
      const at = (i * T + a0 + j - 1) * V; // logits at t predict the token at t + 1
      let m = -Infinity;
      for (let v = 0; v < V; v++) m = Math.max(m, logits[at + v]!);
      let z = 0;
      for (let v = 0; v < V; v++) z += Math.exp(logits[at + v]! - m);
      lp += logits[at + tok]! - m - Math.log(z);
    });
    return lp;
  });
  let ok = 0;
  recs.forEach((r, i) => {
    const s = score.slice(i * CLASSES, (i + 1) * CLASSES);
    if (answerOf(s.indexOf(Math.max(...s)))[0] === r.chosen[0]) ok++;
  });
  return ok / recs.length;
}

/** x.toFixed(d) without a minus sign on a value that rounds to zero. */
const num = (x: number, d = 3): string => x.toFixed(d).replace(/^-(0\.?0*)$/, '$1');
const maxDiff = (a: Float32Array, b: Float32Array): number => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!)), a.length === b.length ? 0 : Infinity);
const row = (ids: readonly number[]): string => `[${ids.map((t) => String(t).padStart(2)).join(' ')}]`;
/** A path as the user would type it: relative to the current directory when inside it. */
const rel = (p: string): string => (p.startsWith(process.cwd() + path.sep) ? path.relative(process.cwd(), p) : p);

/** Collects the records of an async source. */
async function collect(src: AsyncIterable<PreferenceRecord>): Promise<PreferenceRecord[]> {
  const out: PreferenceRecord[] = [];
  for await (const r of src) out.push(r);
  return out;
}

/** Runs the story (see the module comment) and returns what it made. */
export async function runStory(options: StoryOptions = {}): Promise<StoryResult> {
  const log = options.log ?? ((l: string) => console.log(l));
  const live = !options.log && process.stdout.isTTY;
  const out = path.resolve(options.out ?? 'demo-out');
  const steps = options.steps ?? 40;
  const sftSteps = options.sftSteps ?? 60;
  const perClass = options.perClass ?? 8;
  // made fresh, but only a directory this story made (it holds MARKER) is ever deleted
  if (fs.existsSync(out) && fs.readdirSync(out).length && !fs.existsSync(path.join(out, MARKER)))
    throw new Error(`demo: expected --out to name a new directory or one an earlier demo made (with ${MARKER}) but received ${out}, which holds other files`);
  fs.rmSync(out, { recursive: true, force: true });
  fs.mkdirSync(path.join(out, 'data', 'images'), { recursive: true });
  fs.writeFileSync(path.join(out, MARKER), 'made by npm run demo (examples/stages/60_story.ts); deleted and made again by the next run\n');

  // 1a. the model: seeded, float32, with a LLaVA projector; HF checkpoint round trip
  const made = models.LlamaModel.random(STORY_CONFIG, { seed: 1, initStd: 0.1, visionHiddenSize: DV });
  const modelDir = path.join(out, 'model');

  // 1b. the dataset: class prototypes [NV, DV] + per-record jitter; the class decides the answer
  const protos = random.normal([CLASSES, NV, DV], { seed: 11, std: 3 }).toFloat32Array();
  const n = CLASSES * perClass;
  const jitter = random.normal([n, NV, DV], { seed: 12, std: 0.3 }).toFloat32Array();
  const lines: Record<string, unknown>[] = [];
  for (let i = 0; i < n; i++) {
    const c = i % CLASSES;
    const f = new Float32Array(NV * DV);
    for (let j = 0; j < f.length; j++) f[j] = protos[c * NV * DV + j]! + jitter[i * NV * DV + j]!;
    const img = `images/${String(i).padStart(4, '0')}.safetensors`;
    models.saveSafetensors(path.join(out, 'data', img), [['features', tensor(f, [NV, DV])]]);
    lines.push({ prompt: PROMPT, chosen: answerOf(c), image: img, class: c });
  }
  const dataFile = path.join(out, 'data', 'train.jsonl');
  fs.writeFileSync(dataFile, lines.map((l) => JSON.stringify(l) + '\n').join(''));
  const data = recipes.readJsonl(dataFile);
  const records = await collect(data);
  log(`1. data: ${records.length} records (${CLASSES} image classes, image features [${NV}, ${DV}] each) -> ${rel(dataFile)} + ${rel(path.join(out, 'data', 'images'))}/`);

  // 2. SFT warm-up (NoiseBoost's SFT stage), merged, saved as the base checkpoint and loaded back
  const sft = await recipes.noiseBoost(made, data, { stage: 'sft', steps: sftSteps, batchSize: 8, lr: 0.01, seed: 1 }).result;
  made.mergeAdapters();
  const acc0 = choiceAccuracy(made, records);
  log(`2. SFT warm-up (recipes.noiseBoost stage 'sft', ${sftSteps} steps, merged): loss ${sft.history[0]!.loss.toFixed(3)} -> ${sft.history.at(-1)!.loss.toFixed(3)}; the model's most likely of the ${CLASSES} class answers is the image's for ${(acc0 * 100).toFixed(0)}% of records`);
  const files = made.save(modelDir);
  const model = models.LlamaModel.load(modelDir);
  const probe = records.slice(0, 2).map((r) => ({ ...r, rejected: r.chosen }));
  const roundTripMaxDiff = maxDiff(batchLogits(made, probe), batchLogits(model, probe));
  made.dispose();
  log(`   model: LLaVA-style ${STORY_CONFIG.numLayers} x ${STORY_CONFIG.hiddenSize}, V ${STORY_CONFIG.vocabSize}, ${(model.numParameters / 1e3).toFixed(0)}k parameters -> ${rel(modelDir)}/ (${files.join(', ')}); loaded back: max |logits difference| ${roundTripMaxDiff}`);

  // 3. BDHS: rejected answers with 99% of the image keys masked, near-duplicates re-drawn. The
  //    embedding is the default one (recipes.answerEmbedding with the policy), wrapped to see each try.
  const t0 = Date.now();
  const seen = new Map<number, { ref?: Float32Array; tries: { answer: number[]; cosine: number }[] }>();
  const embed = (answer: readonly number[], r: PreferenceRecord): Float32Array => {
    const e = recipes.answerEmbedding(model, r.prompt, answer);
    const t = seen.get(r.line) ?? { tries: [] };
    seen.set(r.line, t);
    if (!t.ref) t.ref = e; // bdhsRejected embeds the chosen answer first, then each candidate but the last try
    else t.tries.push({ answer: [...answer], cosine: e.reduce((a, v, j) => a + v * t.ref![j]!, 0) });
    return e;
  };
  const gen = await recipes.bdhsRejected(model, data, { seed: 5, embed });
  const hist = new Map<number, number>();
  for (const t of gen.tries) hist.set(t, (hist.get(t) ?? 0) + 1);
  const byLine = new Map(gen.records.map((r) => [r.line, r]));
  let redrawn = 0;
  let copies = 0;
  for (const [line, t] of seen)
    for (const c of t.tries.filter((x) => x.cosine >= 0.97)) {
      redrawn++;
      if (c.answer.join() === records[line - 1]!.chosen.join()) copies++;
    }
  const same = gen.records.filter((r) => r.rejected!.join() === r.chosen.join()).length;
  log(
    `3. BDHS (recipes.bdhsRejected: 99% of the image keys masked, cosine >= 0.97 to the chosen answer re-drawn, <= 5 tries): ${gen.records.length} rejected answers in ${((Date.now() - t0) / 1000).toFixed(1)} s\n` +
      `   tries per record: ${gen.tries.join(' ')} (${[...hist].sort((a, b) => a[0] - b[0]).map(([t, k]) => `${t}: ${k}x`).join(', ')})\n` +
      `   ${redrawn} candidates re-drawn, ${copies} of them exactly the chosen answer (a right guess without the image)` +
      (same ? `; ${same} record(s) kept a copy of the chosen answer at the last try (such a pair teaches DPO nothing)` : ''),
  );
  const show = [0, gen.tries.findIndex((t) => t > 1 && t < 5), gen.tries.findIndex((t) => t === 5)].filter((i, k, a) => i >= 0 && a.indexOf(i) === k);
  for (const i of show) {
    const r = byLine.get(i + 1);
    if (!r) continue;
    const tries = seen.get(i + 1)?.tries ?? [];
    const steps = tries.map((c, k) => `try ${k + 1} ${row(c.answer)} cosine ${c.cosine.toFixed(3)}${c.cosine >= 0.97 ? ' re-drawn' : ' kept'}`);
    if (gen.tries[i]! > tries.length) steps.push(`try ${gen.tries[i]} ${row(r.rejected!)} kept (the last try, not compared)`);
    log(`   record ${String(i + 1).padStart(2)} (class ${lines[i]!.class}), chosen ${row(r.chosen)}: ${steps.join('; ')}`);
  }
  const pairsFile = path.join(out, 'data', 'pairs.jsonl');
  fs.writeFileSync(pairsFile, lines.flatMap((l, i) => (byLine.has(i + 1) ? [JSON.stringify({ ...l, rejected: byLine.get(i + 1)!.rejected }) + '\n'] : [])).join(''));
  const pairs = recipes.readJsonl(pairsFile, { requireRejected: true });

  // 4. NoiseBoost + DPO: LoRA adapters (runner defaults), noise on the chosen rows' visual tokens
  const runDir = path.join(out, 'run');
  const run = recipes.noiseBoost(model, pairs, { steps, batchSize: 8, lr: 0.01, out: runDir, seed: 1 });
  log(`4. NoiseBoost + DPO (recipes.noiseBoost, stage 'dpo', defaults: sigma ${recipes.NOISEBOOST_DEFAULTS.sigma} on the chosen rows' visual tokens, beta 0.1, LoRA r 8 alpha 16), ${steps} steps of 8 pairs, lr 0.01`);
  run.on('step', (e) => {
    const line = `   step ${String(e.step).padStart(3)}/${e.totalSteps}  loss ${e.loss.toFixed(4)}  reward accuracy ${e.rewardAccuracy.toFixed(2)}  margin ${num(e.margin)}  ${e.tokensPerSecond.toFixed(0)} tok/s  ETA ${e.etaSeconds.toFixed(1)} s`;
    if (live) process.stdout.write(`\r\x1b[K${line}${e.step === e.totalSteps ? '\n' : ''}`);
    else if (e.step === 1 || e.step % 10 === 0 || e.step === e.totalSteps) log(line);
  });
  const r = await run.result;
  const h = r.history;
  const [first, last] = [h[0]!, h.at(-1)!];
  log(
    `   loss ${first.loss.toFixed(3)} -> ${last.loss.toFixed(3)}, accuracy ${first.rewardAccuracy.toFixed(2)} -> ${last.rewardAccuracy.toFixed(2)}, margin ${num(first.margin)} -> ${num(last.margin)};` +
      ` most likely class answer right: ${(choiceAccuracy(model, records) * 100).toFixed(0)}%`,
  );
  for (const [name, v] of [['loss', h.map((e) => e.loss)], ['reward accuracy', h.map((e) => e.rewardAccuracy)], ['margin', h.map((e) => e.margin)]] as const)
    log(`   ${name.padEnd(16)} ${num(v[0]!).padStart(7)} ${sparkline(v)} ${num(v.at(-1)!)}  (min ${num(Math.min(...v))}, max ${num(Math.max(...v))})`);
  const metricsJsonl = path.join(runDir, 'metrics.jsonl');
  const metricsSvg = path.join(runDir, 'metrics.svg');
  log(`   metrics: ${rel(metricsJsonl)}, plot: ${rel(metricsSvg)}\n   PEFT adapter: ${rel(r.checkpoint!)}/ (${fs.readdirSync(r.checkpoint!).sort().join(', ')})`);

  // 5. the adapter on the saved checkpoint gives the trained model's logits
  const again = models.LlamaModel.load(modelDir);
  again.loadAdapters(r.checkpoint!);
  const adapterMaxDiff = maxDiff(batchLogits(model, gen.records.slice(0, 4)), batchLogits(again, gen.records.slice(0, 4)));
  log(`5. ${rel(modelDir)}/ + loadAdapters(${rel(r.checkpoint!)}): max |logits difference| vs the trained model ${adapterMaxDiff}`);
  again.dispose();
  model.dispose();
  return { out, modelDir, dataFile, pairsFile, runDir, checkpoint: r.checkpoint!, roundTripMaxDiff, adapterMaxDiff, tries: gen.tries, sft: sft.history, dpo: h };
}

function outArg(): string | undefined {
  const i = process.argv.indexOf('--out');
  return i >= 0 ? process.argv[i + 1] : undefined;
}

export async function run(): Promise<void> {
  section('the story: a tiny LLaVA-style model -> BDHS rejected answers -> NoiseBoost + DPO -> a saved adapter (CPU)');
  if (cudaAvailable()) console.log('(on the CPU although CUDA is present: these are the numbers docs/recipes.md quotes)');
  const t0 = Date.now();
  await runStory({ out: outArg() });
  console.log(`  (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
}

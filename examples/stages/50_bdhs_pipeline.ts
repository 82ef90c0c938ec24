/**
 * Demo stage: one step of the BDHS + NoiseBoost + DPO pipeline, op by op, on a small LLaMA-style
 * decoder at LLaVA-like shapes (V = 32000, 576 visual tokens per sample), on CUDA when available
 * (forward and loss gradient only; stage 60 trains end to end through the recipes):
 *   1. synthetic visual tokens (the projector's output) + a prompt -> input embeddings
 *   2. chosen answers: generate with the image visible
 *   3. rejected candidates (BDHS): generate with 99% of the image keys masked in every layer
 *   4. semantic rejection: drop candidates too similar to the chosen answer (cosine >= 0.97)
 *   5. NoiseBoost: Gaussian noise on the visual tokens of the chosen rows only
 *   6. policy and reference sequence log-probs over [chosen; rejected]
 *   7. DPO loss, metrics and the gradient into the policy logits, in place
 */
import { cudaAvailable, dpo, models, noise, random, similarity, tensor, type Tensor } from '../../lib';
import { section, timed } from './util';

const CFG = { vocabSize: 32000, hiddenSize: 256, intermediateSize: 688, numLayers: 4, numHeads: 8, numKvHeads: 2 };
const B = 2; // samples
const K = 4; // rejected candidates per sample
const N_IMG = 576;
const PROMPT = 12;
const ANSWER = 16;
const IGNORE = -100;

/** A progress bar redrawn in place on a terminal; in a log, only its last state is printed. */
function progress(label: string): (done: number, total: number) => void {
  return (done, total) => {
    if (!process.stdout.isTTY && done < total) return;
    const w = 24;
    const f = Math.round((done / total) * w);
    process.stdout.write(`\r  ${label} [${'#'.repeat(f)}${'.'.repeat(w - f)}] ${done}/${total}`);
  };
}

/** Host-side concatenation along dim 1 of [R, Ti, D] float32 arrays. */
function concatSeq(parts: { data: Float32Array; T: number }[], R: number, D: number): { data: Float32Array; T: number } {
  const T = parts.reduce((a, p) => a + p.T, 0);
  const out = new Float32Array(R * T * D);
  for (let r = 0; r < R; r++) {
    let t0 = 0;
    for (const p of parts) {
      out.set(p.data.subarray(r * p.T * D, (r + 1) * p.T * D), (r * T + t0) * D);
      t0 += p.T;
    }
  }
  return { data: out, T };
}

/** Repeats each row of [R, T, D] k times (row r -> rows r*k .. r*k+k-1). */
function repeatRows(x: Float32Array, R: number, rowLen: number, k: number): Float32Array {
  const out = new Float32Array(R * k * rowLen);
  for (let r = 0; r < R; r++) for (let j = 0; j < k; j++) out.set(x.subarray(r * rowLen, (r + 1) * rowLen), (r * k + j) * rowLen);
  return out;
}

export async function run(): Promise<void> {
  const device = cudaAvailable() ? 'cuda' : 'cpu';
  section(`one BDHS + NoiseBoost + DPO step, op by op, on ${device} (LLaMA-style ${CFG.numLayers}x${CFG.hiddenSize}, V=${CFG.vocabSize}, ${N_IMG} visual tokens)`);
  const times: [string, number][] = [];
  const stage = async <T>(name: string, fn: () => T | Promise<T>): Promise<T> => {
    const [r, ms] = await timed(fn);
    times.push([name, ms]);
    return r;
  };
  const D = CFG.hiddenSize;
  const onDev = <T extends Tensor>(t: T): T => (device === 'cpu' ? t : (t.to(device) as T));

  // 0. models: a policy and the frozen reference it is trained against (different seeds here, so
  //    the first step's log-ratios are not all zero)
  const [policy, reference] = await stage('build models', () => [
    models.LlamaModel.random(CFG, { seed: 1, device }),
    models.LlamaModel.random(CFG, { seed: 2, device }),
  ]);
  console.log(`  models: ${(policy.numParameters / 1e6).toFixed(1)}M parameters each`);

  // 1. inputs: visual tokens + prompt embeddings
  const { x, visual } = await stage('inputs', () => {
    const visual = random.normal([B, N_IMG, D], { seed: 42, std: 0.05 }).toFloat32Array();
    const promptIds = tensor(Int32Array.from({ length: B * PROMPT }, (_, i) => 1 + ((i * 7919) % 31999)), [B, PROMPT]);
    const prompt = policy.embedTokens(onDev(promptIds)).toFloat32Array();
    const cat = concatSeq([{ data: visual, T: N_IMG }, { data: prompt, T: PROMPT }], B, D);
    return { x: cat, visual };
  });
  const T = x.T;
  const spans = Array.from({ length: B }, () => [[0, N_IMG]]);

  // 2. chosen answers, image visible
  const chosen = await stage('chosen answers (image visible)', async () => {
    const g = models.generate(policy, { inputEmbeds: onDev(tensor(x.data, [B, T, D])), maxNewTokens: ANSWER, sampler: { temperature: 0.7, topP: 0.9, seed: 1 } });
    g.on('progress', progress('chosen  '));
    const r = await g.result;
    process.stdout.write(`  ${r.timings.tokensPerSecond.toFixed(0)} tok/s\n`);
    return r;
  });

  // 3. BDHS rejected candidates: K per sample, 99% of image keys masked in every layer
  const rejected = await stage('BDHS candidates (image keys masked)', async () => {
    const xs = repeatRows(x.data, B, T * D, K);
    const g = models.generate(policy, {
      inputEmbeds: onDev(tensor(xs, [B * K, T, D])),
      imageSpans: Array.from({ length: B * K }, () => [[0, N_IMG]]),
      imageMask: { ratio: 0.99, seed: 5 },
      maxNewTokens: ANSWER,
      sampler: { temperature: 1.0, topP: 0.9, seed: 2 },
    });
    g.on('progress', progress('rejected'));
    const r = await g.result;
    process.stdout.write(`  ${r.timings.tokensPerSecond.toFixed(0)} tok/s\n`);
    return r;
  });

  // 4. semantic rejection: mean-pooled, normalised token embeddings; keep candidates with
  //    cosine < 0.97 to their sample's chosen answer, take the first kept (else the last)
  const picked = await stage('similarity filter', () => {
    const L = ANSWER;
    const ids = (rows: Int32Array[]) => {
      const a = new Int32Array(rows.length * L);
      const m = new Uint8Array(rows.length * L);
      rows.forEach((r, i) => r.forEach((v, j) => ((a[i * L + j] = v), (m[i * L + j] = 1))));
      return { ids: onDev(tensor(a, [rows.length, L])), mask: onDev(tensor(m, [rows.length, L], { dtype: 'bool' })) };
    };
    const embed = (rows: Int32Array[]) => {
      const { ids: t, mask } = ids(rows);
      return similarity.meanPoolNormalize(policy.embedTokens(t), { mask });
    };
    const cand = embed(rejected.tokens);
    const refs = embed(Array.from({ length: B * K }, (_, i) => chosen.tokens[Math.floor(i / K)]!));
    const sims = similarity.cosine(cand, refs, { paired: true }).toFloat32Array();
    const keep = similarity.filter(cand, refs, { threshold: 0.97, paired: true }).to('cpu').data;
    const pick = Array.from({ length: B }, (_, b) => {
      for (let j = 0; j < K; j++) if (keep[b * K + j]) return b * K + j;
      return b * K + K - 1; // BDHS: the last iteration is accepted regardless
    });
    // (random weights: answers are unrelated token strings, so similarities are near 0 and all are kept)
    console.log(`  cosine to chosen: ${Array.from(sims, (s) => s.toFixed(3)).join(' ')}; kept ${keep.reduce((a, v) => a + v, 0)}/${B * K}; picked rows ${pick.join(', ')}`);
    return pick.map((i) => rejected.tokens[i]!);
  });

  // 5.-6. sequences [chosen; rejected] = inputs + answer; labels score only the answers
  const S = T + ANSWER;
  const { seqs, labels } = await stage('build sequences', () => {
    const answers = [...chosen.tokens, ...picked];
    const ansIds = tensor(Int32Array.from({ length: 2 * B * ANSWER }, (_, i) => answers[Math.floor(i / ANSWER)]![i % ANSWER] ?? 0), [2 * B, ANSWER]);
    const ansEmb = policy.embedTokens(onDev(ansIds)).toFloat32Array();
    const both = repeatRows(x.data, 1, B * T * D, 2); // [chosen inputs; rejected inputs]
    const seqs = concatSeq([{ data: both, T }, { data: ansEmb, T: ANSWER }], 2 * B, D);
    const lab = new Int32Array(2 * B * S).fill(IGNORE);
    answers.forEach((a, r) => a.forEach((v, j) => (lab[r * S + T + j] = v)));
    return { seqs, labels: onDev(tensor(lab, [2 * B, S])) };
  });
  void visual;
  const seqTensor = onDev(tensor(seqs.data, [2 * B, S, D]));

  // NoiseBoost: noise on the visual tokens of the chosen rows only (sigma 0.5, absolute)
  const { out: noised } = await stage('NoiseBoost (chosen rows)', () =>
    noise.visualTokens(seqTensor, { spans: Array.from({ length: 2 * B }, () => [[0, N_IMG]]), sigma: 0.5, rows: tensor(Uint8Array.from({ length: 2 * B }, (_, r) => (r < B ? 1 : 0)), [2 * B], { dtype: 'bool' }).to(device), seed: 9 }),
  );

  // reference log-probs (clean inputs, no gradient)
  const ref = await stage('reference forward + sequenceLogps', () => {
    const { logits, hidden } = reference.forward(seqTensor, reference.createCache(2 * B, S), { logits: 'all' });
    hidden.dispose();
    const r = dpo.sequenceLogps(logits!, labels);
    logits!.dispose();
    const lp = r.logps.toFloat32Array();
    return { chosen: tensor(lp.slice(0, B)), rejected: tensor(lp.slice(B)) };
  });
  const policyLogits = await stage('policy forward (logits [2B, S, V])', () => {
    const { logits, hidden } = policy.forward(noised, policy.createCache(2 * B, S), { logits: 'all' });
    hidden.dispose();
    return logits!;
  });

  // 7. DPO: loss, metrics and dloss/dlogits written over the logits
  const step = await stage('dpo.step (loss + gradient in place)', () =>
    dpo.step({ logits: policyLogits, labels, refChosen: onDev(ref.chosen), refRejected: onDev(ref.rejected) }, { beta: 0.1 }),
  );
  const g = policyLogits.toFloat32Array();
  let gn = 0;
  for (const v of g) gn += v * v;
  console.log(`  DPO loss ${step.loss.toFixed(4)}, reward accuracy ${step.accuracy.toFixed(2)}, margins ${Array.from(step.margins.toFloat32Array(), (v) => v.toFixed(3)).join(' ')}`);
  console.log(`  policy logps chosen ${Array.from(step.policyChosen.toFloat32Array(), (v) => v.toFixed(1)).join(' ')} | rejected ${Array.from(step.policyRejected.toFloat32Array(), (v) => v.toFixed(1)).join(' ')}`);
  console.log(`  |dloss/dlogits| = ${Math.sqrt(gn).toExponential(3)} over ${policyLogits.numel.toLocaleString()} logits (${(policyLogits.byteLength / 2 ** 20).toFixed(0)} MiB, no extra copy)`);
  console.log('  stage timings:');
  for (const [name, ms] of times) console.log(`    ${name.padEnd(40)} ${ms.toFixed(1).padStart(9)} ms`);
  for (const t of [policyLogits, seqTensor, noised, labels]) t.dispose();
  policy.dispose();
  reference.dispose();
}

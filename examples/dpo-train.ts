/**
 * DPO end to end on a toy policy: the parameters are a bigram logit table W [V, V] (the logits at
 * position t are W[token_t, :]), trained with mmpref's DPO ops on synthetic preference pairs
 * against a frozen copy of its initial table (the reference model).
 *
 * Data: every pair shares a random prompt; the chosen response often (30%) steps token -> token + 1,
 * the rejected one token -> token + 7 (mod V); the other steps are random tokens. Each step:
 *   reference log-probs  dpo.sequenceLogps(reference logits)          (no gradient)
 *   loss + gradient      dpo.step(policy logits, refs)                 (dloss/dlogits in place)
 *   backprop to W        dW[token_t] += dloss/dlogits[b, t]            (a scatter-add)
 *   update               Adam on W
 * The DPO loss falls from ln 2 and the reward accuracy (chosen reward > rejected) rises to ~1.
 *
 * It uses only the public API, so it runs as is from a project that installed mmpref:
 *   npx tsx examples/dpo-train.ts [--steps 300] [--type sigmoid] [--dtype bfloat16]
 */
import { dpo, tensor, type DpoLossType, type FloatDType } from 'mmpref';

/** A small seeded uniform generator in [0, 1) (mulberry32), so runs are reproducible. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface TrainOptions {
  steps?: number;
  /** preference pairs per step */
  pairs?: number;
  vocab?: number;
  /** prompt + response tokens per sequence */
  seqLen?: number;
  promptLen?: number;
  beta?: number;
  lr?: number;
  type?: DpoLossType;
  /** dtype of the logits handed to mmpref (the table itself stays float32) */
  dtype?: FloatDType;
  seed?: number;
  /** called every `logEvery` steps */
  onLog?: (step: number, loss: number, accuracy: number, margin: number) => void;
  logEvery?: number;
}

export interface TrainResult {
  losses: number[];
  accuracies: number[];
  margins: number[];
}

export function trainDpo(o: TrainOptions = {}): TrainResult {
  const steps = o.steps ?? 300;
  const B = o.pairs ?? 8;
  const V = o.vocab ?? 32;
  const T = o.seqLen ?? 16;
  const P = o.promptLen ?? 4;
  const beta = o.beta ?? 0.1;
  const lr = o.lr ?? 0.01;
  const dtype = o.dtype ?? 'float32';
  const type = o.type ?? 'sigmoid';
  // SimPO compares length-averaged log-probs (TRL's CPOTrainer): policy and reference alike. Every
  // other type takes summed ones (ipo and sigmoid_norm average the log-ratios inside the loss, TRL 1.x).
  const average = type === 'simpo';
  const r = rng(o.seed ?? 1);

  // policy table and its frozen reference: small random logits
  const W = Float32Array.from({ length: V * V }, () => (r() - 0.5) * 0.2);
  const W0 = W.slice();
  const m1 = new Float32Array(V * V); // Adam moments
  const m2 = new Float32Array(V * V);
  const dW = new Float32Array(V * V);

  /** A sequence: the prompt, then `step`-transitions (30%) or random tokens. */
  const respond = (prompt: number[], step: number): number[] => {
    const s = [...prompt];
    while (s.length < T) s.push(r() < 0.3 ? (s[s.length - 1]! + step) % V : Math.floor(r() * V));
    return s;
  };
  /** logits [rows, T, V] for token rows from a table, in `dtype` */
  const logitsOf = (table: Float32Array, rows: number[][]) => {
    const f = new Float32Array(rows.length * T * V);
    rows.forEach((seq, b) => seq.forEach((tok, t) => f.set(table.subarray(tok * V, (tok + 1) * V), (b * T + t) * V)));
    return tensor(f, [rows.length, T, V], { dtype }); // float32: no copy; float16/bfloat16: rounded to nearest even
  };

  const out: TrainResult = { losses: [], accuracies: [], margins: [] };
  for (let step = 1; step <= steps; step++) {
    // 1. a batch of pairs: rows [chosen_1..chosen_B, rejected_1..rejected_B]
    const chosen: number[][] = [];
    const rejected: number[][] = [];
    for (let b = 0; b < B; b++) {
      const prompt = Array.from({ length: P }, () => Math.floor(r() * V));
      chosen.push(respond(prompt, 1));
      rejected.push(respond(prompt, 7));
    }
    const rows = [...chosen, ...rejected];
    // labels: the tokens, with the prompt ignored (with shift, logits[t] predicts labels[t + 1])
    const labels = tensor(Int32Array.from(rows.flatMap((s) => s.map((tok, t) => (t < P ? -100 : tok)))), [2 * B, T]);

    // 2. reference log-probs (a frozen model: no gradient)
    const ref = dpo.sequenceLogps(logitsOf(W0, rows), labels, { average }).logps.data;
    const refChosen = tensor(ref.slice(0, B));
    const refRejected = tensor(ref.slice(B));

    // 3. loss, metrics and dloss/dlogits, written over the policy logits
    const logits = logitsOf(W, rows);
    const res = dpo.step({ logits, labels, refChosen, refRejected }, { beta, type, average });
    out.losses.push(res.loss);
    out.accuracies.push(res.accuracy);
    const margins = res.margins.data;
    out.margins.push(margins.reduce((a, v) => a + v, 0) / B);
    if (o.onLog && (step === 1 || step % (o.logEvery ?? 50) === 0)) o.onLog(step, res.loss, res.accuracy, out.margins[out.margins.length - 1]!);

    // 4. backprop through the table lookup: dW[token] += dlogits[row, t]
    const g = res.gradLogits.toFloat32Array(); // decodes float16/bfloat16
    dW.fill(0);
    rows.forEach((seq, b) =>
      seq.forEach((tok, t) => {
        const src = (b * T + t) * V;
        for (let j = 0; j < V; j++) dW[tok * V + j] = dW[tok * V + j]! + g[src + j]!;
      }),
    );

    // 5. Adam
    const b1 = 0.9;
    const b2 = 0.999;
    const c1 = 1 - b1 ** step;
    const c2 = 1 - b2 ** step;
    for (let i = 0; i < W.length; i++) {
      m1[i] = b1 * m1[i]! + (1 - b1) * dW[i]!;
      m2[i] = b2 * m2[i]! + (1 - b2) * dW[i]! * dW[i]!;
      W[i] = W[i]! - (lr * (m1[i]! / c1)) / (Math.sqrt(m2[i]! / c2) + 1e-8);
    }
  }
  return out;
}

if (require.main === module) {
  const arg = (name: string) => {
    const i = process.argv.indexOf(`--${name}`);
    return i >= 0 ? process.argv[i + 1] : undefined;
  };
  const steps = Number(arg('steps') ?? 300);
  const t0 = process.hrtime.bigint();
  const res = trainDpo({
    steps,
    type: (arg('type') as DpoLossType | undefined) ?? 'sigmoid',
    dtype: (arg('dtype') as FloatDType | undefined) ?? 'float32',
    logEvery: Math.max(1, Math.floor(steps / 10)),
    onLog: (step, loss, acc, margin) =>
      console.log(`step ${String(step).padStart(4)}  loss ${loss.toFixed(4)}  reward accuracy ${acc.toFixed(2)}  margin ${margin.toFixed(3)}`),
  });
  const avg = (a: number[]) => a.reduce((x, y) => x + y, 0) / a.length;
  const k = Math.max(1, Math.floor(steps / 10));
  console.log(
    `first ${k} steps: loss ${avg(res.losses.slice(0, k)).toFixed(4)}, accuracy ${avg(res.accuracies.slice(0, k)).toFixed(2)}; ` +
      `last ${k}: loss ${avg(res.losses.slice(-k)).toFixed(4)}, accuracy ${avg(res.accuracies.slice(-k)).toFixed(2)} ` +
      `(${(Number(process.hrtime.bigint() - t0) / 1e6).toFixed(0)} ms)`,
  );
}

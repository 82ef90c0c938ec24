/**
 * Demo stage: one DPO step at a LLaVA-like shape: 4 preference pairs (8 rows: chosen then
 * rejected, as TRL's concatenated forward), T = 512 positions (a 128-position prompt whose image
 * placeholders and text are masked with -100, then the response), vocab 32000, bfloat16 logits.
 * Times each part: reference log-probs, the policy forward, the loss, the in-place backward, and
 * dpo.step doing all of it; CPU, then CUDA when there is a GPU.
 */
import { cudaAvailable, dpo, empty, tensor, type Tensor } from '../../lib';
import { decodeToFloat32 } from '../../lib/dtype';
import { logpsBackwardRef, padded, sequenceLogpsRef } from '../../test/reference/sequence_logps';
import { section, timed } from './util';

const PAIRS = 4;
const ROWS = 2 * PAIRS;
const T = 512;
const V = 32000;
const PROMPT = 128;

/** bf16 logits around N(0, 2)-ish with a few peaked tokens per row (cheap LCG, not a test). */
function fakeLogits(seed: number): Tensor<'bfloat16'> {
  const t = empty([ROWS, T, V], 'bfloat16');
  const d = t.data;
  let s = seed >>> 0;
  for (let i = 0; i < d.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    // exponent 2^-3..2^1 with a random sign and mantissa: |x| in [0.125, 4)
    d[i] = ((124 + ((s >>> 16) % 5)) << 7) | (s & 127) | (s & 0x8000);
  }
  return t;
}

function labels(seed: number): Tensor<'int32'> {
  const l = new Int32Array(ROWS * T);
  let s = seed >>> 0;
  for (let r = 0; r < ROWS; r++) {
    const len = PROMPT + 200 + ((r * 37) % 150); // responses of different lengths, then padding
    for (let t = 0; t < T; t++) {
      s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
      l[r * T + t] = t < PROMPT || t >= len ? -100 : s % V;
    }
  }
  return tensor(l, [ROWS, T]);
}

const gbps = (bytes: number, ms: number) => `${(bytes / ms / 1e6).toFixed(1)} GB/s`;

export async function run(): Promise<void> {
  section(`dpo: one DPO step, ${PAIRS} pairs -> [${ROWS}, ${T}, ${V}] bfloat16 logits`);
  const policy = fakeLogits(1);
  const reference = fakeLogits(2);
  const lab = labels(3);
  const scored = lab.data.reduce((n, y, i) => n + (y !== -100 && i % T !== 0 ? 1 : 0), 0);
  // only the logits rows that score a token are read (the forward) or computed (the backward)
  const bytes = scored * V * 2;
  console.log(`${(policy.byteLength / 2 ** 20).toFixed(0)} MiB of logits per model; ${scored} of ${ROWS * T} positions scored (GB/s below count their rows)`);

  // CPU, part by part
  const [ref, refMs] = await timed(() => dpo.sequenceLogps(reference, lab));
  const refChosen = tensor(ref.logps.data.slice(0, PAIRS));
  const refRejected = tensor(ref.logps.data.slice(PAIRS));
  const work = policy.clone();
  const [fwd, fwdMs] = await timed(() => dpo.sequenceLogps(work, lab, { returnLse: true }));
  const [l, lossMs] = await timed(() =>
    dpo.loss({ policyChosen: tensor(fwd.logps.data.slice(0, PAIRS)), policyRejected: tensor(fwd.logps.data.slice(PAIRS)), refChosen, refRejected }, { beta: 0.1 }),
  );
  const g = tensor(Float32Array.from([...l.grad.policyChosen.data, ...l.grad.policyRejected.data]));
  const [, bwdMs] = await timed(() => dpo.logpsBackward(work, lab, g, { lse: fwd.lse, inPlace: true }));
  console.log(`CPU reference logps   ${refMs.toFixed(1).padStart(7)} ms (${gbps(bytes, refMs)})`);
  console.log(`CPU policy forward    ${fwdMs.toFixed(1).padStart(7)} ms (${gbps(bytes, fwdMs)}), log-probs ${Array.from(fwd.logps.data, (v) => v.toFixed(1)).join(' ')}`);
  console.log(`CPU loss              ${lossMs.toFixed(3).padStart(7)} ms: loss ${l.loss.toFixed(4)}, accuracy ${l.accuracy.toFixed(2)}, margins ${Array.from(l.margins.data, (v) => v.toFixed(3)).join(' ')}`);
  console.log(`CPU backward in place ${bwdMs.toFixed(1).padStart(7)} ms (${gbps(2 * bytes, bwdMs)} read + write)`);

  const copy = policy.clone();
  const [st, stepMs] = await timed(() => dpo.step({ logits: copy, labels: lab, refChosen, refRejected }, { beta: 0.1 }));
  const same = (copy.data as Uint16Array).every((v, i) => v === (work.data as Uint16Array)[i]);
  console.log(`CPU dpo.step          ${stepMs.toFixed(1).padStart(7)} ms (forward + loss + backward in one call), loss ${st.loss.toFixed(4)}, gradient identical to the parts: ${same}`);
  const copy2 = policy.clone();
  const [, asyncMs] = await timed(() => dpo.stepAsync({ logits: copy2, labels: lab, refChosen, refRejected }, { beta: 0.1 }));
  console.log(`CPU dpo.stepAsync     ${asyncMs.toFixed(1).padStart(7)} ms (off the main thread)`);

  // the naive TS version on two rows, scaled: forward + backward
  const rows2 = decodeToFloat32('bfloat16', policy.data.subarray(0, 2 * V));
  const lab2 = [lab.data[PROMPT]!, lab.data[PROMPT + 1]!].map((v) => (v < 0 ? 0 : v));
  const [, naiveMs] = await timed(() => {
    sequenceLogpsRef(rows2, lab2, padded(1, 2, V, { shift: false }));
    logpsBackwardRef(rows2, lab2, [1], padded(1, 2, V, { shift: false }));
  });
  const naiveFull = (naiveMs / 2) * (scored + ROWS); // per scored row (+ zero rows: negligible)
  console.log(`naive TS estimate     ${naiveFull.toFixed(0).padStart(7)} ms for forward + backward: mmpref is ${(naiveFull / (fwdMs + bwdMs)).toFixed(0)}x faster`);

  if (cudaAvailable()) {
    const gl = policy.to('cuda');
    const gr = reference.to('cuda');
    const glab = lab.to('cuda');
    dpo.sequenceLogps(gr, glab).logps.dispose(); // warm-up
    const [gref, grefMs] = await timed(() => dpo.sequenceLogps(gr, glab));
    const rc = tensor(gref.logps.to('cpu').data.slice(0, PAIRS)).to('cuda');
    const rj = tensor(gref.logps.to('cpu').data.slice(PAIRS)).to('cuda');
    const [gfwd, gfwdMs] = await timed(() => dpo.sequenceLogps(gl, glab, { returnLse: true }));
    const gg = g.to('cuda');
    const [, gbwdMs] = await timed(() => dpo.logpsBackward(gl, glab, gg, { lse: gfwd.lse, inPlace: true }));
    const gcopy = policy.to('cuda');
    const [gst, gstepMs] = await timed(() => dpo.step({ logits: gcopy, labels: glab, refChosen: rc, refRejected: rj }, { beta: 0.1 }));
    console.log(`CUDA reference logps  ${grefMs.toFixed(2).padStart(7)} ms (${gbps(bytes, grefMs)})`);
    console.log(`CUDA policy forward   ${gfwdMs.toFixed(2).padStart(7)} ms (${gbps(bytes, gfwdMs)})`);
    console.log(`CUDA backward         ${gbwdMs.toFixed(2).padStart(7)} ms (${gbps(2 * bytes, gbwdMs)})`);
    console.log(`CUDA dpo.step         ${gstepMs.toFixed(2).padStart(7)} ms, loss ${gst.loss.toFixed(4)} (CPU ${st.loss.toFixed(4)})`);
    for (const t of [gl, gr, glab, gcopy, gg, rc, rj]) t.dispose();
  }
}

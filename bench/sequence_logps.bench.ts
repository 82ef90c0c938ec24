/**
 * dpo.sequenceLogps (forward, 'read' ceiling: the logits are read once) and dpo.logpsBackward
 * (in place with the forward's lse, 'rmw' ceiling: read + write of the logits) at B=8 rows of
 * T positions and vocab V, every position scored. Baseline: the float64 reference loops of
 * test/reference (a straightforward TS implementation) on a slice of positions, scaled (labelled).
 * Extra memory is measured by the harness (peak RSS growth during one call, outputs included);
 * the note gives B*T*V*4 bytes, what a materialised float32 log-softmax would take.
 * PyTorch: TRL's selective_log_softmax (gather - logsumexp per sequence) and softmax - one-hot.
 */
import { dpo, empty, tensor, type FloatDType, type Tensor } from '../lib';
import { logpsBackwardRef, padded, sequenceLogpsRef } from '../test/reference/sequence_logps';
import { fillRandom, timeBaselineMs, timeMs, type BenchContext, type Baseline } from './harness';

type Case = [B: number, T: number, V: number, dtype: FloatDType, note?: string];

const GB = 1e9;

/** Logit-like data: float32 uniform in [-4, 4] (harness fillRandom); half types with |x| in [2^-7, 8). */
function fillLogits(t: Tensor): void {
  if (t.dtype === 'float32') return fillRandom(t);
  const d = t.data as Uint16Array;
  const bias = t.dtype === 'bfloat16' ? 120 : 8; // exponent field of 2^-7
  const mant = t.dtype === 'bfloat16' ? 7 : 10;
  let s = 0x9e3779b9;
  for (let i = 0; i < d.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    d[i] = ((bias + ((s >>> 16) % 10)) << mant) | (s & ((1 << mant) - 1)) | (s & 0x8000);
  }
}

export function run(ctx: BenchContext): void {
  const cases: Case[] = ctx.quick
    ? [[8, 64, 32000, 'float32'], [8, 64, 32000, 'bfloat16']]
    : [
        [8, 512, 32000, 'float32'],
        [8, 512, 32000, 'bfloat16'],
        [8, 2048, 32000, 'float32'],
        [8, 2048, 32000, 'bfloat16'],
        [8, 512, 128256, 'float32'],
        [8, 512, 128256, 'bfloat16'],
        // B=8, T=2048, V=128256 is 8.4 GB (float32) / 4.2 GB (bfloat16): shrunk to fit < ~3 GB
        [2, 2048, 128256, 'float32', 'B shrunk from 8 to 2 (8.4 GB at B=8)'],
        [4, 2048, 128256, 'bfloat16', 'B shrunk from 8 to 4 (4.2 GB at B=8)'],
      ];
  for (const [B, T, V, dtype, shrunk] of cases) {
    const host = empty([B, T, V], dtype);
    fillLogits(host);
    const lab = new Int32Array(B * T);
    let s = 12345;
    for (let i = 0; i < lab.length; i++) {
      s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
      lab[i] = s % V;
    }
    const labelsHost = tensor(lab, [B, T]);
    const cuda = ctx.device === 'cuda';
    const x: Tensor = cuda ? host.to('cuda') : host;
    const labels: Tensor = cuda ? labelsHost.to('cuda') : labelsHost;
    const rows = B * T;
    const note = `a float32 log-softmax would be ${((rows * V * 4) / GB).toFixed(1)} GB${shrunk ? `; ${shrunk}` : ''}`;

    // naive TS baselines on a few rows, scaled to the full size
    let fwdBase: Baseline | undefined;
    let bwdBase: Baseline | undefined;
    const subT = Math.max(2, Math.min(T, Math.floor(1.5e6 / V)));
    if (!cuda) {
      const f = host.toFloat32Array().subarray(0, subT * V);
      const subLab = Array.from(lab.subarray(0, subT));
      const layout = padded(1, subT, V);
      const extrapolated = { k: subT, n: rows, unit: 'positions' };
      fwdBase = { name: 'naive TS', ms: (timeBaselineMs(() => sequenceLogpsRef(f, subLab, layout)) * rows) / subT, extrapolated };
      bwdBase = { name: 'naive TS', ms: (timeBaselineMs(() => logpsBackwardRef(f, subLab, [1], layout)) * rows) / subT, extrapolated };
    }

    let lse: Tensor | undefined;
    const fwdMs = timeMs(
      () => {
        const r = dpo.sequenceLogps(x, labels, { returnLse: true });
        lse?.dispose();
        lse = r.lse;
        r.logps.dispose();
        r.counts.dispose();
      },
      { warmup: 1, reps: 5, ceiling: 'read' },
    );
    ctx.record({ op: 'dpo.sequenceLogps', case: `[${B}, ${T}, ${V}] ${dtype}`, device: ctx.device, ms: fwdMs, bytes: x.byteLength + rows * 4, ceiling: 'read', baseline: fwdBase, note, torch: { op: 'sequence_logps', B, T, V, dtype } });

    const g = tensor(Float32Array.from({ length: B }, (_, i) => (i % 2 ? -0.5 : 0.5)), [B]);
    const gd = cuda ? g.to('cuda') : g;
    const bwdMs = timeMs(() => void dpo.logpsBackward(x, labels, gd, { lse, inPlace: true }), { warmup: 1, reps: 5, ceiling: 'rmw' });
    ctx.record({ op: 'dpo.logpsBackward', case: `[${B}, ${T}, ${V}] ${dtype} in place`, device: ctx.device, ms: bwdMs, bytes: 2 * x.byteLength + rows * 8, ceiling: 'rmw', baseline: bwdBase, note, torch: { op: 'logps_backward', B, T, V, dtype } });

    lse?.dispose();
    if (cuda) {
      x.dispose();
      labels.dispose();
      gd.dispose();
    }
  }
}

/**
 * Leak soak (issue 10): every op of the fuzz table (ops.ts) runs N times (valid calls, sync and
 * Async alternating, plus the error path of one bad call per iteration) and RSS and external
 * memory must stay flat after a full GC.
 *
 * Threshold, from a control: the same loop shape with a JS-only "op" (allocates the same kind of
 * output tensors, no native call) is measured first, R times; its largest |growth| is the noise of
 * this process's measurement. An op passes when its growth is at most max(FLOOR, 4 x noise) for RSS
 * and for external memory. FLOOR (2 MiB RSS, 256 KiB external) keeps allocator jitter from failing
 * a run; with N = 10^4 calls it still catches a leak of >= 210 B (RSS) / 27 B (external) per call.
 *   node --expose-gc dist/test/fuzz/soak.js [--iterations N] [--ops a,b] [--op-seconds S] [--max-seconds S]
 */
import { empty } from '../../lib';
import { outcomeOf } from './cases';
import { OPS, type OpSpec } from './ops';
import { makeRng } from './rng';

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) {
  console.error('soak: run with node --expose-gc');
  process.exit(2);
}
function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}
const N = Number(arg('iterations') ?? 10000);
const only = arg('ops')?.split(',');
const maxSeconds = Number(arg('max-seconds') ?? 600);
/** time budget per op: slow ops (the model ones) get fewer calls (at least 100) */
const opMs = Number(arg('op-seconds') ?? 20) * 1000;
const MiB = 1 << 20;
const FLOOR_RSS = 2 * MiB;
const FLOOR_EXT = 256 * 1024;

function settle(): { rss: number; ext: number } {
  for (let k = 0; k < 3; k++) gc!();
  const m = process.memoryUsage();
  return { rss: m.rss, ext: m.external + m.arrayBuffers };
}

/** runs `call` n times (warm-up first), returns the growth of rss and external memory */
async function measure(n: number, call: (k: number) => unknown): Promise<{ rss: number; ext: number; ms: number }> {
  const warm = Math.min(200, Math.max(10, n / 20));
  for (let k = 0; k < warm; k++) await call(k);
  const a = settle();
  const t0 = Date.now();
  for (let k = 0; k < n; k++) await call(k);
  const ms = Date.now() - t0;
  const b = settle();
  return { rss: b.rss - a.rss, ext: b.ext - a.ext, ms };
}

function opCall(spec: OpSpec): (k: number) => Promise<unknown> {
  const r = makeRng(7);
  const b = spec.build(r, 1);
  // the error path too: a call with one wrong argument, rebuilt every time (fresh tensors)
  return async (k) => {
    const async = spec.hasAsync && k % 2 === 1;
    await spec.call(b.args, async);
    if (k % 4 === 0) {
      const bad = spec.build(makeRng(k), 1);
      bad.args[0] = null;
      await outcomeOf(() => spec.call(bad.args, async));
    }
  };
}

async function main(): Promise<void> {
  const t0 = Date.now();
  // control: JS-only work of the same shape (a tensor allocated per call, every 4th an error)
  let noiseRss = 0, noiseExt = 0;
  for (let rep = 0; rep < 3; rep++) {
    const c = await measure(N, async (k) => {
      const t = empty([4, 9]);
      (t.data as Float32Array).fill(k);
      if (k % 4 === 0) await outcomeOf(() => empty([-1]));
    });
    noiseRss = Math.max(noiseRss, Math.abs(c.rss));
    noiseExt = Math.max(noiseExt, Math.abs(c.ext));
  }
  const limRss = Math.max(FLOOR_RSS, 4 * noiseRss);
  const limExt = Math.max(FLOOR_EXT, 4 * noiseExt);
  console.log(`soak: ${N} calls per op; control noise rss ${(noiseRss / 1024).toFixed(0)} KiB, external ${(noiseExt / 1024).toFixed(0)} KiB -> limits rss ${(limRss / 1024).toFixed(0)} KiB, external ${(limExt / 1024).toFixed(0)} KiB`);
  const bad: string[] = [];
  const specs = OPS.filter((o) => !only || only.includes(o.name));
  for (const spec of specs) {
    if ((Date.now() - t0) / 1000 > maxSeconds) {
      bad.push(`${spec.name}: not run (--max-seconds ${maxSeconds} reached)`);
      continue;
    }
    const probe = await measure(10, opCall(spec));
    const n = Math.max(Math.min(N, 100), Math.min(N, Math.floor(opMs / Math.max(1e-3, probe.ms / 10))));
    let m = await measure(n, opCall(spec));
    // one retry: a single growth step can be the allocator keeping a fresh arena
    if (m.rss > limRss || m.ext > limExt) m = await measure(n, opCall(spec));
    const ok = m.rss <= limRss && m.ext <= limExt;
    console.log(`${ok ? 'flat ' : 'GROWS'} ${spec.name.padEnd(30)} ${String(n).padStart(6)} calls ${(m.ms / n).toFixed(3).padStart(8)} ms/call  rss ${(m.rss / 1024).toFixed(0).padStart(7)} KiB  external ${(m.ext / 1024).toFixed(0).padStart(7)} KiB`);
    if (!ok) bad.push(`${spec.name}: rss +${(m.rss / 1024).toFixed(0)} KiB, external +${(m.ext / 1024).toFixed(0)} KiB after ${n} calls`);
  }
  console.log(`soak: ${specs.length - bad.length}/${specs.length} ops flat in ${((Date.now() - t0) / 1000).toFixed(0)} s${bad.length ? `; growing: ${bad.join('; ')}` : ''}`);
  process.exit(bad.length ? 1 : 0);
}
void main();

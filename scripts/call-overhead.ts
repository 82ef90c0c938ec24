/**
 * Per-call overhead of the smallest ops, this checkout against another (e.g. the commit before
 * the generic binding path), in one process, alternating rounds so drift hits both alike:
 *
 *   npx tsx scripts/call-overhead.ts /path/to/other/checkout [rounds]
 *
 * The other checkout needs its addon built (build/Release/mmpref.node). Cases: a decode-step
 * rmsNorm [1, 4096] and rotary [1, 32, 1, 128], float32, each through the public op (validation +
 * output given as `out`/inPlace, so no allocation) and through the raw binding. Prints the median
 * ns per call over the rounds. Both addons run with one thread (no pool wake-up in the numbers).
 *
 * The library loaded first tends to time faster (measured 2026-12-07: up to about 7% on ops.rotary),
 * so run it both ways (from each checkout, naming the other) and compare the two orders.
 */
import path from 'node:path';

type Lib = { ops: Record<string, (...a: unknown[]) => unknown>; tensor: (...a: unknown[]) => unknown; empty: (...a: unknown[]) => unknown };

function load(root: string): { lib: Lib; native: Record<string, (...a: unknown[]) => unknown> } {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const lib = require(path.join(root, 'lib', 'index.ts')) as Lib;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { native } = require(path.join(root, 'lib', 'native.ts')) as { native: Record<string, (...a: unknown[]) => unknown> };
  return { lib, native };
}

function cases(l: ReturnType<typeof load>) {
  const { ops, empty } = l.lib;
  l.native.setNumThreads!(1); // one thread: no pool wake-up, so the call overhead is what differs
  const x = empty([1, 4096]) as { data: Float32Array };
  const w = empty([4096]) as { data: Float32Array };
  const out = empty([1, 4096]);
  x.data.fill(0.5);
  w.data.fill(1);
  const q = empty([1, 32, 1, 128]) as { data: Float32Array };
  q.data.fill(0.25);
  return {
    'ops.rmsNorm [1, 4096]': () => ops.rmsNorm!(x, w, { out }),
    'ops.rotary [1, 32, 1, 128] in place': () => ops.rotary!(q, { offset: 7, inPlace: true }),
    'raw rmsNorm [1, 4096]': () => l.native.rmsNorm!(x, w, out, 1e-6, false),
    'raw rotary [1, 32, 1, 128]': () => l.native.rotary!(q, q, null, 7, 10000, false),
  };
}

// CPU time of this process (user + system), not wall time: on a shared, loaded machine the
// process is descheduled for most of the wall time, which would swamp the differences.
function timeNs(f: () => unknown, n: number): number {
  const t0 = process.cpuUsage();
  for (let i = 0; i < n; i++) f();
  const d = process.cpuUsage(t0);
  return ((d.user + d.system) * 1000) / n;
}

const other = process.argv[2];
if (!other) throw new Error('usage: call-overhead.ts <other checkout> [rounds]');
const rounds = Number(process.argv[3] ?? 15);
const here = path.join(__dirname, '..');
const sides = { before: cases(load(path.resolve(other))), after: cases(load(here)) };
const names = Object.keys(sides.after) as (keyof typeof sides.after)[];
const res: Record<string, { before: number[]; after: number[] }> = {};
for (const n of names) {
  res[n] = { before: [], after: [] };
  for (const s of ['before', 'after'] as const) timeNs(sides[s][n], 20000); // warm-up
}
for (let r = 0; r < rounds; r++)
  for (const n of names)
    for (const s of r % 2 ? (['after', 'before'] as const) : (['before', 'after'] as const)) res[n]![s].push(timeNs(sides[s][n], 20000));
const median = (v: number[]) => [...v].sort((a, b) => a - b)[v.length >> 1]!;
console.log(`node ${process.version}, ${rounds} rounds x 20000 calls, median CPU ns/call`);
for (const n of names) {
  const b = median(res[n]!.before);
  const a = median(res[n]!.after);
  console.log(`${n.padEnd(40)} before ${b.toFixed(0).padStart(6)}  after ${a.toFixed(0).padStart(6)}  ${(((a - b) / b) * 100).toFixed(1).padStart(6)}%`);
}

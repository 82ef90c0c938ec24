/**
 * npm run bench [-- --device cpu|cuda|all] [--only name,name] [--quick] [--json file] [--torch]
 *                  [--results bench/RESULTS.md]
 *
 * Runs every bench/*.bench.ts (each exports `run(ctx)`; see bench/harness.ts), prints one line per
 * measurement and, at the end, a markdown table with the machine, date and load it came from.
 * --results FILE replaces the block between the `<!-- bench:begin -->` / `<!-- bench:end -->`
 * markers of FILE (or writes a new file) with that table. --torch adds the PyTorch eager time of
 * each row (bench/torch_ops.py, same shapes, same thread count) when python3 can import torch.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { cudaAvailable, numThreads } from '../lib';
import {
  ceilingForRow,
  closeSession,
  isCompute,
  machineDescription,
  measureCeilings,
  openSession,
  sessionInfo,
  type BenchContext,
  type BenchDevice,
  type BenchRow,
  type CeilingKind,
} from './harness';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

interface Row extends BenchRow {
  gbps: number;
  gflops?: number;
  ceilingValue: number;
  ceilingBefore?: number;
  ceilingAfter: number;
  /** row figure / ceiling; > 1 means the measurement is wrong, and the table says so */
  ofCeiling: number;
  extraBytes?: number;
  load1: number;
  torchMs?: number;
  torchNote?: string;
}

const load = () => os.loadavg().map((l) => l.toFixed(2)).join(' ');
const fmtBytes = (b: number | undefined) =>
  b === undefined ? '' : Math.abs(b) < 2 ** 20 ? `${(b / 1024).toFixed(0)} KiB` : Math.abs(b) < 2 ** 30 ? `${(b / 2 ** 20).toFixed(1)} MiB` : `${(b / 2 ** 30).toFixed(2)} GiB`;
const unit = (k: CeilingKind) => (isCompute(k) ? 'GFLOP/s' : 'GB/s');

function ratioCell(r: Row): string {
  if (!Number.isFinite(r.ofCeiling)) return `n/a (${r.ceiling} not measured)`;
  if (r.ofCeiling > 1) return `**measurement error** (above the ${r.ceiling} ceiling)`;
  return `${r.ofCeiling.toFixed(2)}x ${r.ceiling}`;
}

function baselineCell(r: Row): string {
  const b = r.baseline;
  if (!b) return '';
  const ex = b.extrapolated ? ` (extrapolated from ${b.extrapolated.k} of ${b.extrapolated.n} ${b.extrapolated.unit})` : '';
  return `${b.name} ${b.ms.toFixed(1)} ms${ex}`;
}

function torchCell(r: Row): string {
  if (r.torchMs !== undefined) return `${r.torchMs.toFixed(3)} ms (${(r.torchMs / r.ms).toFixed(1)}x)`;
  return r.torchNote ?? '';
}

/** Runs bench/torch_ops.py on the rows' specs; fills torchMs / torchNote. Prints why when skipped. */
function runTorch(rows: Row[], device: BenchDevice): void {
  const py = process.env.PYTHON ?? 'python3';
  const probe = spawnSync(py, ['-c', 'import torch; print(torch.__version__)'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) {
    const why = probe.error ? `${py} not found (${probe.error.message})` : `torch not importable: ${(probe.stderr || '').trim().split('\n').pop()}`;
    console.log(`# --torch: skipped: ${why}`);
    return;
  }
  const specs = rows.map((r, i) => (r.torch ? { id: i, device, ...r.torch } : undefined)).filter(Boolean);
  if (!specs.length) return;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mmpref-torch-'));
  const inFile = path.join(dir, 'in.json');
  const outFile = path.join(dir, 'out.json');
  const llc = sessionInfo()?.ceilingBytes ?? 128 * 2 ** 20;
  fs.writeFileSync(inFile, JSON.stringify({ threads: numThreads(), flushBytes: llc, quick: process.argv.includes('--quick'), specs }));
  console.log(`# --torch: PyTorch ${probe.stdout.trim()} eager, ${numThreads()} threads, ${specs.length} ops`);
  const res = spawnSync(py, [path.join(__dirname, 'torch_ops.py'), inFile, outFile], { stdio: 'inherit' });
  if (res.status !== 0 || !fs.existsSync(outFile)) {
    console.log(`# --torch: bench/torch_ops.py failed (exit ${res.status}); PyTorch column left empty`);
    return;
  }
  const out = JSON.parse(fs.readFileSync(outFile, 'utf8')) as { id: number; ms?: number; error?: string; label?: string }[];
  for (const o of out) {
    const r = rows[o.id]!;
    if (o.ms !== undefined) r.torchMs = o.ms;
    else r.torchNote = `not timed: ${o.error}`;
    if (o.label) r.torchNote = o.label;
  }
  fs.rmSync(dir, { recursive: true, force: true });
}

function table(rows: Row[], header: string[]): string {
  const lines: string[] = [];
  lines.push(...header.map((h) => `- ${h.replace(/^# /, '')}`));
  lines.push('');
  lines.push('| device | op | case | ms | GB/s | GFLOP/s | ceiling used (before / after) | of ceiling | extra memory (measured) | baseline (same run) | speedup | PyTorch eager (its ms / ours) | notes |');
  lines.push('|---|---|---|---:|---:|---:|---|---|---:|---|---:|---|---|');
  for (const r of rows) {
    const c = `${r.ceilingValue.toFixed(1)} ${unit(r.ceiling)} (${r.ceilingBefore !== undefined ? r.ceilingBefore.toFixed(1) : '-'} / ${r.ceilingAfter.toFixed(1)})`;
    lines.push(
      `| ${r.device} | ${r.op} | ${r.case} | ${r.ms.toFixed(3)} | ${r.gbps.toFixed(1)} | ${r.gflops !== undefined ? r.gflops.toFixed(1) : ''} | ${c} | ${ratioCell(r)} | ${fmtBytes(r.extraBytes)} | ${baselineCell(r)} | ${r.baseline ? `${(r.baseline.ms / r.ms).toFixed(1)}x` : ''} | ${torchCell(r)} | ${r.note ?? ''} |`,
    );
  }
  // per op: ranges over its rows (flagged rows left out of the ratio range and counted instead)
  lines.push('');
  lines.push('| device | op | rows | of ceiling (min-max) | flagged > 1.0x | speedup vs baseline | PyTorch ms / ours | extra memory (max) |');
  lines.push('|---|---|---:|---|---:|---|---|---:|');
  const range = (v: number[], d = 2, s = 'x') => (v.length ? `${Math.min(...v).toFixed(d)}${s}-${Math.max(...v).toFixed(d)}${s}` : '');
  const groups = new Map<string, Row[]>();
  for (const r of rows) groups.set(`${r.device} ${r.op}`, [...(groups.get(`${r.device} ${r.op}`) ?? []), r]);
  for (const [key, g] of groups) {
    const ok = g.filter((r) => r.ofCeiling <= 1);
    const kinds = [...new Set(ok.map((r) => r.ceiling))].join('/');
    const extras = g.map((r) => r.extraBytes).filter((v): v is number => v !== undefined);
    lines.push(
      `| ${key.replace(' ', ' | ')} | ${g.length} | ${range(ok.map((r) => r.ofCeiling))} ${kinds} | ${g.length - ok.length} | ${range(g.filter((r) => r.baseline).map((r) => r.baseline!.ms / r.ms), 1)} | ${range(g.filter((r) => r.torchMs !== undefined).map((r) => r.torchMs! / r.ms), 1)} | ${extras.length ? fmtBytes(Math.max(...extras)) : ''} |`,
    );
  }
  const bad = rows.filter((r) => r.ofCeiling > 1);
  lines.push('');
  lines.push(bad.length ? `**${bad.length} row(s) above their ceiling: measurement errors, not results** (${bad.map((r) => `${r.op} ${r.case}`).join('; ')}).` : 'No row is above its ceiling.');
  return lines.join('\n');
}

async function main(): Promise<void> {
  const quick = process.argv.includes('--quick');
  const torch = process.argv.includes('--torch');
  const only = (arg('only') ?? '').split(',').filter(Boolean);
  const want = arg('device') ?? 'all';
  const devices: BenchDevice[] = [];
  if (want === 'cpu' || want === 'all') devices.push('cpu');
  if ((want === 'cuda' || want === 'all') && cudaAvailable()) devices.push('cuda');
  if (want === 'cuda' && !cudaAvailable()) console.log('# no CUDA device: GPU benchmarks skipped');

  const files = fs
    .readdirSync(__dirname)
    .filter((f) => /\.bench\.(ts|js)$/.test(f) && !f.endsWith('.d.ts'))
    .filter((f) => !only.length || only.some((o) => f.startsWith(o)))
    .sort();
  const started = new Date();
  const header: string[] = [`# ${started.toISOString().slice(0, 16).replace('T', ' ')} UTC, Node ${process.version}, load average (1/5/15 min) at start: ${load()}`];
  console.log(header[0]);
  const all: Row[] = [];
  for (const device of devices) {
    const rows: Row[] = [];
    openSession(device, quick);
    const ceilings = measureCeilings(device, quick);
    const info = sessionInfo()!;
    const line =
      `# ${device}: ${machineDescription(device)} | ceilings at start: ` +
      (['read', 'copy', 'rmw', 'write'] as const).map((k) => `${k} ${ceilings[k].toFixed(1)} GB/s`).join(', ') +
      (device === 'cpu' ? `, fma-f32 ${ceilings['fma-f32'].toFixed(1)} GFLOP/s (${info.isa['fma-f32']}), fma-bf16 ${ceilings['fma-bf16'].toFixed(1)} GFLOP/s (${info.isa['fma-bf16']})` : '') +
      ` | ceiling buffers ${(info.ceilingBytes / 2 ** 20).toFixed(0)} MiB (LLC ${info.llc})`;
    header.push(line);
    console.log(line);
    const ctx: BenchContext = {
      device,
      quick,
      ceilings,
      record(r) {
        const c = ceilingForRow(r.ceiling);
        if (isCompute(r.ceiling) && r.flops === undefined) throw new Error(`${r.op} ${r.case}: a ${r.ceiling} row needs flops`);
        const gbps = r.bytes / r.ms / 1e6;
        const gflops = r.flops !== undefined ? r.flops / r.ms / 1e6 : undefined;
        const ofCeiling = (isCompute(r.ceiling) ? gflops! : gbps) / c.value;
        const row: Row = { ...r, gbps, gflops, ceilingValue: c.value, ceilingBefore: c.before, ceilingAfter: c.after, ofCeiling, extraBytes: c.extraBytes, load1: os.loadavg()[0]! };
        rows.push(row);
        const fig = isCompute(r.ceiling) ? `${gflops!.toFixed(1).padStart(7)} GFLOP/s` : `${gbps.toFixed(1).padStart(7)} GB/s`;
        const ratio = ofCeiling > 1 ? `MEASUREMENT ERROR: ${ofCeiling.toFixed(2)}x > 1` : `${ofCeiling.toFixed(2)}x`;
        const base = r.baseline ? ` | ${baselineCell(row)} (${(r.baseline.ms / r.ms).toFixed(1)}x)` : '';
        console.log(
          `${device.padEnd(4)} ${r.op.padEnd(22)} ${r.case.padEnd(40)} ${r.ms.toFixed(3).padStart(9)} ms ${fig} ${ratio} of ${r.ceiling} ${c.value.toFixed(1)}` +
            `${c.extraBytes !== undefined ? ` | extra ${fmtBytes(c.extraBytes)}` : ''}${base}${r.note ? ` | ${r.note}` : ''} | load ${row.load1.toFixed(1)}`,
        );
      },
    };
    for (const f of files) {
      const mod = require(path.join(__dirname, f)) as { run(ctx: BenchContext): Promise<void> | void };
      await mod.run(ctx);
    }
    closeSession();
    if (torch) runTorch(rows, device);
    all.push(...rows);
  }
  const secs = (Date.now() - started.getTime()) / 1000;
  header.push(`# finished after ${secs.toFixed(0)} s, load average at end: ${load()}`);
  const md = table(all, header);
  console.log('\n' + md);
  const json = arg('json');
  if (json) fs.writeFileSync(json, JSON.stringify({ header, rows: all }, null, 1));
  const results = arg('results');
  if (results) {
    const block = `<!-- bench:begin (generated by bench/run.ts: do not edit by hand) -->\n${md}\n<!-- bench:end -->`;
    const old = fs.existsSync(results) ? fs.readFileSync(results, 'utf8') : '';
    const re = /<!-- bench:begin[^]*?<!-- bench:end -->/;
    fs.writeFileSync(results, re.test(old) ? old.replace(re, () => block) : `${old ? `${old.trimEnd()}\n\n` : '# Benchmark results\n\n'}${block}\n`);
    console.log(`# wrote ${results}`);
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});

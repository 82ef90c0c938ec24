/**
 * npm run bench [-- --device cpu|cuda|all] [--only name,name] [--quick] [--json file]
 *
 * Runs every bench/*.bench.ts (each exports `run(ctx)`), prints one line per measurement and, at
 * the end, a markdown table for bench/RESULTS.md with the machine it came from.
 */
import fs from 'node:fs';
import path from 'node:path';
import { cudaAvailable } from '../lib';
import { machineDescription, measureCeilings, type BenchContext, type BenchDevice, type BenchRow } from './harness';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

async function main(): Promise<void> {
  const quick = process.argv.includes('--quick');
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
  const rows: (BenchRow & { gbps: number; ofCeiling: number; ceilingGBps: number })[] = [];
  const header: string[] = [];
  for (const device of devices) {
    const ceilings = measureCeilings(device, quick);
    const line = `# ${device}: ${machineDescription(device)} | read ${ceilings.read.toFixed(1)} GB/s, copy ${ceilings.copy.toFixed(1)} GB/s, rmw ${ceilings.rmw.toFixed(1)} GB/s`;
    header.push(line);
    console.log(line);
    const ctx: BenchContext = {
      device,
      quick,
      ceilings,
      record(r) {
        const gbps = r.bytes / r.ms / 1e6;
        const ceilingGBps = ceilings[r.ceiling];
        const row = { ...r, gbps, ceilingGBps, ofCeiling: gbps / ceilingGBps };
        rows.push(row);
        const base = r.baseline ? ` | ${r.baseline.name} ${r.baseline.ms.toFixed(2)} ms (${(r.baseline.ms / r.ms).toFixed(1)}x)` : '';
        console.log(`${device.padEnd(4)} ${r.op.padEnd(26)} ${r.case.padEnd(34)} ${r.ms.toFixed(3).padStart(9)} ms ${gbps.toFixed(1).padStart(7)} GB/s ${row.ofCeiling.toFixed(2)}x ${r.ceiling}${base}${r.note ? ` | ${r.note}` : ''}`);
      },
    };
    for (const f of files) {
      const mod = require(path.join(__dirname, f)) as { run(ctx: BenchContext): Promise<void> | void };
      await mod.run(ctx);
    }
  }
  console.log('\n' + header.join('\n'));
  console.log('\n| device | op | case | ms | GB/s | of ceiling | baseline | speedup |');
  console.log('|---|---|---|---:|---:|---:|---|---:|');
  for (const r of rows)
    console.log(
      `| ${r.device} | ${r.op} | ${r.case} | ${r.ms.toFixed(3)} | ${r.gbps.toFixed(1)} | ${r.ofCeiling.toFixed(2)}x ${r.ceiling} | ${r.baseline ? `${r.baseline.name} ${r.baseline.ms.toFixed(2)} ms` : ''} | ${r.baseline ? `${(r.baseline.ms / r.ms).toFixed(1)}x` : ''} |`,
    );
  const json = arg('json');
  if (json) fs.writeFileSync(json, JSON.stringify({ header, rows }, null, 1));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});

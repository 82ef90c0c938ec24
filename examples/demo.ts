/**
 * npm run demo: the main job. Prints the backend report, then runs every stage in
 * examples/stages/NN_*.ts in order (each exports `run()`): mmpref's kernels at LLaVA-like shapes
 * with timings, up to the end-to-end BDHS + NoiseBoost + DPO pipeline.
 *   npm run demo -- --only 10,20     run only the stages whose file names start with these
 */
import fs from 'node:fs';
import path from 'node:path';
import { backend } from '../lib';
import { section } from './stages/util';

async function main(): Promise<void> {
  const b = backend();
  section('backend');
  console.log(
    `mmpref ${b.version}: CPU ${b.cpu.threads} threads (${b.cpu.simd}); CUDA ${
      b.cuda.available ? b.cuda.devices.map((d) => d.name).join(', ') : `unavailable: ${b.cuda.reason}`
    }`,
  );
  const i = process.argv.indexOf('--only');
  const only = i >= 0 ? (process.argv[i + 1] ?? '').split(',') : [];
  const dir = path.join(__dirname, 'stages');
  const stages = fs
    .readdirSync(dir)
    .filter((f) => /^\d\d_.*\.(ts|js)$/.test(f) && !f.endsWith('.d.ts'))
    .filter((f) => !only.length || only.some((o) => f.startsWith(o)))
    .sort();
  for (const f of stages) {
    const mod = require(path.join(dir, f)) as { run(): Promise<void> };
    await mod.run();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});

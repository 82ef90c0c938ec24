/**
 * npm run demo: the main job. Prints the backend report, then runs every stage in
 * examples/stages/NN_*.ts in order (each exports `run()`): mmpref's kernels at LLaVA-like shapes
 * with timings (10-50, CUDA too when present), then the end-to-end story (60): a tiny LLaVA-style
 * model made and saved, BDHS rejected answers, NoiseBoost + DPO training, the adapter saved.
 *   npm run demo -- --only 10,20     run only the stages whose file names start with these
 *   npm run demo -- --out DIR        where the story writes (default demo-out/, made fresh)
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
  const t0 = Date.now();
  const times: string[] = [];
  for (const f of stages) {
    const mod = require(path.join(dir, f)) as { run(): Promise<void> };
    const t = Date.now();
    await mod.run();
    times.push(`${f.slice(0, 2)} ${((Date.now() - t) / 1000).toFixed(1)} s`);
  }
  console.log(`\ndemo: ${((Date.now() - t0) / 1000).toFixed(1)} s for the stages (${times.join(', ')})`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});

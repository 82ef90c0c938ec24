// CUDA tests live in test/gpu/*.gpu.ts (Node's built-in runner, so they also run on a GPU machine
// that has no node_modules). Here they run when a GPU is present, and are skipped, visibly, when not.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { cudaAvailable } from '../lib';
import { cudaUnavailableReason } from '../lib/backend';

const root = path.join(__dirname, '..');
const reason = cudaUnavailableReason();
if (!cudaAvailable()) console.warn(`[mmpref] CUDA tests skipped: ${reason}`);

describe(`CUDA vs CPU${cudaAvailable() ? '' : ` (skipped: ${reason})`}`, () => {
  it.skipIf(!cudaAvailable())('node --test dist/test/gpu/*.gpu.js passes', () => {
    const dir = path.join(root, 'dist/test/gpu');
    const files = fs.readdirSync(dir).filter((f) => f.endsWith('.gpu.js')).map((f) => path.join(dir, f));
    expect(files.length).toBeGreaterThan(0);
    const out = execFileSync(process.execPath, ['--test', ...files], { cwd: root, encoding: 'utf8', stdio: 'pipe' });
    expect(out).toMatch(/# fail 0/);
  });
});

/**
 * Every compiled CPU variant runs and gives the same bits (docs/ARCHITECTURE.md "CPU SIMD"):
 * MMPREF_CPU_ISA=avx512|avx2|baseline selects the MMPREF_CPU_CLONES variant at load time
 * (native/cpp/core/cpu_isa.cc), so each variant runs in a child process. The children compute every
 * op with cloned kernels on fixed inputs (test/fixtures/variant_digest.ts) and report
 * backend().cpu.simd; the digests of every variant this CPU can run must equal the default one's.
 * A variant above the CPU's (avx512 on an AVX2 machine) must warn, naming the variable, and run
 * the best one. CI (.ci/run) also runs the whole suite under each other supported variant.
 * Exception: ops.linear goes through the GEMM micro-kernels (ops/gemm_kernels.cc), which are chosen by
 * gemm_isa() and round differently per ISA level (FMA vs separate multiply and add); their results
 * are checked against the float64 reference under every variant instead (test/linear.test.ts,
 * test/gemm.test.ts), and docs/ARCHITECTURE.md says so.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const FIXTURE = path.join(__dirname, 'fixtures', 'variant_digest.ts');
const LEVELS = ['baseline', 'avx2', 'avx512'] as const;
/** digests of ops whose bits depend on the ISA level by design (the GEMM core) */
const ISA_DEPENDENT = /^linear /;
const portable = (d: Record<string, string>) => Object.fromEntries(Object.entries(d).filter(([k]) => !ISA_DEPENDENT.test(k)));

interface Run {
  simd: string;
  digests: Record<string, string>;
  stderr: string;
}

function runFixture(env: Record<string, string | undefined>): Run {
  const r = spawnSync(process.execPath, ['--import', 'tsx', FIXTURE], {
    env: { ...process.env, MMPREF_CPU_ISA: undefined, ...env },
    encoding: 'utf8',
    timeout: 120_000,
  });
  if (r.status !== 0) throw new Error(`variant_digest exited ${r.status} (${r.signal ?? ''}):\n${r.stderr}`);
  const line = r.stdout.trim().split('\n').pop()!;
  return { ...(JSON.parse(line) as Omit<Run, 'stderr'>), stderr: r.stderr };
}

describe('CPU variants (MMPREF_CPU_ISA)', () => {
  const auto = runFixture({});
  const best = LEVELS.indexOf(auto.simd as (typeof LEVELS)[number]);

  it('reports a known variant and covers the cloned ops in every dtype', () => {
    expect(best).toBeGreaterThanOrEqual(0);
    expect(Object.keys(auto.digests).length).toBeGreaterThanOrEqual(3 * 21 + 2);
    expect(auto.stderr).not.toMatch(/MMPREF_CPU_ISA/);
  });

  for (const isa of LEVELS) {
    it(`MMPREF_CPU_ISA=${isa}: runs that variant with identical bits, or warns and runs the best`, () => {
      const run = runFixture({ MMPREF_CPU_ISA: isa });
      if (LEVELS.indexOf(isa) <= best) {
        expect(run.simd).toBe(isa);
        expect(run.stderr).not.toMatch(/MMPREF_CPU_ISA/);
        expect(portable(run.digests)).toEqual(portable(auto.digests));
        expect(Object.keys(run.digests)).toEqual(Object.keys(auto.digests));
      } else {
        expect(run.simd).toBe(auto.simd);
        expect(run.stderr).toContain(`MMPREF_CPU_ISA=${isa}`);
        expect(run.stderr).toContain(`using ${auto.simd}`);
      }
    });
  }

  it('an unknown MMPREF_CPU_ISA value warns with the variable, the value and the variant used', () => {
    const run = runFixture({ MMPREF_CPU_ISA: 'avx3' });
    expect(run.simd).toBe(auto.simd);
    expect(run.stderr).toMatch(/MMPREF_CPU_ISA=avx3 is not one of avx512, avx2, baseline, auto; using \w+/);
  });
});

#!/usr/bin/env node
/** `mmpref info [--json]`: the backend report. */
import { backend } from './backend';

function gib(bytes: number): string {
  return `${(bytes / 2 ** 30).toFixed(1)} GiB`;
}

function main(argv: string[]): number {
  const [cmd = 'info', ...rest] = argv;
  if (cmd === '--help' || cmd === '-h' || cmd === 'help') {
    console.log('usage: mmpref info [--json]   print the native backend report (CPU, CUDA, why not)');
    return 0;
  }
  if (cmd !== 'info') {
    console.error(`mmpref: unknown command '${cmd}' (try: mmpref info [--json])`);
    return 2;
  }
  const r = backend();
  if (rest.includes('--json')) {
    console.log(JSON.stringify(r, null, 2));
    return 0;
  }
  const lines = [
    `mmpref ${r.version}`,
    `  addon:          ${r.addon}`,
    `  default device: ${r.defaultDevice}`,
    `  CPU:            ${r.cpu.threads} threads, SIMD ${r.cpu.simd}`,
    `  CUDA:           ${r.cuda.available ? 'available' : `unavailable (${r.cuda.reason})`}`,
    `    compiled in:  ${r.cuda.compiled ? `yes (runtime ${r.cuda.runtimeVersion})` : 'no'}`,
    `    driver:       ${r.cuda.driverVersion ?? 'none'}`,
  ];
  for (const d of r.cuda.devices)
    lines.push(`    cuda:${d.index}        ${d.name}, compute ${d.computeCapability}, ${d.multiProcessors} SMs, ${gib(d.totalMemory)}`);
  console.log(lines.join('\n'));
  return 0;
}

process.exitCode = main(process.argv.slice(2));

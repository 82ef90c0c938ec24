#!/usr/bin/env node
/** `mmpref info [--json]`: the backend report; `mmpref train <recipe> ...` (lib/cli_train.ts). */
import { backend } from './backend';
import { MmprefError } from './errors';
import { trainCommand, TRAIN_USAGE, UsageError } from './cli_train';
import { generateCommand, GENERATE_USAGE } from './cli_generate';

const USAGE = `usage: mmpref <command> [options]

  info [--json]        print the native backend report (CPU, CUDA, why not)
  train <recipe> ...   train LoRA adapters with a recipe (mmpref train --help)
  generate --recipe bdhs|bpo ...   write rejected answers as JSONL (mmpref generate --help)

exit codes: 0 ok, 1 error, 2 usage, 130 interrupted`;

function gib(bytes: number): string {
  return `${(bytes / 2 ** 30).toFixed(1)} GiB`;
}

async function main(argv: string[]): Promise<number> {
  const [cmd = 'info', ...rest] = argv;
  if (cmd === '--help' || cmd === '-h' || cmd === 'help') {
    console.log(USAGE);
    return 0;
  }
  if (cmd === 'train' || cmd === 'generate') {
    try {
      return await (cmd === 'train' ? trainCommand(rest) : generateCommand(rest));
    } catch (e) {
      if (e instanceof UsageError || (e as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
        console.error(`mmpref ${cmd}: ${(e as Error).message}\n\n${cmd === 'train' ? TRAIN_USAGE : GENERATE_USAGE}`);
        return 2;
      }
      if (e instanceof MmprefError) {
        console.error(`mmpref ${cmd}: ${e.message}`);
        return 1;
      }
      throw e;
    }
  }
  if (cmd !== 'info') {
    console.error(`mmpref: unknown command '${cmd}'\n\n${USAGE}`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    console.log('usage: mmpref info [--json]   print the native backend report (CPU, CUDA, why not)');
    return 0;
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

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: Error) => {
    console.error(e.stack ?? String(e));
    process.exitCode = 1;
  },
);

/**
 * `mmpref generate --recipe bdhs --model DIR --data FILE --out FILE`: writes each input record
 * (its original JSON) with a generated `rejected` answer, as JSONL.
 */
import fs from 'node:fs';
import { parseArgs } from 'node:util';
import { LlamaModel } from './models/llama';
import { bdhsRejected } from './recipes/bdhs';
import { bpoRejected } from './recipes/bpo';
import { readJsonl } from './recipes/data';
import { UsageError } from './cli_train';

export const GENERATE_USAGE = `usage: mmpref generate --recipe bdhs|bpo --model DIR --data FILE --out FILE [options]

  --recipe bdhs|bpo   how rejected answers are made (docs/recipes.md)
  --model DIR         Hugging Face checkpoint (config.json + model.safetensors)
  --data FILE         JSONL records with prompt and chosen (docs/recipes.md)
  --out FILE          JSONL: each record with its generated 'rejected'
  --max-tries N       bdhs: tries per record (default 5)
  --seed N            sampling and mask seed (default 0)
  --on-bad-record skip|fatal   bad JSONL lines (default fatal)
  -h, --help          this help

exit codes: 0 done, 1 error, 2 usage`;

export async function generateCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      recipe: { type: 'string' }, model: { type: 'string' }, data: { type: 'string' }, out: { type: 'string' },
      'max-tries': { type: 'string' }, seed: { type: 'string' }, 'on-bad-record': { type: 'string' }, help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(GENERATE_USAGE);
    return 0;
  }
  if (values.recipe !== 'bdhs' && values.recipe !== 'bpo') throw new UsageError(`expected --recipe bdhs or bpo but received ${values.recipe === undefined ? 'none' : `'${values.recipe}'`}`);
  for (const k of ['model', 'data', 'out'] as const) if (!values[k]) throw new UsageError(`expected --${k} but received none`);
  const int = (name: string, v: string | undefined, d: number) => {
    if (v === undefined) return d;
    if (!/^\d+$/.test(v)) throw new UsageError(`expected --${name} as a non-negative integer but received '${v}'`);
    return Number(v);
  };
  const obr = values['on-bad-record'] ?? 'fatal';
  if (obr !== 'skip' && obr !== 'fatal') throw new UsageError(`expected --on-bad-record skip or fatal but received '${obr}'`);
  const data = readJsonl(values.data!, { onBadRecord: obr });
  const model = LlamaModel.load(values.model!);
  const seed = int('seed', values.seed, 0);
  const r =
    values.recipe === 'bdhs'
      ? await bdhsRejected(model, data, { maxTries: Math.max(1, int('max-tries', values['max-tries'], 5)), seed })
      : { records: await bpoRejected(model, data, { seed }), tries: [] as number[] };
  const lines = fs.readFileSync(values.data!, 'utf8').split('\n');
  const out = r.records.map((rec) => JSON.stringify({ ...(JSON.parse(lines[rec.line - 1]!) as object), rejected: rec.rejected }) + '\n');
  fs.writeFileSync(values.out!, out.join(''));
  process.stderr.write(`wrote ${out.length} record(s) to ${values.out}; ${r.tries.length ? `tries ${r.tries.join(' ')}` : 'bpo (VCD)'}${data.skipped ? `; skipped ${data.skipped} bad line(s)` : ''}\n`);
  return 0;
}

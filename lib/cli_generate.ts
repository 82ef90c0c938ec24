/**
 * `mmpref generate --recipe bdhs --model DIR --data FILE --out FILE`: writes each input record
 * (its original JSON) with a generated `rejected` answer, as JSONL (bpo: one line per pair, so two
 * a record with --error-injection).
 */
import fs from 'node:fs';
import { parseArgs } from 'node:util';
import { LlamaModel } from './models/llama';
import { bdhsRejected } from './recipes/bdhs';
import { bpoDataset, BPO_GENERATORS, type BpoGenerator } from './recipes/bpo';
import { readJsonl } from './recipes/data';
import { loadTokenizer } from './recipes/tokenizer';
import { UsageError, deviceFlag } from './cli_train';

export const GENERATE_USAGE = `usage: mmpref generate --recipe bdhs|bpo --model DIR --data FILE --out FILE [options]

  --recipe bdhs|bpo   how rejected answers are made (docs/recipes.md)
  --model DIR         Hugging Face checkpoint (config.json + model.safetensors)
  --device D          cpu (default), cuda or cuda:N: where the model is loaded
  --data FILE         JSONL records with prompt and chosen (docs/recipes.md)
  --out FILE          JSONL: each record with its generated 'rejected' (bpo: one line a pair)
  --max-tries N       bdhs: tries per record (default 5)
  --sentence-end IDS  bdhs: comma-separated token ids that end a sentence (e.g. '.' and EOS in your
                      tokenizer): reference-guided sentence completion (default: whole answers)
  --generators LIST   bpo: weakening,injection or one of them (default weakening)
  --error-injection   bpo: same as --generators weakening,injection
  --injection-prompt FILE   bpo injection: JSON {"before": [ids], "after": [ids]}, the few-shot
                      prompt's token ids around the chosen answer (default with --tokenizer:
                      recipes.ERROR_INJECTION_TEMPLATE tokenized)
  --tokenizer DIR     tokenizer.json directory, for promptText/chosenText fields and the default
                      injection prompt (needs the optional package @huggingface/transformers)
  --filter-size N     bpo: drop records with a completion longer than N tokens (default 350)
  --max-new-tokens N  new tokens per answer (default: bdhs/weakening the chosen length, injection 1024)
  --seed N            sampling and mask seed (default 0)
  --on-bad-record skip|fatal   bad JSONL lines (default fatal)
  -h, --help          this help

exit codes: 0 done, 1 error, 2 usage`;

export async function generateCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      recipe: { type: 'string' }, model: { type: 'string' }, data: { type: 'string' }, out: { type: 'string' }, device: { type: 'string' },
      'max-tries': { type: 'string' }, seed: { type: 'string' }, 'on-bad-record': { type: 'string' }, help: { type: 'boolean', short: 'h' },
      'sentence-end': { type: 'string' }, generators: { type: 'string' }, 'error-injection': { type: 'boolean' },
      'injection-prompt': { type: 'string' }, tokenizer: { type: 'string' }, 'filter-size': { type: 'string' }, 'max-new-tokens': { type: 'string' },
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
  const ids = (name: string, v: string) => {
    if (!/^\d+(,\d+)*$/.test(v)) throw new UsageError(`expected --${name} as comma-separated non-negative integer token ids but received '${v}'`);
    return v.split(',').map(Number);
  };
  const maxNew = values['max-new-tokens'] === undefined ? undefined : Math.max(1, int('max-new-tokens', values['max-new-tokens'], 1));
  let generators: BpoGenerator[] = ['weakening'];
  if (values['error-injection']) generators = ['weakening', 'injection'];
  if (values.generators !== undefined) {
    const g = values.generators.split(',');
    if (!g.every((x) => (BPO_GENERATORS as readonly string[]).includes(x))) throw new UsageError(`expected --generators as a comma-separated list of ${BPO_GENERATORS.join(', ')} but received '${values.generators}'`);
    generators = g as BpoGenerator[];
  }
  let template: { before: number[]; after: number[] } | undefined;
  const tok = values.tokenizer === undefined ? undefined : await loadTokenizer(values.tokenizer);
  if (generators.includes('injection') && !(tok && values['injection-prompt'] === undefined)) {
    const f = values['injection-prompt'];
    if (!f) throw new UsageError('expected --injection-prompt FILE (JSON {"before": [ids], "after": [ids]}) with error injection (or --tokenizer DIR for the default text prompt) but received none');
    let t: unknown;
    try {
      t = JSON.parse(fs.readFileSync(f, 'utf8'));
    } catch (e) {
      throw new UsageError(`expected --injection-prompt as a readable JSON file but received ${f} (${(e as Error).message})`);
    }
    const ok = (a: unknown) => Array.isArray(a) && a.every((x) => Number.isSafeInteger(x) && x >= 0);
    const tt = t as { before?: unknown; after?: unknown };
    if (!tt || !ok(tt.before) || !ok(tt.after)) throw new UsageError(`expected --injection-prompt ${f} as {"before": [ids], "after": [ids]} (non-negative integer token ids) but received ${JSON.stringify(t)?.slice(0, 60)}`);
    template = { before: tt.before as number[], after: tt.after as number[] };
  }
  const data = readJsonl(values.data!, { onBadRecord: obr, ...(tok ? { tokenize: tok.tokenize } : {}) });
  const model = LlamaModel.load(values.model!, { device: deviceFlag(values.device) });
  const seed = int('seed', values.seed, 0);
  const mn = maxNew === undefined ? {} : { maxNewTokens: maxNew };
  const r =
    values.recipe === 'bdhs'
      ? await bdhsRejected(model, data, {
          maxTries: Math.max(1, int('max-tries', values['max-tries'], 5)),
          seed,
          ...mn,
          ...(values['sentence-end'] !== undefined ? { sentenceEnd: ids('sentence-end', values['sentence-end']) } : {}),
        })
      : {
          ...(await bpoDataset(model, data, {
            generators,
            weakening: { seed, ...mn },
            injection: { ...(template ? { template } : {}), ...(tok ? { tokenize: tok.tokenize } : {}), seed, ...mn },
            ...(values['filter-size'] !== undefined ? { filterSize: Math.max(1, int('filter-size', values['filter-size'], 350)) } : {}),
          })),
          tries: [] as number[],
        };
  const lines = fs.readFileSync(values.data!, 'utf8').split('\n');
  const out = r.records.map((rec) => JSON.stringify({ ...(JSON.parse(lines[rec.line - 1]!) as object), rejected: rec.rejected, ...(tok ? { rejectedText: tok.decode(rec.rejected!) } : {}) }) + '\n');
  fs.writeFileSync(values.out!, out.join(''));
  const how = values.recipe === 'bdhs' ? `tries ${r.tries.join(' ')}` : `bpo (${generators.join(', ')}); dropped ${(r as { dropped: number }).dropped} over --filter-size`;
  process.stderr.write(`wrote ${out.length} record(s) to ${values.out}; ${how}${data.skipped ? `; skipped ${data.skipped} bad line(s)` : ''}\n`);
  return 0;
}

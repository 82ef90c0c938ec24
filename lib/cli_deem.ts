/**
 * `mmpref train deem --denoiser MODULE.js --data FILE --out DIR`: recipes.deem with the user's
 * module, loaded with require from the path given; it must export `createDeem(options)` returning
 * a DeemModule (docs/recipes.md). The progress line, metrics, checkpoints, Ctrl-C and --resume
 * work as for the other recipes (lib/cli_train.ts).
 */
import path from 'node:path';
import { fail } from './errors';
import { readJsonl } from './recipes/data';
import { deem, type DeemModule, type DeemStepEvent } from './recipes/deem';
import { followRun, num, UsageError } from './cli_train';

/** The parsed flags deem reads (strings as parseArgs gives them). */
export interface DeemCliValues {
  denoiser?: string;
  model?: string;
  data?: string;
  out?: string;
  steps?: string;
  'batch-size'?: string;
  lr?: string;
  'save-every'?: string;
  seed?: string;
  resume?: boolean;
  'on-bad-record'?: string;
}

/** Options `mmpref train deem` passes to the module's createDeem. */
export interface CreateDeemOptions {
  /** --seed (default 0). */
  seed: number;
  /** --model DIR, when given (e.g. where your diffusion model lives). */
  model?: string;
}

function progress(e: DeemStepEvent): string {
  const f = (v: number, d: number) => (Number.isFinite(v) ? v.toFixed(d) : '-');
  return `step ${e.step}/${e.totalSteps}  loss ${f(e.loss, 4)}  ${f(e.samplesPerSecond, 1)} samples/s  eta ${f(e.etaSeconds, 0)}s`;
}

/** Loads the user's module file and calls its createDeem factory. */
async function loadModule(file: string, options: CreateDeemOptions): Promise<DeemModule> {
  const op = 'deem';
  const abs = path.resolve(file);
  let mod: { createDeem?: unknown; default?: { createDeem?: unknown } };
  try {
    mod = require(abs) as typeof mod;
  } catch (e) {
    fail('ERR_IO', op, `expected --denoiser to name a loadable JavaScript module but could not load ${abs} (${(e as Error).message.split('\n')[0]})`);
  }
  const create = mod.createDeem ?? mod.default?.createDeem;
  if (typeof create !== 'function') fail('ERR_ARGUMENT', op, `expected ${abs} to export createDeem(options) (returning the DEEM module) but received ${typeof create}`);
  return (await (create as (o: CreateDeemOptions) => DeemModule | Promise<DeemModule>)(options)) as DeemModule;
}

/** Runs `mmpref train deem`; returns the exit code (UsageError for bad flags). */
export async function deemCommand(values: DeemCliValues & Record<string, unknown>): Promise<number> {
  for (const k of ['stage', 'sigma', 'beta', 'lora-rank', 'max-tries', 'device'])
    if (values[k] !== undefined) throw new UsageError(`expected no --${k} with deem (it trains your module, not LoRA adapters) but received '${String(values[k])}'`);
  if (!values.denoiser)
    throw new UsageError('expected --denoiser MODULE.js (a module exporting createDeem(options) that returns your denoiser, e.g. node_modules/mmpref/dist/lib/recipes/deem_example.js) but received none');
  for (const k of ['data', 'out'] as const) if (!values[k]) throw new UsageError(`expected --${k} but received none`);
  const obr = values['on-bad-record'];
  if (obr !== undefined && obr !== 'skip' && obr !== 'fatal') throw new UsageError(`expected --on-bad-record skip or fatal but received '${obr}'`);
  const seed = num('seed', values.seed, 0, true);
  const saveEvery = values['save-every'] === undefined ? undefined : num('save-every', values['save-every'], 0, true);
  const opts = {
    steps: num('steps', values.steps, 100, true),
    batchSize: num('batch-size', values['batch-size'], 4, true),
    lr: num('lr', values.lr, 1e-4, false),
    seed,
    out: values.out!,
    resume: !!values.resume,
    ...(saveEvery !== undefined ? { saveEvery } : {}),
  };
  const data = readJsonl(values.data!, { onBadRecord: (obr ?? 'fatal') as 'skip' | 'fatal', imagesOnly: true });
  const module = await loadModule(values.denoiser, { seed, ...(values.model ? { model: values.model } : {}) });
  return followRun(data, 'checkpoint in', progress, (signal) => deem(module, data, { ...opts, signal }));
}

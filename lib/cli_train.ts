/**
 * `mmpref train <recipe>`: trains LoRA adapters (or, --full, every weight) on a Hugging Face checkpoint with a recipe, one
 * progress line on stderr, metrics.jsonl + metrics.svg + checkpoints under --out, Ctrl-C saves a
 * checkpoint and exits 130.
 */
import { parseArgs } from 'node:util';
import { MmprefError } from './errors';
import { LlamaModel } from './models/llama';
import { readJsonl, type JsonlDataset } from './recipes/data';
import { noiseBoost } from './recipes/noiseboost';
import { bdhs } from './recipes/bdhs';
import { bpo } from './recipes/bpo';
import type { StepEvent } from './recipes/runner';
import { deemCommand } from './cli_deem';
import { LR_SCHEDULES, type LrScheduleType } from './recipes/schedule';

export const TRAIN_USAGE = `usage: mmpref train <noiseboost|bpo|bdhs|deem> --model DIR --data FILE --out DIR [options]
       mmpref train deem --denoiser FILE --data FILE --out DIR [--steps --batch-size --lr --seed --resume --save-every]

  --model DIR         Hugging Face checkpoint (config.json + model.safetensors)
  --data FILE         JSONL records (docs/recipes.md)
  --out DIR           checkpoints, metrics.jsonl and metrics.svg go here
  --device D          cpu (default), cuda or cuda:N: where the model is loaded and trained
  --steps N           optimizer steps (default 100)
  --batch-size N      records per step (default 4)
  --lr X              AdamW learning rate (default 1e-4)
  --lr-schedule constant|constant_with_warmup|linear|cosine
                      lr schedule as transformers' get_scheduler (default constant;
                      bpo: cosine with --warmup 0.03, the released recipe's)
  --warmup X          linear warmup with --lr-schedule: a ratio of --steps if X < 1, else steps
  --full              full fine-tuning: every weight, no LoRA (checkpoints hold the whole model)
  --save-every N      checkpoint every N steps (default: at the end and on Ctrl-C)
  --resume            continue from the newest checkpoint in --out
  --seed N            noise and LoRA init seed (default 0)
  --stage sft|dpo     noiseboost stage (default dpo)
  --sigma X           noiseboost noise scale (default 0.5)
  --beta X            DPO beta (default 0.1)
  --lora-rank N       LoRA rank (default 8, alpha = 2 x rank; bpo: 32, alpha 256)
  --on-bad-record skip|fatal   bad JSONL lines (default fatal)
  --max-tries N       bdhs: generation tries per record (default 5)
  --denoiser FILE     deem (needs --data, --out; no --model needed): a JavaScript module exporting
                      createDeem({ seed, model }) that returns your DEEM module (docs/recipes.md);
                      a tiny one: node_modules/mmpref/dist/lib/recipes/deem_example.js
  -h, --help          this help

exit codes: 0 done, 1 error, 2 usage, 130 interrupted (checkpoint saved)`;

const RECIPES = ['noiseboost', 'bpo', 'bdhs', 'deem'] as const;

export function num(name: string, v: string | undefined, dflt: number, integer: boolean): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isFinite(n) || (integer && !Number.isInteger(n))) throw new UsageError(`expected --${name} as ${integer ? 'an integer' : 'a number'} but received '${v}'`);
  return n;
}

export class UsageError extends Error {}

/** --device: 'cpu' (default), 'cuda' or 'cuda:N'. */
export function deviceFlag(v: string | undefined): 'cpu' | 'cuda' | `cuda:${number}` {
  if (v === undefined) return 'cpu';
  if (!/^(cpu|cuda(:\d{1,4})?)$/.test(v)) throw new UsageError(`expected --device cpu, cuda or cuda:N but received '${v}'`);
  return v as 'cpu' | 'cuda' | `cuda:${number}`;
}

function progress(e: StepEvent): string {
  const f = (v: number, d: number) => (Number.isFinite(v) ? v.toFixed(d) : '-');
  return `step ${e.step}/${e.totalSteps}  loss ${f(e.loss, 4)}  acc ${f(e.rewardAccuracy, 2)}  margin ${f(e.margin, 4)}  ${f(e.tokensPerSecond, 0)} tok/s  eta ${f(e.etaSeconds, 0)}s`;
}

export async function trainCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      model: { type: 'string' }, data: { type: 'string' }, out: { type: 'string' }, device: { type: 'string' },
      steps: { type: 'string' }, 'batch-size': { type: 'string' }, lr: { type: 'string' }, 'save-every': { type: 'string' },
      resume: { type: 'boolean' }, seed: { type: 'string' }, stage: { type: 'string' }, sigma: { type: 'string' }, beta: { type: 'string' },
      'lora-rank': { type: 'string' }, 'lr-schedule': { type: 'string' }, warmup: { type: 'string' }, full: { type: 'boolean' }, 'on-bad-record': { type: 'string' }, 'max-tries': { type: 'string' }, help: { type: 'boolean', short: 'h' },
      denoiser: { type: 'string' },
    },
  });
  if (values.help) {
    console.log(TRAIN_USAGE);
    return 0;
  }
  const recipe = positionals[0];
  if (!recipe || !(RECIPES as readonly string[]).includes(recipe)) throw new UsageError(`expected a recipe (${RECIPES.join(', ')}) but received ${recipe === undefined ? 'none' : `'${recipe}'`}`);
  if (recipe === 'deem') return deemCommand(values);
  if (values.denoiser !== undefined) throw new UsageError(`expected --denoiser only with deem but received it with ${recipe}`);
  for (const k of ['model', 'data', 'out'] as const) if (!values[k]) throw new UsageError(`expected --${k} but received none`);
  if (values.stage !== undefined && values.stage !== 'sft' && values.stage !== 'dpo') throw new UsageError(`expected --stage sft or dpo but received '${values.stage}'`);
  const obr = values['on-bad-record'];
  if (obr !== undefined && obr !== 'skip' && obr !== 'fatal') throw new UsageError(`expected --on-bad-record skip or fatal but received '${obr}'`);
  const rank = num('lora-rank', values['lora-rank'], recipe === 'bpo' ? 32 : 8, true);
  const saveEvery = values['save-every'] === undefined ? undefined : num('save-every', values['save-every'], 0, true);
  const sched = values['lr-schedule'] as LrScheduleType | undefined;
  if (sched !== undefined && !LR_SCHEDULES.includes(sched)) throw new UsageError(`expected --lr-schedule ${LR_SCHEDULES.join('|')} but received '${sched}'`);
  const warm = values.warmup === undefined ? undefined : num('warmup', values.warmup, 0, false);
  if (warm !== undefined && (sched === undefined || warm < 0 || (warm >= 1 && !Number.isInteger(warm))))
    throw new UsageError(`expected --warmup as a ratio in [0, 1) or whole steps, with --lr-schedule, but received '${values.warmup}'${sched === undefined ? ' without --lr-schedule' : ''}`);
  const full = !!values.full;
  const device = deviceFlag(values.device);
  const opts = {
    steps: num('steps', values.steps, 100, true),
    batchSize: num('batch-size', values['batch-size'], 4, true),
    lr: num('lr', values.lr, 1e-4, false),
    seed: num('seed', values.seed, 0, true),
    stage: (values.stage ?? 'dpo') as 'sft' | 'dpo',
    noise: { sigma: num('sigma', values.sigma, 0.5, false) },
    dpo: { beta: num('beta', values.beta, 0.1, false) },
    lora: { rank, alpha: recipe === 'bpo' && values['lora-rank'] === undefined ? 256 : 2 * rank },
    out: values.out!,
    resume: !!values.resume,
    ...(saveEvery !== undefined ? { saveEvery } : {}),
    ...(sched !== undefined ? { lrSchedule: { type: sched, ...(warm === undefined ? {} : warm < 1 ? { warmupRatio: warm } : { warmupSteps: warm }) } } : {}),
    // full DPO's frozen reference: the checkpoint loaded a second time (no temporary copy)
    ...(full ? { full, ...(recipe !== 'noiseboost' || values.stage !== 'sft' ? { reference: LlamaModel.load(values.model!, { device }) } : {}) } : {}),
  };
  const data = readJsonl(values.data!, { onBadRecord: (obr ?? 'fatal') as 'skip' | 'fatal' });
  const model = LlamaModel.load(values.model!, { device });
  const { stage, noise, ...common } = opts;
  return followRun(data, `${full ? 'model' : 'adapters'} in`, progress, (signal) =>
    recipe === 'bpo'
      ? bpo(model, data, { ...common, signal, generate: { seed: opts.seed } })
      : recipe === 'bdhs'
      ? bdhs(model, data, { ...common, signal, generate: { maxTries: num('max-tries', values['max-tries'], 5, true), seed: opts.seed } })
      : noiseBoost(model, data, { ...common, stage, noise, signal }),
  );
}

interface FollowedRun<E> {
  on(event: 'step', f: (e: E) => void): unknown;
  on(event: 'checkpoint', f: (e: { dir: string }) => void): unknown;
  result: Promise<{ stopped: 'done' | 'aborted'; step: number; checkpoint?: string }>;
}

/**
 * Runs a training run from the command line: Ctrl-C aborts it (a checkpoint is saved, exit 130),
 * one progress line on stderr (redrawn on a terminal), checkpoints and the end reported.
 */
export async function followRun<E>(data: JsonlDataset, saved: string, line: (e: E) => string, start: (signal: AbortSignal) => FollowedRun<E>): Promise<number> {
  const ac = new AbortController();
  const onSigint = () => ac.abort();
  process.once('SIGINT', onSigint);
  const tty = process.stderr.isTTY;
  try {
    const run = start(ac.signal);
    run.on('step', (e) => process.stderr.write(tty ? `\r${line(e)}\x1b[K` : `${line(e)}\n`));
    run.on('checkpoint', (e) => process.stderr.write(`${tty ? '\n' : ''}checkpoint ${e.dir}\n`));
    const r = await run.result;
    if (data.skipped) process.stderr.write(`skipped ${data.skipped} bad record(s); last: ${data.lastError?.message}\n`);
    if (r.stopped === 'aborted') {
      process.stderr.write(`interrupted at step ${r.step}; resume with --resume\n`);
      return 130;
    }
    process.stderr.write(`done: ${r.step} steps, ${saved} ${r.checkpoint}\n`);
    return 0;
  } finally {
    process.off('SIGINT', onSigint);
  }
}


/**
 * sampling.sample: one token per row of logits [B, V], with the Hugging Face processors in their
 * order (repetition penalty, temperature, top-k, top-p on the renormalised result, min-p), drawn
 * from exactly the renormalised filtered distribution with counter-based Philox randomness.
 * CPU and CUDA return the same tokens for the same inputs and seeds (see native/cpp/ops/sample.h).
 */
import { randomInt } from 'node:crypto';
import { FLOAT_DTYPES, type FloatDType } from '../dtype';
import { fail } from '../errors';
import { describe, empty, type Tensor, type TensorLike } from '../tensor';
import type { NativeFn } from '../op_decl';
import { prepared, syncAsync } from '../op_call';
import { SAMPLE } from './sample.args';
import { checkOptions, numberOpt, sameDevice, seedOpt, shapeStr, tensorArg } from '../validate';

declare module '../native' {
  interface NativeAddon {
    sample: NativeFn<typeof SAMPLE>;
  }
}

/** A seed: a non-negative safe integer or a bigint below 2^64. */
export type Seed = number | bigint;

export interface SampleOptions {
  /** Divides the logits; 0 = greedy (argmax, lowest index on ties). >= 0, default 1. */
  temperature?: number;
  /** Keep the k most likely tokens (all tokens tied with the k-th are kept); 0 or >= V = off. Integer >= 0, default 0. */
  topK?: number;
  /** Keep the smallest top set whose probability (renormalised after top-k) reaches topP (ties at the cut kept; the top token always). In [0, 1], default 1 = off. */
  topP?: number;
  /** Keep tokens whose probability is at least minP times the top token's. In [0, 1], default 0 = off. */
  minP?: number;
  /** HF repetition penalty for the tokens in `history`: positive logits divided, negative multiplied. > 0, default 1 = off. */
  repetitionPenalty?: number;
  /** int32 [B, H] previous tokens of each row, -1 = padding (same device as logits). Needed when repetitionPenalty != 1. */
  history?: TensorLike<'int32'>;
  /** One seed for all rows (each row still gets its own Philox stream), or one per row. Default: a fresh random 48-bit integer per call (returned as `seed`), as the noise ops and Hugging Face generate without a seed. */
  seed?: Seed | readonly Seed[] | BigUint64Array;
  /** Decoding step: the Philox offset, so each step draws fresh numbers. >= 0, default 0. */
  step?: Seed;
}

export interface SampleResult {
  /** int32 [B]: the drawn token of each row. */
  tokens: Tensor<'int32'>;
  /** float32 [B]: its log-probability under the final (filtered, renormalised) distribution; 0 when greedy. */
  logprobs: Tensor<'float32'>;
  /** The seed used (the given one, or the fresh one drawn when none was given): pass it back with the same step to repeat the draw. */
  seed: Seed | BigUint64Array;
}

const OP = 'sample';
const FLOATS = FLOAT_DTYPES;
const FLT_MIN = 1.1754943508222875e-38;
const MAX_VOCAB = 2 ** 23;
const OPTIONS = ['temperature', 'topK', 'topP', 'minP', 'repetitionPenalty', 'history', 'seed', 'step'];

function seedsArg(v: unknown, rows: number): { seed: Seed; seeds: BigUint64Array | null } {
  if (v === undefined) return { seed: randomInt(0, 2 ** 48 - 1), seeds: null };
  if (typeof v === 'number' || typeof v === 'bigint') return { seed: seedOpt(OP, 'seed', v, 0), seeds: null };
  if (!(Array.isArray(v) || v instanceof BigUint64Array))
    fail('ERR_ARGUMENT', OP, `expected seed to be a number, a bigint or an array of ${rows} of them but received ${describe(v)}`);
  const arr = v as ArrayLike<unknown>;
  if (arr.length !== rows) fail('ERR_SHAPE', OP, `expected ${rows} seeds (one per row of logits) but received ${arr.length}`);
  const seeds = new BigUint64Array(rows);
  for (let i = 0; i < rows; i++) seeds[i] = BigInt(seedOpt(OP, `seed[${i}]`, arr[i], 0));
  return { seed: 0, seeds };
}

function prepare(logits: TensorLike, options?: SampleOptions) {
  const o = checkOptions(OP, options, OPTIONS);
  const l = tensorArg(OP, 'logits', logits, FLOATS, 2);
  const [rows, vocab] = l.shape as [number, number];
  if (vocab < 1 || vocab > MAX_VOCAB)
    fail('ERR_SHAPE', OP, `expected logits [B, V] with 1 <= V <= ${MAX_VOCAB} but received ${shapeStr(l.shape)}`);
  const temperature = numberOpt(OP, 'temperature', o.temperature, 1, { min: 0 });
  if (temperature > 0 && Math.fround(temperature) < FLT_MIN)
    fail('ERR_RANGE', OP, `expected temperature 0 or >= ${FLT_MIN} (float32) but received ${temperature}`);
  const topK = numberOpt(OP, 'topK', o.topK, 0, { min: 0, integer: true });
  const topP = o.topP === undefined ? 1 : o.topP;
  const minP = o.minP === undefined ? 0 : o.minP;
  const penalty = numberOpt(OP, 'repetitionPenalty', o.repetitionPenalty, 1, { gt: 0 });
  if (!(Math.fround(penalty) > 0 && Number.isFinite(Math.fround(penalty))))
    fail('ERR_RANGE', OP, `expected repetitionPenalty to be a positive float32 but received ${penalty}`);
  let history: Tensor | null = null;
  if (o.history !== undefined) {
    history = tensorArg(OP, 'history', o.history, ['int32']);
    sameDevice(OP, { logits: l, history });
  } else if (penalty !== 1) {
    fail('ERR_ARGUMENT', OP, `expected history (the tokens to penalise) with repetitionPenalty ${penalty} but received none`);
  }
  const { seed, seeds } = seedsArg(o.seed, rows);
  const step = seedOpt(OP, 'step', o.step, 0);
  const dev = l._device < 0 ? 'cpu' : (`cuda:${l._device}` as const);
  const tokens = empty([rows], 'int32', { device: dev });
  const logprobs = empty([rows], 'float32', { device: dev });
  // shapes logits [B, V], history [B, H], tokens and logprobs [B], the ranges of topP and minP: declared (sample.args.ts)
  const args = { logits: l, history, repetitionPenalty: penalty, temperature, topK, topP, minP, seed, seeds, step, tokens, logprobs };
  return prepared(SAMPLE, args, { tokens, logprobs, seed: seeds ?? seed } as SampleResult);
}

/**
 * Draws one token per row of `logits` [B, V] (float32 / float16 / bfloat16): repetition penalty,
 * temperature, top-k, top-p, min-p (Hugging Face order), then a draw from the renormalised
 * filtered distribution. Returns { tokens int32 [B], logprobs float32 [B] }.
 */
export const [sample, sampleAsync] = syncAsync(prepare);

/**
 * noise.visualTokens (NoiseBoost, docs/methods.md): zero-mean Gaussian noise on the visual tokens
 * of hidden states x [B, N, D] (after the vision-language projector), one pass over the data:
 *
 *   x'[b, n, :] = x[b, n, :] + s * z[b, n, :]   for a perturbed token, unchanged (bit for bit) otherwise
 *   s = sigma (scale 'absolute'), sigma * RMS_d(x[b, n, :]) ('token-rms'),
 *       sigma * std_d(x[b, n, :]) ('token-std', population standard deviation over D)
 *
 * A token is perturbed when it is visual (inside a span, or mask[b, n]), its row is selected
 * (`rows`, e.g. the chosen rows of a DPO batch) and it wins its draw (`prob`). z[b, n, d] is normal
 * number (b N + n) D + d of the Philox stream (seed, offset), and the draw is uniform number
 * b N + n of that stream's auxiliary region: the noise of a token depends only on (seed, offset,
 * b, n, d) and the shape, never on which other tokens are visual, on the device or on the
 * thread count. Backward: identity (the noise and the scale are constants).
 */
import { FLOAT_DTYPES, type DType, type FloatDType } from '../dtype';
import { fail } from '../errors';
import { type Tensor, type TensorLike, tensor } from '../tensor';
import { boolOpt, checkOptions, enumOpt, shapeStr, tensorArg } from '../validate';
import type { NativeFn } from '../op_decl';
import { callOp } from '../op_call';
import { VISUAL_TOKENS } from './visual_tokens.args';
import { type Seed, type StreamOptions, Temps, inPlaceOrOut, resolveStream, runNative, runNativeAsync, sideTensor } from '../op_args';

declare module '../native' {
  interface NativeAddon {
    visualTokens: NativeFn<typeof VISUAL_TOKENS>;
  }
}

export const TOKEN_SCALES = ['absolute', 'token-rms', 'token-std'] as const;
export type TokenScaleMode = (typeof TOKEN_SCALES)[number];

/** A span of visual tokens in one batch row: [start, length]. */
export type TokenSpan = readonly [start: number, length: number];

export interface VisualTokensOptions extends StreamOptions {
  /** Visual tokens per batch row as [start, length] spans (B lists; spans inside [0, N), not overlapping). Default (no spans, no mask): every token is visual. */
  spans?: ReadonlyArray<ReadonlyArray<TokenSpan>>;
  /** Visual tokens as a bool [B, N] tensor (or nested-free flat array of B*N booleans), instead of spans. */
  mask?: TensorLike | ArrayLike<boolean | number>;
  /** Noise scale, finite and >= 0; default 0.5 (NoiseBoost). 0 returns x unchanged. */
  sigma?: number;
  /** 'absolute' (default): std sigma; 'token-rms': sigma times each token's RMS over D; 'token-std': sigma times each token's standard deviation over D. */
  scale?: TokenScaleMode;
  /** Probability that a visual token is perturbed, in [0, 1]; default 1. */
  prob?: number;
  /** bool [B] (tensor or array): perturb only these rows (DPO NoiseBoost: the chosen rows). Default: every row. */
  rows?: TensorLike | ArrayLike<boolean | number>;
  /** Write into x itself (default false). */
  inPlace?: boolean;
  /** Write into this tensor (same shape, dtype and device as x; not with inPlace). */
  out?: Tensor;
}

export interface VisualTokensResult<D extends DType = DType> {
  /** The perturbed hidden states (x itself with inPlace). */
  out: Tensor<D>;
  /** The seed used (pass it back to reproduce the noise). */
  seed: Seed;
  /** The offset used. */
  offset: Seed;
}

const OP = 'noise.visualTokens';
const FLOATS = FLOAT_DTYPES;

interface Prepared {
  x: Tensor;
  out: Tensor;
  mask: Tensor;
  rows: Tensor | null;
  sigma: number;
  scale: number;
  prob: number;
  seed: Seed;
  offset: Seed;
  temps: Temps;
}

/** The bool [B, N] mask of a span list (validated: integers, inside [0, N), no overlaps). */
function spansToMask(spans: unknown, B: number, N: number): Uint8Array {
  if (!Array.isArray(spans)) fail('ERR_ARGUMENT', OP, `expected spans to be an array of ${B} span lists but received ${typeof spans}`);
  if (spans.length !== B) fail('ERR_SHAPE', OP, `expected spans for ${B} batch rows (from x [${B}, ${N}, D]) but received ${spans.length}`);
  const mask = new Uint8Array(B * N);
  for (let b = 0; b < B; b++) {
    const row = spans[b] as unknown;
    if (!Array.isArray(row)) fail('ERR_ARGUMENT', OP, `expected spans[${b}] to be an array of [start, length] pairs`);
    const seen: [number, number][] = [];
    for (const span of row as unknown[]) {
      if (!Array.isArray(span) || span.length !== 2 || !span.every((v) => typeof v === 'number' && Number.isInteger(v)))
        fail('ERR_ARGUMENT', OP, `expected spans[${b}] entries to be [start, length] integer pairs but received ${JSON.stringify(span)}`);
      const [start, len] = span as [number, number];
      if (start < 0 || len < 0 || start + len > N)
        fail('ERR_RANGE', OP, `expected spans[${b}] inside [0, ${N}) (from x [${B}, ${N}, D]) but received [${start}, ${len}]`);
      for (const [s0, l0] of seen)
        if (start < s0 + l0 && s0 < start + len)
          fail('ERR_RANGE', OP, `expected non-overlapping spans in row ${b} but [${start}, ${len}] overlaps [${s0}, ${l0}]`);
      seen.push([start, len]);
      mask.fill(1, b * N + start, b * N + start + len);
    }
  }
  return mask;
}

function prepare(x: TensorLike, options: VisualTokensOptions | undefined): Prepared {
  const o = checkOptions(OP, options, ['spans', 'mask', 'sigma', 'scale', 'prob', 'rows', 'seed', 'offset', 'inPlace', 'out']);
  // x [B, N, D] (its rank first: B and N shape the mask, spans and rows), out like x, mask [B, N], rows [B] and the ranges of sigma and prob: declared (visual_tokens.args.ts)
  const t = tensorArg(OP, 'x', x, FLOATS, 3);
  const [B, N] = t.shape as [number, number, number];
  const sigma = o.sigma === undefined ? 0.5 : o.sigma;
  const scale = TOKEN_SCALES.indexOf(enumOpt(OP, 'scale', o.scale, TOKEN_SCALES, 'absolute'));
  const prob = o.prob === undefined ? 1 : o.prob;
  const inPlace = boolOpt(OP, 'inPlace', o.inPlace, false);
  if (o.spans !== undefined && o.mask !== undefined) fail('ERR_ARGUMENT', OP, 'expected spans or mask, not both');
  const s = resolveStream(OP, o);
  const temps = new Temps();
  try {
    let mask: Tensor;
    if (o.mask !== undefined) {
      mask = sideTensor(OP, 'mask', o.mask, [B, N], ['bool', 'uint8'], 'bool', t, temps, `x ${shapeStr(t.shape)}`);
    } else {
      const m = o.spans === undefined ? new Uint8Array(B * N).fill(1) : spansToMask(o.spans, B, N);
      mask = temps.onDeviceOf(temps.own(tensor(m, [B, N], { dtype: 'bool' })), t);
    }
    const rows = o.rows === undefined ? null : sideTensor(OP, 'rows', o.rows, [B], ['bool', 'uint8'], 'bool', t, temps, `x ${shapeStr(t.shape)}`);
    const out = inPlaceOrOut(OP, t, inPlace, o.out, 'x');
    return { x: t, out, mask, rows, sigma, scale, prob, ...s, temps };
  } catch (e) {
    temps.dispose();
    throw e;
  }
}

const result = (p: Prepared): VisualTokensResult => ({ out: p.out, seed: p.seed, offset: p.offset });

/** NoiseBoost: Gaussian noise on the visual tokens of x [B, N, D]; returns the perturbed tensor and the seed/offset used. */
export function visualTokens<D extends DType>(x: TensorLike<D>, options?: VisualTokensOptions): VisualTokensResult<D> {
  const p = prepare(x, options);
  runNative(p.temps, () => callOp(VISUAL_TOKENS, { x: p.x, out: p.out, mask: p.mask, rows: p.rows, sigma: p.sigma, scale: p.scale, prob: p.prob, seed: p.seed, offset: p.offset }, false));
  return result(p) as VisualTokensResult<D>;
}

/** {@link visualTokens} off the main thread; bit-identical results. */
export async function visualTokensAsync<D extends DType>(x: TensorLike<D>, options?: VisualTokensOptions): Promise<VisualTokensResult<D>> {
  const stack = new Error().stack;
  const p = prepare(x, options);
  await runNativeAsync(p.temps, () => callOp(VISUAL_TOKENS, { x: p.x, out: p.out, mask: p.mask, rows: p.rows, sigma: p.sigma, scale: p.scale, prob: p.prob, seed: p.seed, offset: p.offset }, true), stack);
  return result(p) as VisualTokensResult<D>;
}

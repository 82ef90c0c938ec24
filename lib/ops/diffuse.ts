/**
 * noise.diffuse: the DDPM forward process q(x_t | x_0) in one pass (docs/methods.md; VCD / BPO image
 * weakening, BDHS-noise, DEEM latent noising):
 *
 *   x_t[b] = sqrt(abar_t) * x0[b] + sqrt(1 - abar_t) * eps[b],   t = t_b (0-based: t = 0 adds one step of noise)
 *   t_b = -1: no noise for sample b (x_t[b] = x0[b] exactly, eps[b] = 0)
 *
 * eps is normal number b S + j of the Philox stream (seed, offset) for element j of sample b (S
 * elements per sample). The schedule tables are computed in float64 and used as float32. uint8
 * images [B, C, H, W] or [B, H, W, C] are normalised on the fly (to [-1, 1], [0, 1], CLIP's or a
 * given mean/std), so raw pixels become a noised float tensor in one pass. No clamping.
 */
import { FLOAT_DTYPES, type FloatDType } from '../dtype';
import { fail } from '../errors';
import { type Tensor, type TensorLike, describe, empty, tensor } from '../tensor';
import { boolOpt, checkOptions, enumOpt, outputTensor, shapeStr, tensorArg } from '../validate';
import { type Seed, type StreamOptions, Temps, perSampleInt, resolveStream, runNative, runNativeAsync } from '../op_args';
import type { NativeFn } from '../op_decl';
import { callOp } from '../op_call';
import { DIFFUSE } from './diffuse.args';
import { type ScheduleSpec, resolveSchedule } from './noise_schedule';

declare module '../native' {
  interface NativeAddon {
    diffuse: NativeFn<typeof DIFFUSE>;
  }
}

/** CLIP's pixel mean and std (OpenAI CLIP / LLaVA image processor), on the [0, 1] scale. */
export const CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073] as const;
export const CLIP_STD = [0.26862954, 0.26130258, 0.27577711] as const;

/** uint8 -> float normalisation: '[-1,1]'-style names or a mean/std pair on the [0, 1] scale (x / 255). */
export type Normalize = 'minus-one-one' | 'zero-one' | 'clip' | { mean: ArrayLike<number>; std: ArrayLike<number> };

export interface DiffuseOptions extends StreamOptions {
  /** Timestep: an integer in [-1, steps - 1] for every sample, or int32 [B] (tensor or array) per sample; -1 = no noise. Required. */
  t: number | TensorLike | ArrayLike<number>;
  /** 'vcd-sigmoid' (default), 'linear', 'scaled-linear', 'cosine', caller betas, or a table from noise.schedule(). */
  schedule?: ScheduleSpec;
  /** Steps of a named schedule, integer >= 1; default 1000. */
  steps?: number;
  /** Also return the float32 noise eps (DEEM targets); default false. */
  returnNoise?: boolean;
  /** uint8 input only (required there): 'minus-one-one' (x / 127.5 - 1), 'zero-one' (x / 255), 'clip' (CLIP mean/std) or { mean, std } per channel on the [0, 1] scale. */
  normalize?: Normalize;
  /** uint8 input only: 'nchw' ([B, C, H, W], default) or 'nhwc' ([B, H, W, C]). */
  layout?: 'nchw' | 'nhwc';
  /** uint8 input only: output dtype, 'float32' (default), 'float16' or 'bfloat16'. Float inputs keep their dtype. */
  dtype?: FloatDType;
  /** Write x_t into this tensor (x0's shape, the output dtype, x0's device; may be x0 itself for float x0). */
  out?: Tensor;
}

export interface DiffuseResult {
  /** The noised tensor x_t (x0's float dtype, or the `dtype` option for uint8 images). */
  xt: Tensor<FloatDType>;
  /** The float32 noise (returnNoise only; zero for samples with t = -1). */
  eps?: Tensor<'float32'>;
  seed: Seed;
  offset: Seed;
}

const OP = 'noise.diffuse';
const LAYOUTS = ['nchw', 'nhwc'] as const;

interface Prepared {
  x: Tensor;
  out: Tensor;
  eps: Tensor<'float32'> | null;
  t: Tensor | null;
  tScalar: number;
  coefA: Tensor;
  coefB: Tensor;
  normSub: Tensor | null;
  normDiv: Tensor | null;
  inner: number;
  seed: Seed;
  offset: Seed;
  temps: Temps;
}

/** Per-channel sub and div with x_n = (u8 - sub) / div (so u8 / 255 and (u8 - 127.5) / 127.5 are exact). */
function normTables(n: unknown, C: number): { sub: Float32Array; div: Float32Array } {
  let mean: ArrayLike<number>;
  let std: ArrayLike<number>;
  if (n === 'minus-one-one') return { sub: new Float32Array(C).fill(127.5), div: new Float32Array(C).fill(127.5) };
  if (n === 'zero-one') return { sub: new Float32Array(C).fill(0), div: new Float32Array(C).fill(255) };
  if (n === 'clip') {
    if (C !== 3) fail('ERR_SHAPE', OP, `normalize 'clip' expects 3 channels but the image has ${C}`);
    mean = CLIP_MEAN;
    std = CLIP_STD;
  } else if (typeof n === 'object' && n !== null && 'mean' in n && 'std' in n) {
    ({ mean, std } = n as { mean: ArrayLike<number>; std: ArrayLike<number> });
    for (const [name, a] of [['mean', mean], ['std', std]] as const) {
      if (typeof a !== 'object' || a === null || typeof a.length !== 'number') fail('ERR_ARGUMENT', OP, `expected normalize.${name} to be an array of numbers`);
      if (a.length !== C && a.length !== 1) fail('ERR_SHAPE', OP, `expected normalize.${name} of length ${C} (channels) or 1 but received ${a.length}`);
    }
  } else {
    return fail('ERR_ARGUMENT', OP, `expected normalize to be 'minus-one-one', 'zero-one', 'clip' or { mean, std } but received ${describe(n)}`);
  }
  const sub = new Float32Array(C);
  const div = new Float32Array(C);
  for (let c = 0; c < C; c++) {
    const m = mean.length === 1 ? mean[0]! : mean[c]!;
    const s = std.length === 1 ? std[0]! : std[c]!;
    if (typeof m !== 'number' || !Number.isFinite(m)) fail('ERR_RANGE', OP, `expected finite normalize.mean values but received ${String(m)}`);
    if (typeof s !== 'number' || !(s > 0) || !Number.isFinite(s)) fail('ERR_RANGE', OP, `expected normalize.std values > 0 but received ${String(s)}`);
    sub[c] = 255 * m;
    div[c] = 255 * s;
  }
  return { sub, div };
}

function prepare(x0: TensorLike, options: DiffuseOptions | undefined): Prepared {
  const o = checkOptions(OP, options, ['t', 'schedule', 'steps', 'returnNoise', 'normalize', 'layout', 'dtype', 'seed', 'offset', 'out']);
  const x = tensorArg(OP, 'x0', x0, [...FLOAT_DTYPES, 'uint8']);
  if (x.ndim < 1) fail('ERR_SHAPE', OP, 'expected x0 with a batch dimension but received a scalar (shape [])');
  const B = x.shape[0]!;
  const u8 = x.dtype === 'uint8';
  if (!u8)
    for (const k of ['normalize', 'layout', 'dtype'] as const)
      if (o[k] !== undefined) fail('ERR_ARGUMENT', OP, `${k} applies to uint8 images only (x0 is ${x.dtype})`);
  const sched = resolveSchedule(OP, o.schedule ?? 'vcd-sigmoid', o.steps);
  const returnNoise = boolOpt(OP, 'returnNoise', o.returnNoise, false);
  const s = resolveStream(OP, o);
  const temps = new Temps();
  try {
    const t = perSampleInt(OP, 't', o.t, B, x, temps, `x0 ${shapeStr(x.shape)}`);
    if (t.tensor === null && !(t.scalar >= -1 && t.scalar < sched.steps))
      fail('ERR_RANGE', OP, `expected t in [-1, ${sched.steps - 1}] but received ${t.scalar}`);
    let normSub: Tensor | null = null;
    let normDiv: Tensor | null = null;
    let inner = 1;
    let outDtype: FloatDType = u8 ? 'float32' : (x.dtype as FloatDType);
    if (u8) {
      if (o.normalize === undefined) fail('ERR_ARGUMENT', OP, "uint8 images need normalize ('minus-one-one', 'zero-one', 'clip' or { mean, std })");
      if (x.ndim !== 4) fail('ERR_SHAPE', OP, `expected a uint8 image batch of 4 dimensions but received ${shapeStr(x.shape)}`);
      const layout = enumOpt(OP, 'layout', o.layout, LAYOUTS, 'nchw');
      const C = layout === 'nchw' ? x.shape[1]! : x.shape[3]!;
      inner = layout === 'nchw' ? x.shape[2]! * x.shape[3]! : 1;
      const nt = normTables(o.normalize, C);
      normSub = temps.onDeviceOf(temps.own(tensor(nt.sub, [C])), x);
      normDiv = temps.onDeviceOf(temps.own(tensor(nt.div, [C])), x);
      outDtype = enumOpt(OP, 'dtype', o.dtype, FLOAT_DTYPES, 'float32');
      if (inner === 0) inner = 1; // empty images: nothing to index
    }
    const out = outputTensor(OP, o.out, x.shape, outDtype, x);
    const dev = x._device < 0 ? 'cpu' : (`cuda:${x._device}` as const);
    const eps = returnNoise ? (empty(x.shape, 'float32', { device: dev }) as Tensor<'float32'>) : null;
    const coefA = temps.onDeviceOf(temps.own(tensor(Float32Array.from(sched.sqrtAlphasCumprod), [sched.steps])), x);
    const coefB = temps.onDeviceOf(temps.own(tensor(Float32Array.from(sched.sqrtOneMinusAlphasCumprod), [sched.steps])), x);
    return { x, out, eps, t: t.tensor, tScalar: t.tensor ? -1 : t.scalar, coefA, coefB, normSub, normDiv, inner, ...s, temps };
  } catch (e) {
    temps.dispose();
    throw e;
  }
}

function args(p: Prepared) {
  return {
    x0: p.x, out: p.out, eps: p.eps, t: p.t, tScalar: p.tScalar, sqrtAlphasCumprod: p.coefA, sqrtOneMinusAlphasCumprod: p.coefB,
    normSub: p.normSub, normDiv: p.normDiv, inner: p.inner, seed: p.seed, offset: p.offset,
  };
}

function result(p: Prepared): DiffuseResult {
  const r: DiffuseResult = { xt: p.out as Tensor<FloatDType>, seed: p.seed, offset: p.offset };
  if (p.eps) r.eps = p.eps;
  return r;
}

/** x_t = sqrt(abar_t) x0 + sqrt(1 - abar_t) eps per sample (t = -1: unchanged); uint8 images are normalised first. */
export function diffuse(x0: TensorLike, options: DiffuseOptions & { returnNoise: true }): DiffuseResult & { eps: Tensor<'float32'> };
export function diffuse(x0: TensorLike, options: DiffuseOptions): DiffuseResult;
export function diffuse(x0: TensorLike, options: DiffuseOptions): DiffuseResult {
  const p = prepare(x0, options);
  runNative(p.temps, () => callOp(DIFFUSE, args(p), false), () => p.eps?.dispose());
  return result(p);
}

/** {@link diffuse} off the main thread; bit-identical results. */
export async function diffuseAsync(x0: TensorLike, options: DiffuseOptions & { returnNoise: true }): Promise<DiffuseResult & { eps: Tensor<'float32'> }>;
export async function diffuseAsync(x0: TensorLike, options: DiffuseOptions): Promise<DiffuseResult>;
export async function diffuseAsync(x0: TensorLike, options: DiffuseOptions): Promise<DiffuseResult> {
  const stack = new Error().stack;
  const p = prepare(x0, options);
  await runNativeAsync(p.temps, () => callOp(DIFFUSE, args(p), true), stack, () => p.eps?.dispose());
  return result(p);
}

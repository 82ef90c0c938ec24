/**
 * The fuzz op table: for every public op (lib/api/*) a builder of one small VALID call and the
 * call itself, plus where its tensors, index-like tensors, options and `out` live in the argument
 * list. Mutators (cases.ts) break one thing at a time starting from the valid call.
 */
import { attention, dpo, models, noise, ops, optim, random, sampling, similarity, tensor, type Tensor } from '../../lib';
import type { Rng } from './rng';

export type Path = readonly (string | number)[];
export interface Slot {
  path: Path;
  /** in: read; out: written; index: decides addresses (valid values in [lo, hi)) */
  role: 'in' | 'out' | 'index';
  lo?: number;
  hi?: number;
}
export interface Built {
  args: unknown[];
  slots: Slot[];
  /** path of the options object, when the op takes one */
  opts?: Path;
  /** accepted option keys (for wrong-type and unknown-option cases) */
  optKeys: readonly string[];
  /** option key of a caller-provided output, when the op has one */
  outKey?: string;
}
export interface OpSpec {
  name: string;
  /** scale 1: tiny tensors; larger: long enough for an Async op to be in flight */
  build(r: Rng, scale: number): Built;
  /** runs it; async: the Promise form (when the op has one) */
  call(args: unknown[], async: boolean): unknown;
  hasAsync: boolean;
}

// ---- tensor helpers ---------------------------------------------------------------------------

const numel = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);
export function ft(r: Rng, shape: number[], dtype: 'float32' | 'float16' | 'bfloat16' = 'float32'): Tensor {
  const a = new Float32Array(numel(shape));
  for (let i = 0; i < a.length; i++) a[i] = (r() - 0.5) * 4;
  return dtype === 'float32' ? tensor(a, shape) : tensor(a, shape, { dtype });
}
export function it(r: Rng, shape: number[], lo: number, hi: number): Tensor {
  const a = new Int32Array(numel(shape));
  for (let i = 0; i < a.length; i++) a[i] = r.int(lo, hi - 1);
  return tensor(a, shape);
}
export function bt(r: Rng, shape: number[]): Tensor {
  const a = new Uint8Array(numel(shape));
  for (let i = 0; i < a.length; i++) a[i] = r.bool() ? 1 : 0;
  return tensor(a, shape, { dtype: 'bool' });
}
const fdt = (r: Rng) => r.pick(['float32', 'float32', 'float16', 'bfloat16'] as const);
const z = (r: Rng, lo: number, hi: number, scale: number) => r.int(lo, hi) * scale;

const TINY = { vocabSize: 23, hiddenSize: 16, intermediateSize: 24, numLayers: 2, numHeads: 4, numKvHeads: 2, ropeTheta: 10000, rmsNormEps: 1e-6 };

/** v or its async twin */
const pick2 = <A extends unknown[], R>(sync: (...a: A) => R, asyncF: (...a: A) => Promise<R>) => (args: unknown[], async: boolean) =>
  async ? asyncF(...(args as A)) : sync(...(args as A));

export const OPS: OpSpec[] = [
  {
    name: 'ops.logSumExp',
    hasAsync: true,
    build(r, s) {
      const R = z(r, 1, 4, s), C = z(r, 1, 9, s);
      return { args: [ft(r, [R, C], fdt(r)), { out: tensor(new Float32Array(R), [R]) }], slots: [{ path: [0], role: 'in' }, { path: [1, 'out'], role: 'out' }], opts: [1], optKeys: ['out'], outKey: 'out' };
    },
    call: pick2(ops.logSumExp as (...a: unknown[]) => unknown, ops.logSumExpAsync as (...a: unknown[]) => Promise<unknown>),
  },
  {
    name: 'ops.rmsNorm',
    hasAsync: true,
    build(r, s) {
      const R = z(r, 1, 4, s), C = z(r, 1, 9, 1);
      const x = ft(r, [R, C]);
      return { args: [x, ft(r, [C]), { eps: 1e-6, out: ft(r, [R, C]) }], slots: [{ path: [0], role: 'in' }, { path: [1], role: 'in' }, { path: [2, 'out'], role: 'out' }], opts: [2], optKeys: ['eps', 'out'], outKey: 'out' };
    },
    call: pick2(ops.rmsNorm as (...a: unknown[]) => unknown, ops.rmsNormAsync as (...a: unknown[]) => Promise<unknown>),
  },
  {
    name: 'ops.rotary',
    hasAsync: true,
    build(r, s) {
      const B = r.int(1, 2), H = r.int(1, 3), T = z(r, 1, 5, s), D = 2 * r.int(1, 4);
      return { args: [ft(r, [B, H, T, D]), { positions: it(r, [B, T], 0, 1000), offset: r.int(0, 5), theta: 10000, inPlace: r.bool() }], slots: [{ path: [0], role: 'in' }, { path: [1, 'positions'], role: 'index', lo: 0, hi: 2 ** 31 - 1 }], opts: [1], optKeys: ['positions', 'offset', 'theta', 'inPlace'] };
    },
    call: pick2(ops.rotary as (...a: unknown[]) => unknown, ops.rotaryAsync as (...a: unknown[]) => Promise<unknown>),
  },
  {
    name: 'ops.swiglu',
    hasAsync: true,
    build(r, s) {
      const sh = [z(r, 1, 4, s), r.int(1, 9)];
      return { args: [ft(r, sh), ft(r, sh), { out: ft(r, sh) }], slots: [{ path: [0], role: 'in' }, { path: [1], role: 'in' }, { path: [2, 'out'], role: 'out' }], opts: [2], optKeys: ['out'], outKey: 'out' };
    },
    call: pick2(ops.swiglu as (...a: unknown[]) => unknown, ops.swigluAsync as (...a: unknown[]) => Promise<unknown>),
  },
  {
    name: 'ops.add',
    hasAsync: true,
    build(r, s) {
      const sh = [z(r, 1, 4, s), r.int(1, 9)];
      return { args: [ft(r, sh), ft(r, sh), { out: ft(r, sh), alpha: 0.5 }], slots: [{ path: [0], role: 'in' }, { path: [1], role: 'in' }, { path: [2, 'out'], role: 'out' }], opts: [2], optKeys: ['out', 'alpha'], outKey: 'out' };
    },
    call: pick2(ops.add as (...a: unknown[]) => unknown, ops.addAsync as (...a: unknown[]) => Promise<unknown>),
  },
  {
    name: 'ops.embedding',
    hasAsync: true,
    build(r, s) {
      const V = r.int(2, 12), D = r.int(1, 8), N = z(r, 1, 6, s);
      return { args: [ft(r, [V, D]), it(r, [N], 0, V), { out: ft(r, [N, D]) }], slots: [{ path: [0], role: 'in' }, { path: [1], role: 'index', lo: 0, hi: V }, { path: [2, 'out'], role: 'out' }], opts: [2], optKeys: ['out'], outKey: 'out' };
    },
    call: pick2(ops.embedding as (...a: unknown[]) => unknown, ops.embeddingAsync as (...a: unknown[]) => Promise<unknown>),
  },
  {
    name: 'ops.embeddingBackward',
    hasAsync: true,
    build(r, s) {
      const V = r.int(2, 12), D = r.int(1, 8), N = z(r, 1, 6, s);
      return { args: [ft(r, [N, D]), it(r, [N], 0, V), { vocabSize: V, out: ft(r, [V, D]), accumulate: r.bool() }], slots: [{ path: [0], role: 'in' }, { path: [1], role: 'index', lo: 0, hi: V }, { path: [2, 'out'], role: 'out' }], opts: [2], optKeys: ['vocabSize', 'out', 'accumulate'], outKey: 'out' };
    },
    call: pick2(ops.embeddingBackward as (...a: unknown[]) => unknown, ops.embeddingBackwardAsync as (...a: unknown[]) => Promise<unknown>),
  },
  {
    name: 'ops.gelu',
    hasAsync: true,
    build(r, s) {
      const sh = [z(r, 1, 4, s), r.int(1, 9)];
      return { args: [ft(r, sh), { out: ft(r, sh), approximate: r.pick(['none', 'tanh']) }], slots: [{ path: [0], role: 'in' }, { path: [1, 'out'], role: 'out' }], opts: [1], optKeys: ['approximate', 'out'], outKey: 'out' };
    },
    call: pick2(ops.gelu as (...a: unknown[]) => unknown, ops.geluAsync as (...a: unknown[]) => Promise<unknown>),
  },
  {
    name: 'ops.geluBackward',
    hasAsync: true,
    build(r, s) {
      const sh = [z(r, 1, 4, s), r.int(1, 9)];
      return { args: [ft(r, sh), ft(r, sh), { out: ft(r, sh), approximate: r.pick(['none', 'tanh']) }], slots: [{ path: [0], role: 'in' }, { path: [1], role: 'in' }, { path: [2, 'out'], role: 'out' }], opts: [2], optKeys: ['approximate', 'out'], outKey: 'out' };
    },
    call: pick2(ops.geluBackward as (...a: unknown[]) => unknown, ops.geluBackwardAsync as (...a: unknown[]) => Promise<unknown>),
  },
  {
    name: 'ops.permute',
    hasAsync: true,
    build(r, s) {
      const sh = [r.int(1, 3), z(r, 1, 4, s), r.int(1, 5)];
      const perm = r.pick([[0, 2, 1], [2, 1, 0], [1, 0, 2], [0, 1, 2]]);
      return { args: [ft(r, sh), perm, { out: ft(r, perm.map((p) => sh[p]!)) }], slots: [{ path: [0], role: 'in' }, { path: [2, 'out'], role: 'out' }], opts: [2], optKeys: ['out'], outKey: 'out' };
    },
    call: pick2(ops.permute as (...a: unknown[]) => unknown, ops.permuteAsync as (...a: unknown[]) => Promise<unknown>),
  },
  {
    name: 'ops.linear',
    hasAsync: true,
    build(r, s) {
      const R = z(r, 1, 4, s), K = r.int(1, 9), N = r.int(1, 7);
      return { args: [ft(r, [R, K]), ft(r, [N, K]), { bias: ft(r, [N]), out: ft(r, [R, N]) }], slots: [{ path: [0], role: 'in' }, { path: [1], role: 'in' }, { path: [2, 'bias'], role: 'in' }, { path: [2, 'out'], role: 'out' }], opts: [2], optKeys: ['bias', 'out'], outKey: 'out' };
    },
    call: pick2(ops.linear as (...a: unknown[]) => unknown, ops.linearAsync as (...a: unknown[]) => Promise<unknown>),
  },
  {
    name: 'ops.linearBackward',
    hasAsync: true,
    build(r, s) {
      const R = z(r, 1, 4, s), K = r.int(1, 9), N = r.int(1, 7), dt = fdt(r);
      const acc = r.bool();
      return {
        args: [ft(r, [R, N], dt), ft(r, [R, K], dt), ft(r, [N, K], dt), { needBias: true, accumulate: acc, dxOut: ft(r, [R, K], dt), dWeightOut: ft(r, [N, K]), dBiasOut: ft(r, [N]) }],
        slots: [{ path: [0], role: 'in' }, { path: [1], role: 'in' }, { path: [2], role: 'in' }, { path: [3, 'dxOut'], role: 'out' }, { path: [3, 'dWeightOut'], role: 'out' }, { path: [3, 'dBiasOut'], role: 'out' }],
        opts: [3],
        optKeys: ['needInput', 'needWeight', 'needBias', 'accumulate', 'dxOut', 'dWeightOut', 'dBiasOut'],
        outKey: 'dWeightOut',
      };
    },
    call: pick2(ops.linearBackward as (...a: unknown[]) => unknown, ops.linearBackwardAsync as (...a: unknown[]) => Promise<unknown>),
  },
  {
    name: 'dpo.sequenceLogps',
    hasAsync: true,
    build(r, s) {
      const V = r.int(2, 11);
      if (r.bool()) {
        const B = r.int(1, 3), T = z(r, 1, 5, s);
        return { args: [ft(r, [B, T, V], fdt(r)), it(r, [B, T], 0, V), { perToken: r.bool(), returnLse: r.bool(), shift: r.bool(), average: r.bool() }], slots: [{ path: [0], role: 'in' }, { path: [1], role: 'index', lo: 0, hi: V }], opts: [2], optKeys: ['ignoreIndex', 'shift', 'average', 'cuSeqlens', 'perToken', 'returnLse'] };
      }
      const lens = Array.from({ length: r.int(1, 3) }, () => z(r, 1, 4, s));
      const cu = [0];
      for (const l of lens) cu.push(cu[cu.length - 1]! + l);
      const N = cu[cu.length - 1]!;
      return { args: [ft(r, [N, V]), it(r, [N], 0, V), { cuSeqlens: tensor(Int32Array.from(cu)), perToken: r.bool(), returnLse: r.bool() }], slots: [{ path: [0], role: 'in' }, { path: [1], role: 'index', lo: 0, hi: V }, { path: [2, 'cuSeqlens'], role: 'index', lo: 0, hi: N + 1 }], opts: [2], optKeys: ['ignoreIndex', 'shift', 'average', 'cuSeqlens', 'perToken', 'returnLse'] };
    },
    call: pick2(dpo.sequenceLogps as (...a: unknown[]) => unknown, dpo.sequenceLogpsAsync as (...a: unknown[]) => Promise<unknown>),
  },
  {
    name: 'dpo.logpsBackward',
    hasAsync: true,
    build(r, s) {
      const V = r.int(2, 11);
      const keys = ['ignoreIndex', 'shift', 'average', 'cuSeqlens', 'lse', 'inPlace', 'out'];
      if (r.bool()) {
        const B = r.int(1, 3), T = z(r, 1, 5, s);
        const logits = ft(r, [B, T, V]);
        return { args: [logits, it(r, [B, T], 0, V), ft(r, [B]), { out: ft(r, [B, T, V]) }], slots: [{ path: [0], role: 'in' }, { path: [1], role: 'index', lo: 0, hi: V }, { path: [2], role: 'in' }, { path: [3, 'out'], role: 'out' }], opts: [3], optKeys: keys, outKey: 'out' };
      }
      const lens = Array.from({ length: r.int(1, 3) }, () => z(r, 1, 4, s));
      const cu = [0];
      for (const l of lens) cu.push(cu[cu.length - 1]! + l);
      const N = cu[cu.length - 1]!;
      return { args: [ft(r, [N, V]), it(r, [N], 0, V), ft(r, [lens.length]), { cuSeqlens: tensor(Int32Array.from(cu)), out: ft(r, [N, V]) }], slots: [{ path: [0], role: 'in' }, { path: [1], role: 'index', lo: 0, hi: V }, { path: [2], role: 'in' }, { path: [3, 'cuSeqlens'], role: 'index', lo: 0, hi: N + 1 }, { path: [3, 'out'], role: 'out' }], opts: [3], optKeys: keys, outKey: 'out' };
    },
    call: pick2(dpo.logpsBackward as (...a: unknown[]) => unknown, dpo.logpsBackwardAsync as (...a: unknown[]) => Promise<unknown>),
  },
  {
    name: 'ops.crossEntropy',
    hasAsync: true,
    build(r, s) {
      const V = r.int(2, 11);
      const keys = ['ignoreIndex', 'shift', 'reduction', 'grad', 'inPlace', 'out', 'gradOut', 'labelSmoothing'];
      const B = r.int(1, 3), T = z(r, 1, 5, s);
      const shape = r.bool() ? [B, T] : [B * T];
      const none = r.bool();
      const dt = fdt(r);
      const opts: Record<string, unknown> = { grad: true, shift: r.bool(), reduction: none ? 'none' : r.pick(['mean', 'sum'] as const), out: ft(r, [...shape, V], dt) };
      const slots: Slot[] = [{ path: [0], role: 'in' }, { path: [1], role: 'index', lo: 0, hi: V }, { path: [2, 'out'], role: 'out' }];
      if (none) {
        opts.gradOut = ft(r, shape);
        slots.push({ path: [2, 'gradOut'], role: 'in' });
      }
      return { args: [ft(r, [...shape, V], dt), it(r, shape, 0, V), opts], slots, opts: [2], optKeys: keys, outKey: 'out' };
    },
    call: pick2(ops.crossEntropy as (...a: unknown[]) => unknown, ops.crossEntropyAsync as (...a: unknown[]) => Promise<unknown>),
  },
  {
    name: 'dpo.loss',
    hasAsync: true,
    build(r, s) {
      const B = z(r, 1, 5, s);
      return {
        args: [{ policyChosen: ft(r, [B]), policyRejected: ft(r, [B]), refChosen: ft(r, [B]), refRejected: ft(r, [B]) }, { beta: 0.1, type: r.pick(['sigmoid', 'robust', 'hinge'] as const) }],
        slots: [{ path: [0, 'policyChosen'], role: 'in' }, { path: [0, 'policyRejected'], role: 'in' }, { path: [0, 'refChosen'], role: 'in' }, { path: [0, 'refRejected'], role: 'in' }],
        opts: [1],
        optKeys: ['beta', 'type', 'labelSmoothing', 'referenceFree', 'gamma', 'tau', 'average', 'weights'],
      };
    },
    call: pick2(dpo.loss as (...a: unknown[]) => unknown, dpo.lossAsync as (...a: unknown[]) => Promise<unknown>),
  },
  {
    name: 'dpo.step',
    hasAsync: true,
    build(r, s) {
      const B = r.int(1, 2), T = z(r, 1, 4, s), V = r.int(2, 9);
      return {
        args: [{ logits: ft(r, [2 * B, T, V]), labels: it(r, [2 * B, T], 0, V), refChosen: ft(r, [B]), refRejected: ft(r, [B]) }, { beta: 0.1, inPlace: r.bool() }],
        slots: [{ path: [0, 'logits'], role: 'in' }, { path: [0, 'labels'], role: 'index', lo: 0, hi: V }, { path: [0, 'refChosen'], role: 'in' }, { path: [0, 'refRejected'], role: 'in' }],
        opts: [1],
        optKeys: ['beta', 'type', 'labelSmoothing', 'referenceFree', 'gamma', 'tau', 'weights', 'ignoreIndex', 'shift', 'cuSeqlens', 'average', 'inPlace', 'out'],
      };
    },
    call: pick2(dpo.step as (...a: unknown[]) => unknown, dpo.stepAsync as (...a: unknown[]) => Promise<unknown>),
  },
  {
    name: 'noise.visualTokens',
    hasAsync: true,
    build(r, s) {
      const B = r.int(1, 3), N = z(r, 2, 6, s), D = r.int(1, 6);
      const opts: Record<string, unknown> = { sigma: 0.5, seed: r.int(0, 99), offset: r.int(0, 9) };
      const slots: Slot[] = [{ path: [0], role: 'in' }];
      if (r.bool()) {
        opts.spans = Array.from({ length: B }, () => [[0, r.int(0, N)]]);
      } else {
        opts.mask = bt(r, [B, N]);
        slots.push({ path: [1, 'mask'], role: 'in' });
      }
      if (r.bool()) opts.out = ft(r, [B, N, D]), slots.push({ path: [1, 'out'], role: 'out' });
      return { args: [ft(r, [B, N, D]), opts], slots, opts: [1], optKeys: ['spans', 'mask', 'sigma', 'scale', 'prob', 'rows', 'seed', 'offset', 'inPlace', 'out'], outKey: 'out' };
    },
    call: pick2(noise.visualTokens as (...a: unknown[]) => unknown, noise.visualTokensAsync as (...a: unknown[]) => Promise<unknown>),
  },
  {
    name: 'noise.diffuse',
    hasAsync: true,
    build(r, s) {
      const B = r.int(1, 3), sh = [B, r.int(1, 3), z(r, 1, 4, s), r.int(1, 4)];
      const opts: Record<string, unknown> = { t: r.bool() ? r.int(0, 999) : it(r, [B], 0, 1000), seed: r.int(0, 99), returnNoise: r.bool() };
      const slots: Slot[] = [{ path: [0], role: 'in' }];
      if (opts.t instanceof Object) slots.push({ path: [1, 't'], role: 'index', lo: -1, hi: 1000 });
      if (r.bool()) opts.out = ft(r, sh), slots.push({ path: [1, 'out'], role: 'out' });
      return { args: [ft(r, sh), opts], slots, opts: [1], optKeys: ['t', 'schedule', 'steps', 'returnNoise', 'normalize', 'layout', 'dtype', 'seed', 'offset', 'out'], outKey: 'out' };
    },
    call: pick2(noise.diffuse as (...a: unknown[]) => unknown, noise.diffuseAsync as (...a: unknown[]) => Promise<unknown>),
  },
  {
    name: 'noise.schedule',
    hasAsync: false,
    build(r) {
      return { args: [r.pick(['linear', 'scaled-linear', 'cosine', 'vcd-sigmoid']), r.int(1, 50), { }], slots: [], opts: [2], optKeys: ['betaStart', 'betaEnd'] };
    },
    call: (a) => noise.schedule(...(a as Parameters<typeof noise.schedule>)),
  },
  {
    name: 'noise.minSnrWeights',
    hasAsync: false,
    build(r) {
      return { args: [noise.schedule('linear', r.int(1, 30)), 5, r.pick(['epsilon', 'v-prediction'])], slots: [], optKeys: [] };
    },
    call: (a) => noise.minSnrWeights(...(a as Parameters<typeof noise.minSnrWeights>)),
  },
  {
    name: 'noise.neftune',
    hasAsync: true,
    build(r, s) {
      const B = r.int(1, 3), L = z(r, 1, 5, s), D = r.int(1, 6);
      const opts: Record<string, unknown> = { alpha: 5, seed: r.int(0, 99) };
      const slots: Slot[] = [{ path: [0], role: 'in' }];
      if (r.bool()) opts.lengths = it(r, [B], 0, L + 1), slots.push({ path: [1, 'lengths'], role: 'index', lo: 0, hi: L + 1 });
      else opts.mask = bt(r, [B, L]), slots.push({ path: [1, 'mask'], role: 'in' });
      if (r.bool()) opts.out = ft(r, [B, L, D]), slots.push({ path: [1, 'out'], role: 'out' });
      return { args: [ft(r, [B, L, D]), opts], slots, opts: [1], optKeys: ['alpha', 'lengths', 'mask', 'norm', 'inPlace', 'out', 'seed', 'offset'], outKey: 'out' };
    },
    call: pick2(noise.neftune as (...a: unknown[]) => unknown, noise.neftuneAsync as (...a: unknown[]) => Promise<unknown>),
  },
  {
    name: 'noise.predictionLoss',
    hasAsync: true,
    build(r, s) {
      const B = r.int(1, 3), sh = [B, z(r, 1, 6, s)];
      const opts: Record<string, unknown> = r.bool() ? { weights: ft(r, [B]) } : { minSnrGamma: 5, t: it(r, [B], 0, 1000) };
      const slots: Slot[] = [{ path: [0], role: 'in' }, { path: [1], role: 'in' }];
      if (opts.weights) slots.push({ path: [2, 'weights'], role: 'in' });
      else slots.push({ path: [2, 't'], role: 'index', lo: 0, hi: 1000 });
      return { args: [ft(r, sh), ft(r, sh), opts], slots, opts: [2], optKeys: ['weights', 'minSnrGamma', 't', 'schedule', 'steps', 'prediction', 'grad', 'gradScale'] };
    },
    call: pick2(noise.predictionLoss as (...a: unknown[]) => unknown, noise.predictionLossAsync as (...a: unknown[]) => Promise<unknown>),
  },
  ...(['normal', 'uniform', 'bits'] as const).map(
    (k): OpSpec => ({
      name: `random.${k}`,
      hasAsync: true,
      build(r, s) {
        const sh = [r.int(1, 4), z(r, 1, 9, s)];
        const opts: Record<string, unknown> = { seed: r.int(0, 99), offset: r.int(0, 9) };
        const slots: Slot[] = [];
        if (r.bool()) opts.out = k === 'bits' ? it(r, sh, 0, 1) : ft(r, sh), slots.push({ path: [1, 'out'], role: 'out' });
        const keys = k === 'bits' ? ['seed', 'offset', 'device', 'out', 'start'] : ['seed', 'offset', 'dtype', 'device', 'out', 'start', ...(k === 'normal' ? ['mean', 'std'] : ['low', 'high'])];
        return { args: [sh, opts], slots, opts: [1], optKeys: keys, outKey: 'out' };
      },
      call: pick2(random[k] as (...a: unknown[]) => unknown, random[`${k}Async`] as (...a: unknown[]) => Promise<unknown>),
    }),
  ),
  {
    name: 'attention.masked',
    hasAsync: true,
    build(r, s) {
      const B = r.int(1, 2), Hkv = r.int(1, 2), Hq = Hkv * r.int(1, 2), Tq = z(r, 1, 4, s), T = z(r, 1, 6, s), d = r.int(1, 8);
      const dt = fdt(r);
      const opts: Record<string, unknown> = { causal: r.bool() };
      const slots: Slot[] = [{ path: [0], role: 'in' }, { path: [1], role: 'in' }, { path: [2], role: 'in' }];
      if (r.bool()) opts.keyMask = bt(r, [B, T]), slots.push({ path: [3, 'keyMask'], role: 'in' });
      if (r.bool()) opts.imageSpans = Array.from({ length: B }, () => [[0, r.int(0, T)]]), opts.maskRatio = 0.5;
      if (r.bool()) opts.out = ft(r, [B, Hq, Tq, d], dt), slots.push({ path: [3, 'out'], role: 'out' });
      if (r.bool()) opts.lseOut = ft(r, [B, Hq, Tq]), slots.push({ path: [3, 'lseOut'], role: 'out' });
      return {
        args: [ft(r, [B, Hq, Tq, d], dt), ft(r, [B, Hkv, T, d], dt), ft(r, [B, Hkv, T, d], dt), opts],
        slots,
        opts: [3],
        optKeys: ['scale', 'causal', 'queryOffset', 'kvLength', 'keyMask', 'imageSpans', 'maskRatio', 'seed', 'offset', 'returnLse', 'out', 'lseOut'],
        outKey: 'out',
      };
    },
    call: pick2(attention.masked as (...a: unknown[]) => unknown, attention.maskedAsync as (...a: unknown[]) => Promise<unknown>),
  },
  {
    name: 'attention.imageKeyMask',
    hasAsync: true,
    build(r, s) {
      const B = r.int(1, 3), L = z(r, 1, 8, s);
      const opts: Record<string, unknown> = { maskRatio: r(), seed: r.int(0, 9), length: L };
      const slots: Slot[] = [];
      if (r.bool()) opts.keyMask = bt(r, [B, L]), slots.push({ path: [1, 'keyMask'], role: 'in' });
      if (r.bool()) opts.out = bt(r, [B, L]), slots.push({ path: [1, 'out'], role: 'out' });
      return { args: [Array.from({ length: B }, () => [[r.int(0, L - 1), 1]]), opts], slots, opts: [1], optKeys: ['maskRatio', 'seed', 'offset', 'length', 'keyMask', 'device', 'out'], outKey: 'out' };
    },
    call: pick2(attention.imageKeyMask as (...a: unknown[]) => unknown, attention.imageKeyMaskAsync as (...a: unknown[]) => Promise<unknown>),
  },
  {
    // constructor + append + attend in one call: args [cacheOptions, layer, k, v, q, attendOptions]
    name: 'attention.KVCache',
    hasAsync: true,
    build(r, s) {
      const B = r.int(1, 2), Hkv = r.int(1, 2), d = r.int(1, 8), T = z(r, 1, 3, s), L = T + r.int(0, 3), layers = r.int(1, 2);
      return {
        args: [{ layers, batch: B, kvHeads: Hkv, headDim: d, maxLength: L }, r.int(0, layers - 1), ft(r, [B, Hkv, T, d]), ft(r, [B, Hkv, T, d]), ft(r, [B, Hkv, 1, d]), { causal: r.bool() }],
        slots: [{ path: [2], role: 'in' }, { path: [3], role: 'in' }, { path: [4], role: 'in' }],
        opts: [0],
        optKeys: ['layers', 'batch', 'kvHeads', 'headDim', 'maxLength', 'dtype', 'device'],
      };
    },
    call(a, async) {
      const [o, layer, k, v, q, ao] = a as [attention.KVCacheOptions, number, Tensor, Tensor, Tensor, attention.KVCacheAttendOptions];
      const cache = new attention.KVCache(o);
      if (!async) {
        cache.append(layer, k, v);
        return cache.attend(layer, q, ao);
      }
      return cache.appendAsync(layer, k, v).then(() => cache.attendAsync(layer, q, ao));
    },
  },
  {
    name: 'sampling.sample',
    hasAsync: true,
    build(r, s) {
      const B = r.int(1, 3), V = z(r, 1, 12, s);
      const opts: Record<string, unknown> = { temperature: r.pick([0, 0.7, 1]), topK: r.int(0, 5), topP: r.pick([1, 0.9]), seed: r.int(0, 99), step: r.int(0, 9) };
      const slots: Slot[] = [{ path: [0], role: 'in' }];
      if (r.bool()) opts.history = it(r, [B, r.int(1, 4)], 0, V), opts.repetitionPenalty = 1.3, slots.push({ path: [1, 'history'], role: 'index', lo: 0, hi: V });
      return { args: [ft(r, [B, V], fdt(r)), opts], slots, opts: [1], optKeys: ['temperature', 'topK', 'topP', 'minP', 'repetitionPenalty', 'history', 'seed', 'step'] };
    },
    call: pick2(sampling.sample as (...a: unknown[]) => unknown, sampling.sampleAsync as (...a: unknown[]) => Promise<unknown>),
  },
  {
    name: 'sampling.contrastive',
    hasAsync: true,
    build(r, s) {
      const sh = [r.int(1, 3), z(r, 1, 12, s)];
      const opts: Record<string, unknown> = { alpha: 1, beta: 0.1 };
      const slots: Slot[] = [{ path: [0], role: 'in' }, { path: [1], role: 'in' }];
      if (r.bool()) opts.rowActive = bt(r, [sh[0]!]), slots.push({ path: [2, 'rowActive'], role: 'in' });
      if (r.bool()) opts.out = ft(r, sh), slots.push({ path: [2, 'out'], role: 'out' });
      return { args: [ft(r, sh), ft(r, sh), opts], slots, opts: [2], optKeys: ['alpha', 'beta', 'rowActive', 'out'], outKey: 'out' };
    },
    call: pick2(sampling.contrastive as (...a: unknown[]) => unknown, sampling.contrastiveAsync as (...a: unknown[]) => Promise<unknown>),
  },
  {
    name: 'similarity.cosine',
    hasAsync: true,
    build(r, s) {
      const N = z(r, 1, 4, s), M = r.int(1, 4), D = r.int(1, 8), paired = r.bool();
      const opts: Record<string, unknown> = { paired };
      const slots: Slot[] = [{ path: [0], role: 'in' }, { path: [1], role: 'in' }];
      if (r.bool()) opts.out = ft(r, paired ? [N] : [N, M]), slots.push({ path: [2, 'out'], role: 'out' });
      return { args: [ft(r, [N, D]), ft(r, [paired ? N : M, D]), opts], slots, opts: [2], optKeys: ['paired', 'out'], outKey: 'out' };
    },
    call: pick2(similarity.cosine as (...a: unknown[]) => unknown, similarity.cosineAsync as (...a: unknown[]) => Promise<unknown>),
  },
  {
    name: 'similarity.filter',
    hasAsync: true,
    build(r, s) {
      const N = z(r, 1, 4, s), M = r.int(1, 4), D = r.int(1, 8);
      return { args: [ft(r, [N, D]), ft(r, [M, D]), { threshold: 0.5 }], slots: [{ path: [0], role: 'in' }, { path: [1], role: 'in' }], opts: [2], optKeys: ['threshold', 'paired'] };
    },
    call: pick2(similarity.filter as (...a: unknown[]) => unknown, similarity.filterAsync as (...a: unknown[]) => Promise<unknown>),
  },
  {
    name: 'similarity.meanPoolNormalize',
    hasAsync: true,
    build(r, s) {
      const M = r.int(1, 3), T = z(r, 1, 5, s), D = r.int(1, 6);
      const opts: Record<string, unknown> = { normalize: r.bool() };
      const slots: Slot[] = [{ path: [0], role: 'in' }];
      if (r.bool()) opts.mask = bt(r, [M, T]), slots.push({ path: [1, 'mask'], role: 'in' });
      if (r.bool()) opts.out = ft(r, [M, D]), slots.push({ path: [1, 'out'], role: 'out' });
      return { args: [ft(r, [M, T, D]), opts], slots, opts: [1], optKeys: ['mask', 'normalize', 'out'], outKey: 'out' };
    },
    call: pick2(similarity.meanPoolNormalize as (...a: unknown[]) => unknown, similarity.meanPoolNormalizeAsync as (...a: unknown[]) => Promise<unknown>),
  },
  {
    // LlamaModel.random + forward: args [config, initOptions, tokens, forwardOptions]
    name: 'models.LlamaModel',
    hasAsync: false,
    build(r) {
      const B = r.int(1, 2), T = r.int(1, 4);
      return { args: [{ ...TINY }, { seed: r.int(0, 9) }, it(r, [B, T], 0, TINY.vocabSize), { logits: r.pick(['all', 'last', 'none']) }], slots: [{ path: [2], role: 'index', lo: 0, hi: TINY.vocabSize }], opts: [0], optKeys: Object.keys(TINY) };
    },
    call(a) {
      const [cfg, init, tokens, fo] = a as [models.LlamaConfig, models.LlamaInitOptions, Tensor, models.ForwardOptions];
      const m = models.LlamaModel.random(cfg, init);
      const x = m.embedTokens(tokens);
      return m.forward(x, m.createCache(tokens.shape[0]!, tokens.shape[1]! + 1), fo);
    },
  },
  {
    // generate with a tiny model: args [model, options]
    name: 'models.generate',
    hasAsync: false,
    build(r) {
      const B = r.int(1, 2), T = r.int(1, 3);
      const model = models.LlamaModel.random(TINY, { seed: 1 });
      return {
        args: [model, { tokens: it(r, [B, T], 0, TINY.vocabSize), maxNewTokens: r.int(1, 3), sampler: { seed: r.int(0, 9) } }],
        slots: [{ path: [1, 'tokens'], role: 'index', lo: 0, hi: TINY.vocabSize }],
        opts: [1],
        optKeys: ['tokens', 'inputEmbeds', 'imageSpans', 'imageMask', 'maxNewTokens', 'sampler', 'stopTokens', 'signal'],
      };
    },
    call(a) {
      return models.generate(...(a as Parameters<typeof models.generate>)).result;
    },
  },
  {
    name: 'ops.rmsNormBackward',
    hasAsync: true,
    build(r, s) {
      const R = z(r, 1, 4, s), C = z(r, 1, 9, 1);
      const sh = [R, C];
      return {
        args: [ft(r, sh), ft(r, sh), ft(r, [C]), { eps: 1e-6, out: ft(r, sh), dWeightOut: ft(r, [C]), accumulate: r.bool() }],
        slots: [{ path: [0], role: 'in' }, { path: [1], role: 'in' }, { path: [2], role: 'in' }, { path: [3, 'out'], role: 'out' }, { path: [3, 'dWeightOut'], role: 'out' }],
        opts: [3],
        optKeys: ['eps', 'out', 'dWeightOut', 'accumulate'],
        outKey: 'out',
      };
    },
    call: pick2(ops.rmsNormBackward as (...a: unknown[]) => unknown, ops.rmsNormBackwardAsync as (...a: unknown[]) => Promise<unknown>),
  },
  {
    name: 'ops.rotaryBackward',
    hasAsync: true,
    build(r, s) {
      const B = r.int(1, 2), H = r.int(1, 3), T = z(r, 1, 5, s), D = 2 * r.int(1, 4);
      const sh = [B, H, T, D];
      return {
        args: [ft(r, sh), { positions: it(r, [B, T], 0, 1000), offset: r.int(0, 5), theta: 10000, out: ft(r, sh) }],
        slots: [{ path: [0], role: 'in' }, { path: [1, 'positions'], role: 'index', lo: 0, hi: 2 ** 31 - 1 }, { path: [1, 'out'], role: 'out' }],
        opts: [1],
        optKeys: ['positions', 'offset', 'theta', 'inPlace', 'out'],
        outKey: 'out',
      };
    },
    call: pick2(ops.rotaryBackward as (...a: unknown[]) => unknown, ops.rotaryBackwardAsync as (...a: unknown[]) => Promise<unknown>),
  },
  {
    name: 'ops.swigluBackward',
    hasAsync: true,
    build(r, s) {
      const sh = [z(r, 1, 4, s), r.int(1, 9)];
      return {
        args: [ft(r, sh), ft(r, sh), ft(r, sh), { dGateOut: ft(r, sh), dUpOut: ft(r, sh) }],
        slots: [{ path: [0], role: 'in' }, { path: [1], role: 'in' }, { path: [2], role: 'in' }, { path: [3, 'dGateOut'], role: 'out' }, { path: [3, 'dUpOut'], role: 'out' }],
        opts: [3],
        optKeys: ['dGateOut', 'dUpOut'],
        outKey: 'dGateOut',
      };
    },
    call: pick2(ops.swigluBackward as (...a: unknown[]) => unknown, ops.swigluBackwardAsync as (...a: unknown[]) => Promise<unknown>),
  },
  {
    // args [params, grads, state, options]: two tensors of odd sizes, optional bf16 + master weights
    name: 'optim.adamw',
    hasAsync: true,
    build(r, s) {
      const sizes = [z(r, 1, 9, s), r.int(1, 5)];
      const half = r.bool();
      const params = sizes.map((n) => ft(r, [n], half ? 'bfloat16' : 'float32'));
      const state = optim.adamwState(params, { masterWeights: half && r.bool() });
      const slots: Slot[] = [];
      sizes.forEach((_, i) => {
        slots.push({ path: [0, i], role: 'out' }, { path: [1, i], role: 'in' }, { path: [2, 'm', i], role: 'out' }, { path: [2, 'v', i], role: 'out' });
        if (state.master) slots.push({ path: [2, 'master', i], role: 'out' });
      });
      return { args: [params, sizes.map((n) => ft(r, [n])), state, { lr: 1e-3, step: r.int(1, 5), weightDecay: 0.01 }], slots, opts: [3], optKeys: ['lr', 'beta1', 'beta2', 'eps', 'weightDecay', 'step'] };
    },
    call: pick2(optim.adamw as (...a: unknown[]) => unknown, optim.adamwAsync as (...a: unknown[]) => Promise<unknown>),
  },
  {
    name: 'optim.adamwState',
    hasAsync: false,
    build(r) {
      return { args: [[ft(r, [r.int(1, 5)], 'bfloat16')], { masterWeights: r.bool() }], slots: [{ path: [0, 0], role: 'in' }], opts: [1], optKeys: ['masterWeights'] };
    },
    call: (a) => optim.adamwState(...(a as Parameters<typeof optim.adamwState>)),
  },
  {
    // args [grads, maxNorm, options]: grads are scaled in place
    name: 'optim.clipGradNorm',
    hasAsync: true,
    build(r, s) {
      const grads = [ft(r, [z(r, 1, 9, s)], fdt(r)), ft(r, [r.int(1, 5)])];
      return { args: [grads, 0.5, { eps: 1e-6, errorIfNonfinite: r.bool() }], slots: [{ path: [0, 0], role: 'out' }, { path: [0, 1], role: 'out' }], opts: [2], optKeys: ['eps', 'errorIfNonfinite'] };
    },
    call: pick2(optim.clipGradNorm as (...a: unknown[]) => unknown, optim.clipGradNormAsync as (...a: unknown[]) => Promise<unknown>),
  },
  {
    name: 'dpo.linearLogps',
    hasAsync: true,
    build(r, s) {
      const V = r.int(2, 11), H = r.int(1, 6), dt = fdt(r);
      const keys = ['ignoreIndex', 'shift', 'average', 'cuSeqlens', 'perToken', 'returnLse', 'memoryBudget', 'chunkSize'];
      if (r.bool()) {
        const B = r.int(1, 3), T = z(r, 1, 5, s);
        return { args: [ft(r, [B, T, H], dt), ft(r, [V, H], dt), it(r, [B, T], 0, V), { perToken: r.bool(), returnLse: r.bool(), shift: r.bool(), chunkSize: r.int(1, 4) }], slots: [{ path: [0], role: 'in' }, { path: [1], role: 'in' }, { path: [2], role: 'index', lo: 0, hi: V }], opts: [3], optKeys: keys };
      }
      const lens = Array.from({ length: r.int(1, 3) }, () => z(r, 1, 4, s));
      const cu = [0];
      for (const l of lens) cu.push(cu[cu.length - 1]! + l);
      const N = cu[cu.length - 1]!;
      return { args: [ft(r, [N, H], dt), ft(r, [V, H], dt), it(r, [N], 0, V), { cuSeqlens: tensor(Int32Array.from(cu)), returnLse: r.bool() }], slots: [{ path: [0], role: 'in' }, { path: [1], role: 'in' }, { path: [2], role: 'index', lo: 0, hi: V }, { path: [3, 'cuSeqlens'], role: 'index', lo: 0, hi: N + 1 }], opts: [3], optKeys: keys };
    },
    call: pick2(dpo.linearLogps as (...a: unknown[]) => unknown, dpo.linearLogpsAsync as (...a: unknown[]) => Promise<unknown>),
  },
  {
    name: 'dpo.linearStep',
    hasAsync: true,
    build(r, s) {
      const B = r.int(1, 2), T = z(r, 1, 4, s), V = r.int(2, 9), H = r.int(1, 5), dt = fdt(r);
      const opts: Record<string, unknown> = { beta: 0.1, lmHeadGrad: r.bool(), chunkSize: r.int(1, 5) };
      if (opts.lmHeadGrad && r.bool()) opts.dLmHead = ft(r, [V, H]);
      return {
        args: [{ hidden: ft(r, [2 * B, T, H], dt), lmHead: ft(r, [V, H], dt), labels: it(r, [2 * B, T], 0, V), refChosen: ft(r, [B]), refRejected: ft(r, [B]) }, opts],
        slots: [{ path: [0, 'hidden'], role: 'in' }, { path: [0, 'lmHead'], role: 'in' }, { path: [0, 'labels'], role: 'index', lo: 0, hi: V }, { path: [0, 'refChosen'], role: 'in' }, { path: [0, 'refRejected'], role: 'in' }, ...(opts.dLmHead ? [{ path: [1, 'dLmHead'], role: 'out' as const }] : [])],
        opts: [1],
        optKeys: ['beta', 'type', 'labelSmoothing', 'referenceFree', 'gamma', 'tau', 'weights', 'average', 'ignoreIndex', 'shift', 'cuSeqlens', 'lmHeadGrad', 'dLmHead', 'sftWeight', 'memoryBudget', 'chunkSize'],
        outKey: 'dLmHead',
      };
    },
    call: pick2(dpo.linearStep as (...a: unknown[]) => unknown, dpo.linearStepAsync as (...a: unknown[]) => Promise<unknown>),
  },
  {
    name: 'ops.linearCrossEntropy',
    hasAsync: true,
    build(r, s) {
      const B = r.int(1, 3), T = z(r, 1, 5, s), V = r.int(2, 11), H = r.int(1, 6), dt = fdt(r);
      return {
        args: [ft(r, [B, T, H], dt), ft(r, [V, H], dt), it(r, [B, T], 0, V), { reduction: r.pick(['mean', 'sum'] as const), lmHeadGrad: r.bool(), chunkSize: r.int(1, 4) }],
        slots: [{ path: [0], role: 'in' }, { path: [1], role: 'in' }, { path: [2], role: 'index', lo: 0, hi: V }],
        opts: [3],
        optKeys: ['ignoreIndex', 'shift', 'cuSeqlens', 'reduction', 'lmHeadGrad', 'dLmHead', 'memoryBudget', 'chunkSize'],
      };
    },
    call: pick2(ops.linearCrossEntropy as (...a: unknown[]) => unknown, ops.linearCrossEntropyAsync as (...a: unknown[]) => Promise<unknown>),
  },
  {
    // args [dOut, q, k, v, out, lse, options]; out/lse are any tensors of the right shape (the op
    // reads them as the forward's result)
    name: 'attention.maskedBackward',
    hasAsync: true,
    build(r, s) {
      const B = r.int(1, 2), Hkv = r.int(1, 2), Hq = Hkv * r.int(1, 2), Tq = z(r, 1, 4, s), T = z(r, 1, 6, s), d = r.int(1, 8);
      const dt = fdt(r);
      const opts: Record<string, unknown> = { causal: r.bool() };
      const slots: Slot[] = [0, 1, 2, 3, 4, 5].map((i) => ({ path: [i], role: 'in' as const }));
      if (r.bool()) opts.keyMask = bt(r, [B, T]), slots.push({ path: [6, 'keyMask'], role: 'in' });
      if (r.bool()) opts.imageSpans = Array.from({ length: B }, () => [[0, r.int(0, T)]]), opts.maskRatio = 0.5;
      const qs = [B, Hq, Tq, d];
      return {
        args: [ft(r, qs, dt), ft(r, qs, dt), ft(r, [B, Hkv, T, d], dt), ft(r, [B, Hkv, T, d], dt), ft(r, qs, dt), ft(r, [B, Hq, Tq]), opts],
        slots,
        opts: [6],
        optKeys: ['scale', 'causal', 'queryOffset', 'kvLength', 'keyMask', 'imageSpans', 'maskRatio', 'seed', 'offset'],
      };
    },
    call: pick2(attention.maskedBackward as (...a: unknown[]) => unknown, attention.maskedBackwardAsync as (...a: unknown[]) => Promise<unknown>),
  },
];

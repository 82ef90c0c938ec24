/**
 * optim.adamw / adamwState / clipGradNorm against the float64 references in test/reference/adamw.ts:
 * several steps, weight decay 0 and > 0, many tensors of odd sizes in one call, master weights with
 * bfloat16/float16 params, determinism across thread counts, Async == sync, typed errors.
 */
import { describe, expect, it } from 'vitest';
import { numThreads, optim, setNumThreads, tensor, zeros } from '../lib';
import { bf16BitsToNumber, halfBitsToNumber, numberToBf16Bits, numberToHalfBits } from '../lib/dtype';
import { adamwRefInit, adamwRefStep, clipGradNormRef, type AdamwHyper } from './reference/adamw';
import { assertBitEqual, assertClose, expectError, expectRejection, randomArray, rng } from './helpers';

const SIZES = [1, 7, 33, 1000, 8193, 17];
const rb16 = (x: number) => bf16BitsToNumber(numberToBf16Bits(x));
const rf16 = (x: number) => halfBitsToNumber(numberToHalfBits(x));

/** |got - ref| <= 2 bound + slack, elementwise (bound: the reference's float32 drift bound). */
function assertWithin(got: ArrayLike<number>, ref: ArrayLike<number>, bound: ArrayLike<number>, name: string, slack: (i: number) => number = () => 0) {
  let bad = 0;
  const first: string[] = [];
  for (let i = 0; i < ref.length; i++) {
    const tol = 2 * bound[i]! + slack(i);
    if (!(Math.abs(got[i]! - ref[i]!) <= tol)) {
      bad++;
      if (first.length < 5) first.push(`[${i}] got ${got[i]} expected ${ref[i]} (tolerance ${tol})`);
    }
  }
  if (bad) throw new Error(`${name}: ${bad}/${ref.length} outside the derived bound\n  ${first.join('\n  ')}`);
}

function run(hyper: AdamwHyper, steps: number, seed: number, dtype: 'float32' | 'bfloat16' | 'float16' = 'float32', masterWeights = false) {
  const r = rng(seed);
  const round = dtype === 'bfloat16' ? rb16 : dtype === 'float16' ? rf16 : Math.fround;
  const init = SIZES.map((n) => Array.from(randomArray(n, r), round));
  const params = init.map((a, i) => tensor(a, [SIZES[i]!], { dtype }));
  const state = optim.adamwState(params, { masterWeights });
  const refs = init.map((a) => adamwRefInit(a));
  for (let t = 1; t <= steps; t++) {
    const g = SIZES.map((n) => Array.from(randomArray(n, r, 0.5 * t), Math.fround));
    optim.adamw(params, g.map((a, i) => tensor(a, [SIZES[i]!])), state, { ...hyper, step: t });
    refs.forEach((ref, i) => adamwRefStep(ref, g[i]!, hyper, t, masterWeights || dtype === 'float32' ? undefined : round));
  }
  return { params, state, refs };
}

const HYPERS: [string, AdamwHyper][] = [
  ['torch defaults', { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 1e-2 }],
  ['weightDecay 0, large lr', { lr: 0.1, beta1: 0.8, beta2: 0.99, eps: 1e-6, weightDecay: 0 }],
  ['beta1 0.3 (the other lerp branch), weightDecay 0.5', { lr: 0.05, beta1: 0.3, beta2: 0.9, eps: 1e-3, weightDecay: 0.5 }],
];

describe('optim.adamw', () => {
  for (const [name, h] of HYPERS)
    it(`float32, six tensors of odd sizes in one call, 5 steps: ${name}`, () => {
      const { params, state, refs } = run(h, 5, 11);
      refs.forEach((ref, i) => {
        assertWithin(params[i]!.toFloat32Array(), ref.theta, ref.bound, `params[${i}]`);
        assertWithin(state.m[i]!.toFloat32Array(), ref.m, ref.boundM, `m[${i}]`);
        assertWithin(state.v[i]!.toFloat32Array(), ref.v, ref.boundV, `v[${i}]`);
      });
    });

  it('the derived bound is tight enough to catch a missing bias correction', () => {
    // step 1 with bias correction: update = lr * g / (|g| + eps) ~ lr sign(g); without it 10x smaller
    const h = HYPERS[0]![1];
    const { params, refs } = run(h, 1, 3);
    const ref = refs[4]!;
    const got = params[4]!.toFloat32Array();
    let maxBound = 0;
    for (let i = 0; i < ref.bound.length; i++) maxBound = Math.max(maxBound, ref.bound[i]!);
    expect(maxBound).toBeLessThan(h.lr / 100);
    assertWithin(got, ref.theta, ref.bound, 'params[4]');
  });

  for (const dtype of ['bfloat16', 'float16'] as const)
    it(`${dtype} params with float32 master weights: master follows the reference, params are rne(master)`, () => {
      const h = HYPERS[1]![1];
      const { params, state, refs } = run(h, 4, 5, dtype, true);
      const round = dtype === 'bfloat16' ? numberToBf16Bits : numberToHalfBits;
      refs.forEach((ref, i) => {
        const master = state.master![i]!.toFloat32Array();
        assertWithin(master, ref.theta, ref.bound, `master[${i}]`);
        const expected = Uint16Array.from(master, (x) => round(x));
        assertBitEqual(new Uint16Array((params[i]!.data as Uint16Array).slice()), expected, `params[${i}]`);
      });
    });

  it('bfloat16 params without master weights: rounded after every step, float32 or bfloat16 grads', () => {
    const h = HYPERS[0]![1];
    const { params, refs } = run(h, 3, 9, 'bfloat16');
    // each step's rounding may land on the neighbouring bfloat16 of the reference's: 1 ulp per step
    refs.forEach((ref, i) => assertWithin(params[i]!.toFloat32Array(), ref.theta, ref.bound, `params[${i}]`, (j) => 3 * 2 ** -7 * Math.abs(ref.theta[j]!)));
    const p = tensor([1, -2, 3], [3], { dtype: 'bfloat16' });
    const s = optim.adamwState([p]);
    optim.adamw([p], [tensor([0.5, 0.5, 0.5], [3], { dtype: 'bfloat16' })], s, { step: 1, lr: 0.25, weightDecay: 0 });
    assertClose(p.toFloat32Array(), [0.75, -2.25, 2.75], { atol: 0, rtol: 0, name: 'bf16 grads' });
  });

  it('same bits at 1, 2 and 3 threads, and Async == sync', async () => {
    const before = numThreads();
    const outs: Float32Array[][] = [];
    try {
      for (const n of [1, 2, 3]) {
        setNumThreads(n);
        const { params, state } = run(HYPERS[0]![1], 2, 21);
        outs.push([...params, ...state.m, ...state.v].map((t) => t.toFloat32Array()));
      }
    } finally {
      setNumThreads(before);
    }
    for (const o of outs.slice(1)) o.forEach((a, i) => assertBitEqual(a, outs[0]![i]!, `tensor ${i}`));
    const r = rng(4);
    const mk = () => SIZES.map((n) => tensor(Array.from(randomArray(n, rng(n)), Math.fround), [n]));
    const [pa, pb, g] = [mk(), mk(), SIZES.map((n) => tensor(Array.from(randomArray(n, r)), [n]))];
    const [sa, sb] = [optim.adamwState(pa), optim.adamwState(pb)];
    optim.adamw(pa, g, sa, { step: 1 });
    await optim.adamwAsync(pb, g, sb, { step: 1 });
    pa.forEach((t, i) => assertBitEqual(t.toFloat32Array(), pb[i]!.toFloat32Array(), `async params[${i}]`));
  });

  it('an empty list is a no-op', () => {
    optim.adamw([], [], optim.adamwState([]), { step: 1 });
  });
});

describe('optim.adamw errors', () => {
  const mk = () => {
    const params = [tensor([1, 2, 3], [3]), tensor([4, 5], [2])];
    const grads = [tensor([0.1, 0.2, 0.3], [3]), tensor([0.4, 0.5], [2])];
    return { params, grads, state: optim.adamwState(params) };
  };
  it('mismatched list lengths: ERR_SHAPE', () => {
    const { params, grads, state } = mk();
    expectError(() => optim.adamw(params, grads.slice(1), state, { step: 1 }), 'ERR_SHAPE', /expected grads of length 2 \(from params\) but received 1/);
    expectError(() => optim.adamw(params, grads, { m: state.m, v: state.v.slice(1) }, { step: 1 }), 'ERR_SHAPE', /state\.v of length 2/);
  });
  it('mismatched shapes: ERR_SHAPE', () => {
    const { params, grads, state } = mk();
    expectError(() => optim.adamw(params, [grads[1]!, grads[0]!], state, { step: 1 }), 'ERR_SHAPE', /expected grads\[0\] of shape \[3\] \(from params\[0\] \[3\]\) but received \[2\]/);
    expectError(() => optim.adamw(params, grads, { m: [state.m[0]!, zeros([3])], v: state.v }, { step: 1 }), 'ERR_SHAPE', /state\.m\[1\]/);
  });
  it('dtypes: ERR_DTYPE', () => {
    const { params, grads, state } = mk();
    expectError(() => optim.adamw(params, [tensor([1, 2, 3], [3], { dtype: 'bfloat16' }), grads[1]!], state, { step: 1 }), 'ERR_DTYPE', /expected grads\[0\] of dtype float32 but received bfloat16/);
    expectError(() => optim.adamw([tensor(new Int32Array(3), [3])], [grads[0]!], { m: [zeros([3])], v: [zeros([3])] }, { step: 1 }), 'ERR_DTYPE', /params\[0\]/);
    expectError(() => optim.adamw(params, grads, { m: [zeros([3], 'bfloat16'), state.m[1]!], v: state.v }, { step: 1 }), 'ERR_DTYPE', /state\.m\[0\]/);
    expectError(() => optim.adamwState(params, { masterWeights: true }), 'ERR_DTYPE', /masterWeights/);
  });
  it('step < 1, lr < 0, beta1 >= 1, missing step: ERR_RANGE / ERR_ARGUMENT', () => {
    const { params, grads, state } = mk();
    expectError(() => optim.adamw(params, grads, state, { step: 0 }), 'ERR_RANGE', /expected step an integer >= 1/);
    expectError(() => optim.adamw(params, grads, state, { step: 1.5 }), 'ERR_RANGE', /step/);
    expectError(() => optim.adamw(params, grads, state, { step: 1, lr: -1e-3 }), 'ERR_RANGE', /expected lr a finite number >= 0 but received -0.001/);
    expectError(() => optim.adamw(params, grads, state, { step: 1, beta1: 1 }), 'ERR_RANGE', /beta1/);
    expectError(() => optim.adamw(params, grads, state, { step: 1, eps: NaN }), 'ERR_ARGUMENT', /eps/);
    expectError(() => optim.adamw(params, grads, state, {} as never), 'ERR_ARGUMENT', /step/);
    expectError(() => optim.adamw(params, grads, state, { step: 1, momentum: 0.9 } as never), 'ERR_ARGUMENT', /unknown option 'momentum'/);
  });
  it('the same tensor twice, or a grad that is a moment: ERR_ARGUMENT, nothing modified', () => {
    const { params, grads, state } = mk();
    const p0 = params[0]!;
    const twice = [p0, p0];
    expectError(() => optim.adamw(twice, [grads[0]!, grads[0]!], optim.adamwState(twice), { step: 1 }), 'ERR_ARGUMENT', /params\[\d\] and params\[\d\] in separate memory/);
    expectError(() => optim.adamw(params, [state.m[0]!, grads[1]!], state, { step: 1 }), 'ERR_ARGUMENT', /grads\[0\].*state\.m\[0\]|state\.m\[0\].*grads\[0\]/);
    // a view into a parameter's buffer used as another parameter's moment
    const buf = new Float32Array(8);
    const a = tensor(buf.subarray(0, 3), [3]);
    const b = tensor(buf.subarray(2, 5), [3]);
    expectError(() => optim.adamw([a], [grads[0]!], { m: [b], v: [zeros([3])] }, { step: 1 }), 'ERR_ARGUMENT', /separate memory/);
    assertClose(p0.toFloat32Array(), [1, 2, 3], { atol: 0, rtol: 0 });
    assertClose(state.m[0]!.toFloat32Array(), [0, 0, 0], { atol: 0, rtol: 0 });
  });
  it('not a list, bad state: ERR_ARGUMENT; Async rejects', async () => {
    const { params, grads, state } = mk();
    expectError(() => optim.adamw(params[0] as never, grads, state, { step: 1 }), 'ERR_ARGUMENT', /expected an array for params/);
    expectError(() => optim.adamw(params, grads, null as never, { step: 1 }), 'ERR_ARGUMENT', /state/);
    await expectRejection(optim.adamwAsync(params, grads, state, { step: -1 }), 'ERR_RANGE', /step/);
  });
});

describe('optim.clipGradNorm', () => {
  const make = (seed: number, scale: number, dtype: 'float32' | 'bfloat16' = 'float32') => {
    const r = rng(seed);
    const round = dtype === 'bfloat16' ? rb16 : Math.fround;
    const data = [...SIZES, 40000].map((n) => Array.from(randomArray(n, r, scale), round));
    return { data, grads: data.map((a) => tensor(a, [a.length], { dtype })) };
  };

  for (const dtype of ['float32', 'bfloat16'] as const)
    it(`${dtype}: total vs float64, every grad scaled by the float32 coef`, () => {
      const { data, grads } = make(1, 0.3, dtype);
      const ref = clipGradNormRef(data, 1.0);
      const total = optim.clipGradNorm(grads, 1.0);
      // float64 accumulation of float32 squares: ~1e-16 relative; (hi, lo) carries 2^-48
      expect(Math.abs(total - ref.total) / ref.total).toBeLessThan(1e-13);
      expect(ref.coef).toBeLessThan(1);
      const coef = Math.fround(ref.coef);
      const round = dtype === 'bfloat16' ? rb16 : Math.fround;
      grads.forEach((g, i) => assertClose(g.toFloat32Array(), data[i]!.map((x) => round(Math.fround(x * coef))), { atol: 0, rtol: 0, name: `grads[${i}]` }));
    });

  it('below maxNorm: returns the norm and leaves the grads alone', () => {
    const { data, grads } = make(2, 1e-3);
    const total = optim.clipGradNorm(grads, 10);
    expect(total).toBeCloseTo(clipGradNormRef(data, 10).total, 12);
    grads.forEach((g, i) => assertClose(g.toFloat32Array(), data[i]!, { atol: 0, rtol: 0 }));
  });

  it('same bits at 1, 2 and 3 threads; Async == sync', async () => {
    const before = numThreads();
    const res: [number, Float32Array][] = [];
    try {
      for (const n of [1, 2, 3]) {
        setNumThreads(n);
        const { grads } = make(3, 2);
        const t = optim.clipGradNorm(grads, 1);
        res.push([t, grads[6]!.toFloat32Array()]);
      }
    } finally {
      setNumThreads(before);
    }
    for (const [t, g] of res.slice(1)) {
      expect(t).toBe(res[0]![0]);
      assertBitEqual(g, res[0]![1]);
    }
    const { grads } = make(3, 2);
    expect(await optim.clipGradNormAsync(grads, 1)).toBe(res[0]![0]);
    assertBitEqual(grads[6]!.toFloat32Array(), res[0]![1]);
  });

  it('non-finite norm: NaN scales by NaN (as torch), errorIfNonfinite throws ERR_RANGE and modifies nothing', () => {
    const a = tensor([1, NaN, 2], [3]);
    const b = tensor([3, 4], [2]);
    expectError(() => optim.clipGradNorm([a, b], 1, { errorIfNonfinite: true }), 'ERR_RANGE', /expected a finite total norm.*but received NaN/);
    assertClose(b.toFloat32Array(), [3, 4], { atol: 0, rtol: 0 });
    expect(Number.isNaN(optim.clipGradNorm([a, b], 1))).toBe(true);
    expect(Array.from(b.toFloat32Array()).every(Number.isNaN)).toBe(true);
    const c = tensor([Infinity, 1], [2]);
    expect(optim.clipGradNorm([c], 1)).toBe(Infinity);
    assertClose(c.toFloat32Array(), [NaN, 0], { atol: 0, rtol: 0 });
  });

  it('errors: typed', async () => {
    const g = tensor([1, 2], [2]);
    expectError(() => optim.clipGradNorm(g as never, 1), 'ERR_ARGUMENT', /expected an array for grads/);
    expectError(() => optim.clipGradNorm([g], -1), 'ERR_RANGE', /maxNorm/);
    expectError(() => optim.clipGradNorm([g, g], 1), 'ERR_ARGUMENT', /grads\[\d\] and grads\[\d\] in separate memory/);
    expectError(() => optim.clipGradNorm([tensor(new Int32Array(2), [2])], 1), 'ERR_DTYPE', /grads\[0\]/);
    expectError(() => optim.clipGradNorm([g], 1, { eps: -1 }), 'ERR_RANGE', /eps/);
    await expectRejection(optim.clipGradNormAsync([g], NaN), 'ERR_ARGUMENT', /maxNorm/);
    expect(optim.clipGradNorm([], 1)).toBe(0);
  });
});



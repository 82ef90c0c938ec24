/**
 * A tiny DEEM module written only with mmpref's public ops, for recipes.deem and
 * `mmpref train deem --denoiser <this file compiled>.js` (it exports the factory `createDeem`).
 * Copy it as the start of your own: replace the imports by `import { ops, optim, models, random,
 * tensor } from 'mmpref'`. Per token row of the image features x0 [B, Nv, Dv]:
 *
 *   cond    = x0 A^T + a                                  encoder adapter  A [C, Dv]  (trained by the feedback)
 *   e       = emb(t)                                      sinusoidal timestep embedding [E] (fixed)
 *   h       = xt W1x^T + e W1t^T + cond W1c^T + b1        = W1 [xt; e; cond] + b1, without a concat
 *   epsPred = gelu(h) W2^T + b2                           W2 [Dv, H]
 *
 * Backward (ops.linearBackward, ops.geluBackward) from d loss / d epsPred down to A and a: this
 * gradient into the adapter is DEEM's point (the diffusion feedback shapes the image features).
 * Update: optim.adamw (PyTorch's AdamW, weight decay 0 by default). save / load: the weights in
 * deem_model.safetensors, the AdamW moments in deem_optimizer.safetensors (m/<name>, v/<name>).
 * CPU float32. The real DEEM denoiser is a pretrained diffusion model over image latents (METHODS.md §7).
 */
import path from 'node:path';
import { fail } from '../errors';
import * as ops from '../api/ops';
import * as optim from '../api/optim';
import * as random from '../api/random';
import { loadSafetensors, saveSafetensors } from '../io/safetensors';
import { tensor, type Tensor } from '../tensor';
import { checkOptions, enumOpt, numberOpt } from '../validate';
import type { DeemBatch, DeemModule } from './deem';

export interface TinyDeemOptions {
  /** Feature size Dv, an integer >= 1 (default: taken from the first batch or the checkpoint loaded). */
  dim?: number;
  /** Hidden width H of the denoiser MLP (default 64). */
  hidden?: number;
  /** Width C of the encoder adapter's output, the condition (default 16). */
  cond?: number;
  /** Size E of the timestep embedding, even (default 16). */
  timeDim?: number;
  /** Seed of the weight init (random.normal, std 1/sqrt(fan in); biases 0), default 0. */
  seed?: number;
  /** AdamW decoupled weight decay (default 0). */
  weightDecay?: number;
  /** GELU form: 'none' (exact, default) or 'tanh'. */
  approximate?: 'none' | 'tanh';
}

export interface TinyDeem extends DeemModule {
  /** The weights by name (empty until the first batch or load when dim was not given). */
  readonly params: ReadonlyMap<string, Tensor<'float32'>>;
  /** d loss / d weight of the last backward, by name (empty after step). */
  readonly grads: ReadonlyMap<string, Tensor<'float32'>>;
  denoiser(xt: Tensor, t: Int32Array, batch: DeemBatch): Tensor<'float32'>;
  backward(gradEpsPred: Tensor, batch: DeemBatch): void;
  step(lr: number, step: number): void;
  save(dir: string): void;
  load(dir: string): void;
  /** Frees the weights, moments, gradients and saved activations. */
  dispose(): void;
}

const OP = 'recipes.createTinyDeem';
const MODEL_FILE = 'deem_model.safetensors';
const OPT_FILE = 'deem_optimizer.safetensors';

/** emb(t) = [sin(t w_k), cos(t w_k)], w_k = 10000^(-k / (E/2)), k < E/2, repeated over the Nv rows: [B, Nv, E]. */
function timeEmbedding(t: Int32Array, nv: number, e: number): Tensor<'float32'> {
  const half = e / 2;
  const out = new Float32Array(t.length * nv * e);
  t.forEach((tb, b) => {
    for (let k = 0; k < half; k++) {
      const w = Math.exp((-Math.log(10000) * k) / half);
      for (let r = 0; r < nv; r++) {
        out[(b * nv + r) * e + k] = Math.sin(tb * w);
        out[(b * nv + r) * e + half + k] = Math.cos(tb * w);
      }
    }
  });
  return tensor(out, [t.length, nv, e]);
}

/** Creates the tiny DEEM module (see the module comment). */
export function createTinyDeem(options: TinyDeemOptions = {}): TinyDeem {
  const o = checkOptions(OP, options, ['dim', 'hidden', 'cond', 'timeDim', 'seed', 'weightDecay', 'approximate']);
  const H = numberOpt(OP, 'hidden', o.hidden, 64, { integer: true, min: 1 });
  const C = numberOpt(OP, 'cond', o.cond, 16, { integer: true, min: 1 });
  const E = numberOpt(OP, 'timeDim', o.timeDim, 16, { integer: true, min: 2 });
  if (E % 2) fail('ERR_ARGUMENT', OP, `expected timeDim even but received ${E}`);
  const seed = numberOpt(OP, 'seed', o.seed, 0, { integer: true, min: 0 });
  const weightDecay = numberOpt(OP, 'weightDecay', o.weightDecay, 0, { min: 0 });
  const approximate = enumOpt(OP, 'approximate', o.approximate, ['none', 'tanh'] as const, 'none');
  const params = new Map<string, Tensor<'float32'>>();
  let grads = new Map<string, Tensor<'float32'>>();
  let moments: optim.AdamwState | undefined;
  let saved: Record<'xt' | 'x0' | 'e' | 'c' | 'h' | 'g' | 'eps', Tensor<'float32'>> | undefined;
  const w = (n: string) => params.get(n)!;

  const shapes = (D: number): [string, number[], number][] => [
    ['adapter.weight', [C, D], D], ['adapter.bias', [C], 0],
    ['fc1.x.weight', [H, D], D + E + C], ['fc1.t.weight', [H, E], D + E + C], ['fc1.c.weight', [H, C], D + E + C], ['fc1.bias', [H], 0],
    ['fc2.weight', [D, H], H], ['fc2.bias', [D], 0],
  ];
  const init = (D: number) => {
    shapes(D).forEach(([n, s, fanIn], i) => params.set(n, fanIn ? random.normal(s, { seed, offset: i, std: 1 / Math.sqrt(fanIn) }) : tensor(new Float32Array(s[0]!), s)));
    moments = optim.adamwState([...params.values()]);
  };
  const dim = () => w('adapter.weight').shape[1]!;
  if (o.dim !== undefined) init(numberOpt(OP, 'dim', o.dim, 1, { integer: true, min: 1 }));
  const dropSaved = () => {
    if (saved) for (const k of ['e', 'c', 'h', 'g', 'eps'] as const) saved[k].dispose(); // xt and x0 belong to the caller
    saved = undefined;
  };
  const dropGrads = () => {
    for (const g of grads.values()) g.dispose();
    grads = new Map();
  };

  return {
    params,
    get grads() {
      return grads;
    },
    denoiser(xt: Tensor, t: Int32Array, batch: DeemBatch): Tensor<'float32'> {
      const x0 = batch.x0;
      if (!params.size) init(x0.shape[x0.ndim - 1]!);
      if (x0.ndim !== 3 || x0.shape[2] !== dim()) fail('ERR_SHAPE', 'tinyDeem.denoiser', `expected x0 of shape [B, Nv, ${dim()}] but received [${x0.shape.join(', ')}]`);
      dropSaved();
      const c = ops.linear(x0, w('adapter.weight'), { bias: w('adapter.bias') });
      const e = timeEmbedding(t, x0.shape[1]!, E);
      const h = ops.linear(xt as Tensor<'float32'>, w('fc1.x.weight'), { bias: w('fc1.bias') });
      for (const [x, n] of [[e, 'fc1.t.weight'], [c, 'fc1.c.weight']] as const) {
        const part = ops.linear(x, w(n));
        ops.add(h, part, { out: h });
        part.dispose();
      }
      const g = ops.gelu(h, { approximate }) as Tensor<'float32'>;
      const eps = ops.linear(g, w('fc2.weight'), { bias: w('fc2.bias') });
      saved = { xt: xt as Tensor<'float32'>, x0, e, c, h, g, eps };
      return eps;
    },
    backward(gradEpsPred: Tensor): void {
      if (!saved) fail('ERR_ARGUMENT', 'tinyDeem.backward', 'expected a denoiser call before backward but received none');
      const s = saved;
      dropGrads();
      const out = ops.linearBackward(gradEpsPred as Tensor<'float32'>, s.g, w('fc2.weight'), { needBias: true });
      grads.set('fc2.weight', out.dWeight!).set('fc2.bias', out.dBias!);
      const dh = ops.geluBackward(out.dx!, s.h, { approximate });
      out.dx!.dispose();
      const x1 = ops.linearBackward(dh, s.xt, w('fc1.x.weight'), { needInput: false, needBias: true });
      const t1 = ops.linearBackward(dh, s.e, w('fc1.t.weight'), { needInput: false });
      const c1 = ops.linearBackward(dh, s.c, w('fc1.c.weight'));
      grads.set('fc1.x.weight', x1.dWeight!).set('fc1.bias', x1.dBias!).set('fc1.t.weight', t1.dWeight!).set('fc1.c.weight', c1.dWeight!);
      const a = ops.linearBackward(c1.dx!, s.x0, w('adapter.weight'), { needInput: false, needBias: true }); // the feedback into the encoder adapter
      grads.set('adapter.weight', a.dWeight!).set('adapter.bias', a.dBias!);
      for (const x of [dh, c1.dx!]) x.dispose();
      dropSaved();
    },
    step(lr: number, step: number): void {
      if (grads.size !== params.size) fail('ERR_ARGUMENT', 'tinyDeem.step', 'expected a backward call before step but received none');
      const names = [...params.keys()];
      optim.adamw(names.map((n) => params.get(n)!), names.map((n) => grads.get(n)!), moments!, { lr, step, weightDecay });
      dropGrads();
    },
    save(dir: string): void {
      if (!params.size) fail('ERR_ARGUMENT', 'tinyDeem.save', 'expected weights (after a batch or load) but received none');
      const names = [...params.keys()];
      saveSafetensors(path.join(dir, MODEL_FILE), names.map((n) => [n, params.get(n)!] as const));
      saveSafetensors(path.join(dir, OPT_FILE), names.flatMap((n, i) => [[`m/${n}`, moments!.m[i]!], [`v/${n}`, moments!.v[i]!]] as const));
    },
    load(dir: string): void {
      const model = loadSafetensors(path.join(dir, MODEL_FILE));
      const opt = loadSafetensors(path.join(dir, OPT_FILE));
      try {
        const aw = model.get('adapter.weight');
        if (!params.size) {
          if (!aw || aw.ndim !== 2) fail('ERR_FORMAT', 'tinyDeem.load', `expected 'adapter.weight' [${C}, Dv] in ${path.join(dir, MODEL_FILE)} but received ${aw ? `[${aw.shape.join(', ')}]` : 'none'}`);
          init(aw.shape[1]!);
        }
        const names = [...params.keys()];
        const copy = (file: string, from: Map<string, Tensor>, key: string, dst: Tensor) => {
          const src = from.get(key);
          if (!src || src.dtype !== 'float32' || src.shape.join() !== dst.shape.join())
            fail('ERR_FORMAT', 'tinyDeem.load', `expected '${key}' float32 [${dst.shape.join(', ')}] in ${path.join(dir, file)} but received ${src ? `${src.dtype} [${src.shape.join(', ')}]` : 'none'}`);
          (dst.data as Float32Array).set(src.data as Float32Array);
        };
        names.forEach((n, i) => {
          copy(MODEL_FILE, model, n, params.get(n)!);
          copy(OPT_FILE, opt, `m/${n}`, moments!.m[i]!);
          copy(OPT_FILE, opt, `v/${n}`, moments!.v[i]!);
        });
      } finally {
        for (const t of [...model.values(), ...opt.values()]) t.dispose();
      }
    },
    dispose(): void {
      dropSaved();
      dropGrads();
      for (const t of [...params.values(), ...(moments ? [...moments.m, ...moments.v] : [])]) t.dispose();
      params.clear();
      moments = undefined;
    },
  };
}

/**
 * The factory `mmpref train deem --denoiser` calls: createDeem({ seed, model }) -> a DeemModule;
 * here the tiny module with its default sizes (it loads no model: --model is an error).
 */
export function createDeem(options: { seed?: number; model?: string } = {}): TinyDeem {
  if (options.model !== undefined) fail('ERR_ARGUMENT', 'deem_example.createDeem', `expected no --model (the tiny DEEM module is made from the seed) but received '${options.model}'`);
  return createTinyDeem({ seed: options.seed ?? 0 });
}

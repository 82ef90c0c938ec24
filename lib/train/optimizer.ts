/**
 * train.AdamW: the optimizer object the training steps call — PyTorch's AdamW (optim.adamw) over a
 * named parameter set, with its moments, optional float32 master weights for half-precision
 * parameters, the step counter and optional global gradient clipping (optim.clipGradNorm) before
 * each update.
 */
import { fail } from '../errors';
import { adamw, adamwState, type AdamwState } from '../ops/adamw';
import { clipGradNorm } from '../ops/clip_grad_norm';
import type { Tensor } from '../tensor';
import { boolOpt, checkOptions, numberOpt } from '../validate';

export interface AdamWOptions {
  /** Learning rate (default 1e-3). */
  lr?: number;
  /** Default 0.9. */
  beta1?: number;
  /** Default 0.999. */
  beta2?: number;
  /** Default 1e-8. */
  eps?: number;
  /** Decoupled weight decay (default 0.01, as torch.optim.AdamW). */
  weightDecay?: number;
  /** Clip the global L2 norm of the gradients to this before each update (default: no clipping). */
  maxGradNorm?: number;
  /** Keep float32 master copies of float16/bfloat16 parameters (default true for them, ignored for float32). */
  masterWeights?: boolean;
}

export interface AdamWStepResult {
  /** Global L2 norm of the gradients before clipping (NaN when maxGradNorm is not set and it was not computed). */
  gradNorm: number;
  /** The step number just taken (1 for the first). */
  step: number;
}

const OPTS = ['lr', 'beta1', 'beta2', 'eps', 'weightDecay', 'maxGradNorm', 'masterWeights'] as const;

export class AdamW {
  /** The parameters it updates, by name (as model.parameters() / loraParameters() name them). */
  readonly params: ReadonlyMap<string, Tensor>;
  /** Moments (and master weights), in the order of `params`. */
  readonly state: AdamwState;
  /** Learning rate of the next step (a schedule may change it between steps). */
  lr: number;
  private readonly hp: { beta1: number; beta2: number; eps: number; weightDecay: number; maxGradNorm?: number };
  private steps = 0;

  /** params: [name, tensor] pairs, e.g. model.loraParameters() or model.parameters(). */
  constructor(params: Iterable<readonly [string, Tensor]>, options: AdamWOptions = {}) {
    const op = 'train.AdamW';
    const o = checkOptions(op, options, OPTS);
    const map = new Map<string, Tensor>();
    for (const [n, t] of params) {
      if (map.has(n)) fail('ERR_ARGUMENT', op, `expected each parameter name once but received '${n}' twice`);
      map.set(n, t);
    }
    if (map.size === 0) fail('ERR_ARGUMENT', op, 'expected at least one parameter but received none');
    this.params = map;
    this.lr = numberOpt(op, 'lr', o.lr, 1e-3, { min: 0 });
    this.hp = {
      beta1: numberOpt(op, 'beta1', o.beta1, 0.9, { min: 0, lt: 1 }),
      beta2: numberOpt(op, 'beta2', o.beta2, 0.999, { min: 0, lt: 1 }),
      eps: numberOpt(op, 'eps', o.eps, 1e-8, { min: 0 }),
      weightDecay: numberOpt(op, 'weightDecay', o.weightDecay, 0.01, { min: 0 }),
      ...(o.maxGradNorm !== undefined ? { maxGradNorm: numberOpt(op, 'maxGradNorm', o.maxGradNorm, 1, { gt: 0 }) } : {}),
    };
    const half = [...map.values()].some((t) => t.dtype !== 'float32');
    const master = half && boolOpt(op, 'masterWeights', o.masterWeights, true);
    this.state = adamwState([...map.values()], { masterWeights: master });
  }

  /** Steps taken so far. */
  get step(): number {
    return this.steps;
  }

  /**
   * One update from float32 gradients by name (every parameter needs one; extra names are an
   * error). With maxGradNorm the gradients are scaled in place first.
   */
  update(grads: ReadonlyMap<string, Tensor>): AdamWStepResult {
    const op = 'train.AdamW.update';
    for (const n of grads.keys()) if (!this.params.has(n)) fail('ERR_ARGUMENT', op, `expected gradients of the optimizer's parameters but received '${n}'`);
    const g: Tensor[] = [];
    for (const n of this.params.keys()) {
      const t = grads.get(n);
      if (!t) fail('ERR_ARGUMENT', op, `expected a gradient for '${n}' but received none`);
      g.push(t);
    }
    const gradNorm = this.hp.maxGradNorm !== undefined ? clipGradNorm(g, this.hp.maxGradNorm) : NaN;
    const step = this.steps + 1;
    adamw([...this.params.values()], g, this.state, { lr: this.lr, beta1: this.hp.beta1, beta2: this.hp.beta2, eps: this.hp.eps, weightDecay: this.hp.weightDecay, step });
    this.steps = step;
    return { gradNorm, step };
  }

  /** @internal Sets the step counter (resuming from a checkpoint: lib/recipes/state.ts). */
  _setStep(step: number): void {
    if (!Number.isInteger(step) || step < 0) fail('ERR_ARGUMENT', 'train.AdamW', `expected a non-negative integer step but received ${step}`);
    this.steps = step;
  }

  /** Frees the moments and master weights. */
  dispose(): void {
    for (const t of [...this.state.m, ...this.state.v, ...(this.state.master ?? [])]) t.dispose();
  }
}

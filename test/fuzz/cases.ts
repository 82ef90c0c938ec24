/**
 * Fuzz cases: case i of seed S picks an op (ops.ts), builds its valid call and breaks ONE thing
 * (a "kind"): wrong dtypes, lying shapes and storages, bad dims, detached / resized buffers,
 * out-of-range indices, aliasing outs, getters, wrong option types, unknown options, wrong
 * arguments, raw-binding garbage (the args the public op passed to the addon, recorded, then
 * mutated), and races (transfer during Async, SharedArrayBuffer writers, worker termination).
 * Deterministic from (seed, i). Runs in a child process (child.ts) so a crash is counted.
 */
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { DTYPES, MmprefError, Tensor, tensor } from '../../lib';
import { native } from '../../lib/native';
import { RawTensor } from '../helpers';
import { OPS, type Built, type OpSpec, type Path } from './ops';
import { caseKey, makeRng, RACE_SHARE, type Rng } from './rng';

/** thrown by the harness's own getters: passing it through is the expected behaviour */
export class FuzzUserError extends Error {
  override name = 'FuzzUserError';
}

export interface Case {
  index: number;
  op: string;
  kind: string;
  detail: string;
  run(): unknown;
  /** the child process should not run further cases after this one (see Mutation.risky) */
  risky: boolean;
}

// ---- paths and tensors ------------------------------------------------------------------------

const get = (args: unknown[], p: Path): unknown => p.reduce<unknown>((o, k) => (o as Record<string | number, unknown>)[k], args);
function set(args: unknown[], p: Path, v: unknown): void {
  const parent = get(args, p.slice(0, -1)) as Record<string | number, unknown>;
  parent[p[p.length - 1]!] = v;
}
const isT = (v: unknown): v is Tensor => v instanceof Tensor;
type Store = Float32Array | Int32Array | Uint16Array | Uint8Array | BigInt64Array;
const storeOf = (t: Tensor) => t._store as Store;
const ctorOf = (s: Store) => s.constructor as { new (b: ArrayBufferLike, o?: number, n?: number): Store; new (n: number): Store; BYTES_PER_ELEMENT: number };
/** a tensor object exactly as given, bypassing every constructor check */
const raw = (store: unknown, shape: unknown, dtype: unknown): Tensor => {
  const t = new RawTensor(store as Store, [], dtype as 'float32', -1);
  Object.defineProperty(t, 'shape', { value: shape, writable: true, configurable: true, enumerable: true });
  return t;
};
type Resizable = ArrayBuffer & { resize(n: number): void };
const resizable = (n: number, max: number): Resizable => new (ArrayBuffer as unknown as new (n: number, o: { maxByteLength: number }) => Resizable)(n, { maxByteLength: max });
/** full gc, or a cheap young-generation one (frees a just-transferred buffer's clone all the same) */
const gc = (minor = false): void => (globalThis as { gc?: (o?: object) => void }).gc?.(minor ? { type: 'minor' } : undefined);

export const DETACH_WAYS = ['structuredClone', 'postMessage', 'transfer'] as const;
/** detaches an ArrayBuffer (a SharedArrayBuffer cannot be); returns false when it could not */
export function detach(buf: ArrayBufferLike, how: (typeof DETACH_WAYS)[number]): boolean {
  if (buf instanceof SharedArrayBuffer) return false;
  try {
    const b = buf as ArrayBuffer & { transfer?: () => ArrayBuffer };
    if (how === 'transfer' && typeof b.transfer === 'function') b.transfer();
    else if (how === 'postMessage') {
      const { port1, port2 } = new MessageChannel();
      port1.postMessage(b, [b]);
      port1.close();
      port2.close();
    } else structuredClone(b, { transfer: [b] });
  } catch {
    return false;
  }
  gc(true);
  return true;
}

// (no 2^31 or 2^32 here: a shape argument of 2^32 elements is a valid 16 GiB request that gets filled)
const BAD_DIMS: unknown[] = [-1, -7, NaN, 1.5, Infinity, -Infinity, 2 ** 33 + 1, 2 ** 53, 2 ** 64, 1e308, -(2 ** 31), 3n, '3', null, undefined, {}, true];
const BAD_VALUES: unknown[] = [null, 'x', '1', 1e308, -1, 0, NaN, Infinity, -Infinity, 1.5, 2 ** 31, 2 ** 53, -(2 ** 53), 1e9, 5n, -1n, {}, [], [1, 2], true, Symbol('s'), () => 1, new Float32Array(3), { type: 'float32', data: [1], dims: [7] }];
const BAD_ARGS: unknown[] = [null, undefined, 0, 'x', {}, [], [[1, 2], [3]], Symbol('s'), new Float32Array(4), { type: 'int8', data: new Int8Array(2), dims: [2] }, { type: 'float32', data: new Float32Array(2), dims: [5] }, { type: 'float32', data: null, dims: [1] }, Object.create(null)];

function slotsWithTensors(b: Built, roles?: readonly string[]) {
  return b.slots.filter((s) => isT(safeGet(b.args, s.path)) && (!roles || roles.includes(s.role)));
}
function safeGet(args: unknown[], p: Path): unknown {
  try {
    return get(args, p);
  } catch {
    return undefined;
  }
}

// ---- mutators -----------------------------------------------------------------------------------

interface Mutation {
  detail: string;
  /** replaces the default "call the op" */
  run?: () => unknown;
  /** use the Async form (default: random when the op has one) */
  async?: boolean;
  /** replaces the kind's name (raw-<variant>) */
  kind?: string;
  /** may leave the heap damaged on today's code (frees memory an op is using): the child restarts after it */
  risky?: boolean;
}
type Kind = { name: string; weight: number; applies(b: Built, s: OpSpec): boolean; apply(r: Rng, b: Built, s: OpSpec): Mutation };

function otherDtype(r: Rng, d: string): string {
  const ds = DTYPES.filter((x) => x !== d);
  return r.pick(ds);
}
function lyingShape(r: Rng, shape: readonly number[]): number[] {
  const s = [...shape];
  const v = r.int(0, 5);
  if (v === 0 && s.length) s[r.int(0, s.length - 1)]! += r.int(1, 3); // storage shorter than shape
  else if (v === 1 && s.length) s[r.int(0, s.length - 1)] = Math.max(0, s[r.int(0, s.length - 1)]! - 1);
  else if (v === 2) s.push(r.int(2, 3)); // extra dim, product grows
  else if (v === 3 && s.length) s.pop();
  else if (v === 4 && s.length) s[r.int(0, s.length - 1)] = r.pick([2 ** 20, 2 ** 33, 2 ** 40, 2 ** 52]);
  else s.unshift(0);
  return s;
}

const KINDS: Kind[] = [
  { name: 'valid', weight: 2, applies: () => true, apply: () => ({ detail: 'the valid call' }) },
  {
    name: 'dtype',
    weight: 6,
    applies: (b) => slotsWithTensors(b).length > 0,
    apply(r, b) {
      const sl = r.pick(slotsWithTensors(b));
      const t = get(b.args, sl.path) as Tensor;
      const d = otherDtype(r, t.dtype);
      if (r.bool()) {
        // a proper tensor of another dtype
        set(b.args, sl.path, tensor(new Float32Array(t.numel), [...t.shape], { dtype: d as 'float32' }));
        return { detail: `${sl.path.join('.')} as ${d}` };
      }
      // dtype label that does not match the storage
      set(b.args, sl.path, raw(storeOf(t), [...t.shape], d));
      return { detail: `${sl.path.join('.')} labelled ${d} over a ${storeOf(t).constructor.name}` };
    },
  },
  {
    name: 'lying-shape',
    weight: 7,
    applies: (b) => slotsWithTensors(b).length > 0,
    apply(r, b) {
      const sl = r.pick(slotsWithTensors(b));
      const t = get(b.args, sl.path) as Tensor;
      const shape = lyingShape(r, t.shape);
      if (r.bool(0.3)) {
        // same shape, storage cut short
        const st = storeOf(t);
        set(b.args, sl.path, raw(st.subarray(0, Math.max(0, st.length - r.int(1, 3))), [...t.shape], t.dtype));
        return { detail: `${sl.path.join('.')} [${t.shape}] over a short storage` };
      }
      set(b.args, sl.path, raw(storeOf(t), shape, t.dtype));
      return { detail: `${sl.path.join('.')} claims [${shape}] over ${storeOf(t).length} elements` };
    },
  },
  {
    name: 'bad-dims',
    weight: 5,
    applies: (b) => slotsWithTensors(b).length > 0 || b.args.some((a) => Array.isArray(a) && a.length > 0 && a.every((x) => typeof x === 'number')),
    apply(r, b) {
      const shapeArgs = b.args.map((a, i) => (Array.isArray(a) && a.length && a.every((x) => typeof x === 'number') ? i : -1)).filter((i) => i >= 0);
      if (shapeArgs.length && (r.bool(0.4) || !slotsWithTensors(b).length)) {
        const i = r.pick(shapeArgs);
        const a = [...(b.args[i] as number[])] as unknown[];
        const v = r.bool(0.15) ? r.pick<unknown>([null, 'ab', { length: 3 }, new Array(100).fill(1), [2 ** 31, 2 ** 31, 2 ** 31], []]) : ((a[r.int(0, a.length - 1)] = r.pick(BAD_DIMS)), a);
        b.args[i] = v;
        return { detail: `argument ${i} = ${show(v)}` };
      }
      const sl = r.pick(slotsWithTensors(b));
      const t = get(b.args, sl.path) as Tensor;
      const s = [...t.shape] as unknown[];
      let shape: unknown = s;
      if (r.bool(0.15)) shape = r.pick<unknown>([null, 7, 'abc', { length: 2, 0: 1, 1: 1 }, new Int32Array(t.shape), new Array(64).fill(1)]);
      else if (s.length) s[r.int(0, s.length - 1)] = r.pick(BAD_DIMS);
      else s.push(r.pick(BAD_DIMS));
      set(b.args, sl.path, raw(storeOf(t), shape, t.dtype));
      return { detail: `${sl.path.join('.')} shape ${show(shape)}` };
    },
  },
  {
    name: 'detached',
    weight: 5,
    applies: (b) => slotsWithTensors(b).length > 0,
    apply(r, b) {
      const sl = r.pick(slotsWithTensors(b));
      const t = get(b.args, sl.path) as Tensor;
      const how = r.pick(DETACH_WAYS);
      detach(storeOf(t).buffer, how);
      return { detail: `${sl.path.join('.')} detached (${how}) before the call` };
    },
  },
  {
    name: 'resized',
    weight: 4,
    applies: (b) => slotsWithTensors(b).length > 0,
    apply(r, b) {
      const sl = r.pick(slotsWithTensors(b));
      const t = get(b.args, sl.path) as Tensor;
      const st = storeOf(t);
      const C = ctorOf(st);
      const bytes = st.byteLength;
      const ab = resizable(bytes, bytes * 2 + 64);
      const tracking = r.bool();
      const view = tracking ? new C(ab) : new C(ab, 0, st.length);
      (view as Float32Array).set(st as Float32Array);
      const to = r.pick([0, Math.floor(bytes / 2 / C.BYTES_PER_ELEMENT) * C.BYTES_PER_ELEMENT, bytes * 2]);
      const when = r.pick(['before', 'getter'] as const);
      const nt = raw(view, [...t.shape], t.dtype);
      if (when === 'before') ab.resize(to);
      else {
        let reads = 0;
        const n = r.int(1, 4);
        const shape = [...t.shape];
        Object.defineProperty(nt, 'shape', { get: () => (++reads === n && ab.resize(to), shape), configurable: true, enumerable: true });
      }
      set(b.args, sl.path, nt);
      return { detail: `${sl.path.join('.')} on a resizable ArrayBuffer (${tracking ? 'length-tracking' : 'fixed'} view) resized ${bytes} -> ${to} bytes ${when === 'before' ? 'before the call' : 'by its shape getter'}` };
    },
  },
  {
    name: 'oob-index',
    weight: 7,
    applies: (b) => slotsWithTensors(b, ['index']).length > 0,
    apply(r, b) {
      const sl = r.pick(slotsWithTensors(b, ['index']));
      const t = get(b.args, sl.path) as Tensor;
      const lo = sl.lo ?? 0, hi = sl.hi ?? 1;
      if (t.dtype === 'int32') {
        const d = Int32Array.from(t.data as Int32Array);
        const bad = [lo - 1, hi, hi + 1000, 2 ** 31 - 1, -(2 ** 31), -100];
        if (String(sl.path).includes('cuSeqlens') && r.bool()) {
          const v = r.int(0, 2);
          if (v === 0) d.reverse(); // decreasing
          else if (v === 1) d[0] = r.pick([1, -5]);
          else d[d.length - 1] = r.pick([hi + 5, 2 ** 31 - 1]);
        } else for (let k = r.int(1, Math.max(1, d.length)); k > 0; k--) d[r.int(0, d.length - 1)] = r.pick(bad);
        set(b.args, sl.path, tensor(d, [...t.shape]));
        return { detail: `${sl.path.join('.')} = [${Array.from(d)}] (valid [${lo}, ${hi}))` };
      }
      return { detail: 'no int32 index' };
    },
  },
  {
    name: 'alias',
    weight: 7,
    applies: (b) => slotsWithTensors(b, ['out']).length > 0 || (!!b.outKey && !!b.opts && slotsWithTensors(b, ['in', 'index']).length > 0),
    apply(r, b) {
      const ins = slotsWithTensors(b, ['in', 'index']);
      const outs = slotsWithTensors(b, ['out']);
      if (!ins.length) return { detail: 'no input to alias' };
      const inS = r.pick(ins);
      const A = get(b.args, inS.path) as Tensor;
      let outPath: Path;
      let O: Tensor;
      if (outs.length) {
        outPath = r.pick(outs).path;
        O = get(b.args, outPath) as Tensor;
      } else {
        outPath = [...b.opts!, b.outKey!];
        O = A;
      }
      if (r.bool(0.3) && A.dtype === O.dtype && A.numel === O.numel) {
        set(b.args, outPath, raw(storeOf(A), [...O.shape], O.dtype));
        return { detail: `${outPath.join('.')} = the memory of ${inS.path.join('.')} (exact)` };
      }
      // one buffer: A at 0, O at a byte offset that overlaps A partially (or starts inside it)
      const sa = storeOf(A), so = storeOf(O);
      const CA = ctorOf(sa), CO = ctorOf(so);
      const isz = CO.BYTES_PER_ELEMENT;
      const maxK = Math.max(1, Math.floor(sa.byteLength / isz));
      const k = Math.min(r.int(r.bool(0.2) ? 0 : 1, Math.max(1, maxK - 1)), Math.floor(sa.byteLength / isz));
      const off = k * isz;
      const lcm = Math.max(CA.BYTES_PER_ELEMENT, isz);
      const bytes = Math.ceil(Math.max(sa.byteLength, off + so.byteLength) / lcm) * lcm;
      const buf = new ArrayBuffer(bytes);
      const na = new CA(buf, 0, sa.length);
      (na as Float32Array).set(sa as Float32Array);
      set(b.args, inS.path, raw(na, [...A.shape], A.dtype));
      set(b.args, outPath, raw(new CO(buf, off, so.length), [...O.shape], O.dtype));
      return { detail: `${outPath.join('.')} overlaps ${inS.path.join('.')} from element ${k} of ${so.length} (${so.byteLength} of ${sa.byteLength} bytes)` };
    },
  },
  {
    name: 'getter-throw',
    weight: 2,
    applies: (b) => !!b.opts && typeof safeGet(b.args, b.opts) === 'object',
    apply(r, b) {
      const o = get(b.args, b.opts!) as Record<string, unknown>;
      const key = r.pick([...b.optKeys, ...Object.keys(o)]);
      Object.defineProperty(o, key, { get: () => { throw new FuzzUserError(`getter ${key}`); }, enumerable: true, configurable: true });
      return { detail: `option ${key} is a throwing getter` };
    },
  },
  {
    name: 'getter-detach',
    weight: 6,
    applies: (b) => slotsWithTensors(b).length > 0,
    apply(r, b) {
      const all = slotsWithTensors(b);
      const victim = r.pick(all);
      const vt = get(b.args, victim.path) as Tensor;
      const how = r.pick(DETACH_WAYS);
      const n = r.int(1, 6);
      let reads = 0;
      const hit = () => {
        if (++reads === n) detach(storeOf(vt).buffer, how);
      };
      const o = b.opts ? (safeGet(b.args, b.opts) as Record<string, unknown> | undefined) : undefined;
      if (o && typeof o === 'object' && r.bool(0.4)) {
        const key = r.pick([...b.optKeys, ...Object.keys(o)]);
        const had = key in o;
        const val = o[key];
        Object.defineProperty(o, key, { get: () => (hit(), val), enumerable: had || r.bool(), configurable: true });
        return { detail: `option ${key}'s getter detaches ${victim.path.join('.')} (${how}) on read ${n}` };
      }
      const host = r.pick(all);
      const ht = get(b.args, host.path) as Tensor;
      const prop = r.pick(['shape', '_store', '_code', '_device', 'dtype'] as const);
      const val = (ht as unknown as Record<string, unknown>)[prop];
      Object.defineProperty(ht, prop, { get: () => (hit(), val), enumerable: true, configurable: true });
      return { detail: `${host.path.join('.')}.${prop} getter detaches ${victim.path.join('.')} (${how}) on read ${n}` };
    },
  },
  {
    name: 'wrong-option-type',
    weight: 6,
    applies: (b) => !!b.opts && b.optKeys.length > 0 && typeof safeGet(b.args, b.opts) === 'object',
    apply(r, b) {
      const o = get(b.args, b.opts!) as Record<string, unknown>;
      const key = r.pick(b.optKeys);
      const v = r.pick(BAD_VALUES);
      o[key] = v;
      return { detail: `option ${key} = ${show(v)}` };
    },
  },
  {
    name: 'unknown-option',
    weight: 1.5,
    applies: (b) => !!b.opts && typeof safeGet(b.args, b.opts) === 'object',
    apply(r, b) {
      const o = get(b.args, b.opts!) as Record<string, unknown>;
      const key = r.pick(['outt', 'inplace', 'dtype', 'device', '__proto__x', 'constructor', 'toString']);
      o[key] = r.pick(BAD_VALUES);
      return { detail: `unknown option ${key}` };
    },
  },
  {
    name: 'wrong-arg',
    weight: 5,
    applies: () => true,
    apply(r, b) {
      const i = r.int(0, b.args.length - 1);
      const v = r.bool(0.1) ? Symbol.for('drop') : r.pick(BAD_ARGS);
      if (v === Symbol.for('drop')) {
        b.args.length = i;
        return { detail: `only ${i} arguments` };
      }
      b.args[i] = v;
      return { detail: `argument ${i} = ${show(v)}` };
    },
  },
  {
    name: 'raw',
    weight: 18,
    applies: () => true,
    apply(r, b, s) {
      const calls = recordNative(() => s.call(b.args, false));
      if (!calls.length) return { detail: 'no native call recorded', run: () => undefined };
      const c = r.pick(calls);
      return { ...mutateRaw(r, c.name, c.args), async: false };
    },
  },
  {
    name: 'race-transfer',
    weight: 1.5,
    applies: (b, s) => s.hasAsync && slotsWithTensors(b).length > 0,
    apply(r, b, s) {
      const sl = r.pick(slotsWithTensors(b));
      const t = get(b.args, sl.path) as Tensor;
      const how = r.pick(DETACH_WAYS);
      const delay = r.pick([0, 0, 1]);
      return {
        detail: `${sl.path.join('.')} detached (${how}) ${delay ? 'after a microtask' : 'right after'} the Async call, then gc`,
        async run() {
          const p = Promise.resolve(s.call(b.args, true));
          p.catch(() => undefined);
          if (delay) await Promise.resolve();
          detach(storeOf(t).buffer, how);
          gc();
          await p;
        },
      };
    },
  },
  {
    name: 'race-sab',
    weight: 1.2,
    applies: (b) => slotsWithTensors(b, ['index']).some((x) => (get(b.args, x.path) as Tensor).dtype === 'int32'),
    apply(r, b, s) {
      const sl = r.pick(slotsWithTensors(b, ['index']).filter((x) => (get(b.args, x.path) as Tensor).dtype === 'int32'));
      const t = get(b.args, sl.path) as Tensor;
      const sab = new SharedArrayBuffer(t.numel * 4 + 4);
      const view = new Int32Array(sab, 0, t.numel);
      view.set(t.data as Int32Array);
      set(b.args, sl.path, tensor(view, [...t.shape]));
      const reps = r.int(2, 4);
      const lo = (sl.lo ?? 0) - 3, hi = (sl.hi ?? 1) + 3;
      return {
        detail: `${sl.path.join('.')} in a SharedArrayBuffer rewritten by a worker in [${lo}, ${hi}] and at +-2^31 during ${reps} sync + Async calls`,
        async run() {
          const flag = new Int32Array(sab, t.numel * 4, 1);
          const w = new Worker(
            `const { workerData: { sab, n, lo, hi } } = require('node:worker_threads');
             const v = new Int32Array(sab, 0, n), flag = new Int32Array(sab, n * 4, 1);
             let x = 12345;
             while (Atomics.load(flag, 0) === 0) {
               x = (x * 1103515245 + 12345) >>> 0;
               const i = x % n;
               v[i] = (x & 1024) ? lo + (x >>> 11) % (hi - lo + 1) : ((x & 2048) ? 2147483647 : -2147483648);
             }`,
            { eval: true, workerData: { sab, n: t.numel, lo, hi } },
          );
          try {
            await new Promise<void>((res) => w.once('online', () => res()));
            let err: unknown;
            for (let k = 0; k < reps; k++) {
              try {
                const res = s.call(b.args, s.hasAsync && k % 2 === 1);
                await res;
              } catch (e) {
                err ??= e;
              }
            }
            if (err !== undefined) throw err;
          } finally {
            Atomics.store(flag, 0, 1);
            await w.terminate();
          }
        },
      };
    },
  },
  {
    name: 'race-terminate',
    weight: 0.5,
    applies: (_b, s) => s.hasAsync,
    apply(r, _b, s) {
      const delay = r.pick([0, 0, 1, 3]);
      const calls = r.int(1, 6);
      return {
        detail: `a worker runs ${calls} ${s.name}Async calls and is terminated ${delay} ms after they start`,
        async run() {
          const w = new Worker(path.join(__dirname, 'worker.js'), { workerData: { op: s.name, seed: Math.floor(r() * 2 ** 31), calls } });
          const exited = new Promise<void>((res) => w.once('exit', () => res()));
          w.on('error', () => undefined);
          await new Promise<void>((res) => {
            w.once('message', () => res());
            w.once('exit', () => res());
          });
          if (delay) await new Promise((res) => setTimeout(res, delay));
          await w.terminate();
          await exited;
        },
      };
    },
  },
];

// ---- raw binding ------------------------------------------------------------------------------

const NOT_OPS = new Set(['init', 'backendInfo', 'numThreads', 'setNumThreads', 'deviceFree', 'deviceAlloc', 'copyHostToDevice', 'copyDeviceToHost', 'copyDeviceToDevice', 'deviceMemset', 'deviceMemInfo', 'deviceEmptyCache']);
let recorder: { name: string; args: unknown[] }[] | null = null;
let patched = false;
function patchNative(): void {
  if (patched) return;
  patched = true;
  const n = native as unknown as Record<string, unknown>;
  for (const k of Object.keys(n)) {
    const f = n[k];
    if (typeof f !== 'function' || NOT_OPS.has(k)) continue;
    try {
      n[k] = function (this: unknown, ...a: unknown[]) {
        // snapshot tensors now: temporaries are disposed when the op returns
        recorder?.push({ name: k, args: a.map((x) => (isT(x) ? plain(x) : x)) });
        return (f as (...x: unknown[]) => unknown).apply(this, a);
      };
    } catch {
      /* frozen: no raw cases */
    }
  }
}
/** the native op calls made by fn (sync), with their arguments */
export function recordNative(fn: () => unknown): { name: string; args: unknown[] }[] {
  patchNative();
  const got: { name: string; args: unknown[] }[] = [];
  recorder = got;
  try {
    fn();
  } catch {
    /* the valid call failed: nothing more to learn */
  } finally {
    recorder = null;
  }
  return got;
}

const plain = (t: Tensor): Record<string, unknown> => ({ ...(t as unknown as Record<string, unknown>) });

function mutateRaw(r: Rng, name: string, args0: unknown[]): Mutation {
  const args = args0.map((a) => (a && typeof a === 'object' && '_store' in a ? { ...(a as object) } : a));
  const tIdx = args.map((a, i) => (a && typeof a === 'object' && ArrayBuffer.isView((a as Record<string, unknown>)._store) ? i : -1)).filter((i) => i >= 0);
  const sIdx = args.map((a, i) => (i < args.length - 1 && !(a && typeof a === 'object') ? i : -1)).filter((i) => i >= 0);
  const fn = (native as unknown as Record<string, (...a: unknown[]) => unknown>)[name]!;
  const variants = ['code', 'shape', 'store', 'device', 'scalar', 'null', 'argc', 'getter-free', 'async-flag', 'alias'];
  const weights = [1, 1, 1, 1, 1, 1, 1, 0.5, 1, 1];
  let v = variants[r.weighted(weights)]!;
  if (!tIdx.length && v !== 'argc' && v !== 'async-flag' && v !== 'scalar') v = 'argc';
  if (v === 'scalar' && !sIdx.length) v = 'async-flag';
  const async = r.bool(0.3);
  if (typeof args[args.length - 1] === 'boolean') args[args.length - 1] = async;
  let detail: string;
  const T = (i: number) => args[i] as Record<string, unknown>;
  switch (v) {
    case 'code': {
      const i = r.pick(tIdx);
      T(i)._code = r.pick([-1, 7, 99, 2 ** 31, 1.5, NaN, '0', null, undefined, 0, 1, 2, 3, 4, 5, 6]);
      detail = `arg ${i}._code = ${show(T(i)._code)}`;
      break;
    }
    case 'shape': {
      const i = r.pick(tIdx);
      const sh = T(i).shape as number[];
      const choice = r.int(0, 3);
      T(i).shape =
        choice === 0 ? lyingShape(r, sh)
        : choice === 1 ? (sh.length ? sh.map((d, k) => (k === r.int(0, sh.length - 1) ? r.pick(BAD_DIMS) : d)) : [r.pick(BAD_DIMS)])
        : choice === 2 ? r.pick<unknown>([null, 5, 'ab', { length: 3 }, new Array(40).fill(1), [2 ** 62, 4], [2 ** 31, 2 ** 31, 2 ** 31], [2 ** 21, 2 ** 21, 2 ** 21, 2 ** 21], [-1, -1]])
        : [...sh].reverse();
      detail = `arg ${i}.shape = ${show(T(i).shape)}`;
      break;
    }
    case 'store': {
      const i = r.pick(tIdx);
      const st = T(i)._store as Store;
      const n = st?.length ?? 4;
      const choice = r.int(0, 6);
      let ns: unknown;
      if (choice === 0) ns = r.pick([new Float32Array(n), new Int32Array(n), new Uint16Array(n), new Uint8Array(n), new BigInt64Array(n), new Float64Array(n), new Int8Array(n)]);
      else if (choice === 1) ns = st.subarray(0, Math.max(0, n - r.int(1, 4)));
      else if (choice === 2) {
        ns = st;
        detach(st.buffer, r.pick(DETACH_WAYS));
      } else if (choice === 3) ns = r.pick<unknown>([null, undefined, 5, 'abc', [1, 2, 3], {}, new ArrayBuffer(n * 4), new DataView(new ArrayBuffer(n * 4))]);
      else if (choice === 4) ns = new (ctorOf(st))(new SharedArrayBuffer(st.byteLength), 0, n);
      else if (choice === 5) {
        const ab = resizable(st.byteLength, st.byteLength * 2 + 8);
        ns = new (ctorOf(st))(ab);
        ab.resize(0);
      } else ns = new (ctorOf(st))(st.buffer, 0, 0);
      T(i)._store = ns;
      detail = `arg ${i}._store = ${show(ns)}`;
      break;
    }
    case 'device': {
      const i = r.pick(tIdx);
      T(i)._device = r.pick([0, 1, 3, NaN, -2, 1e9, '0', null, undefined, 0.5]);
      detail = `arg ${i}._device = ${show(T(i)._device)}`;
      break;
    }
    case 'scalar': {
      const i = r.pick(sIdx);
      args[i] = r.pick([NaN, Infinity, -Infinity, -1, 2 ** 31, 2 ** 53, 2 ** 64, -(2 ** 63), 1.5, 5n, -1n, 2n ** 64n, 'x', {}, null, undefined, true]);
      detail = `arg ${i} = ${show(args[i])}`;
      break;
    }
    case 'null': {
      const i = r.pick(tIdx);
      args[i] = r.pick([null, undefined, {}, 5, 'x', new Float32Array(4), []]);
      detail = `arg ${i} = ${show(args[i])}`;
      break;
    }
    case 'argc': {
      const k = r.pick([0, 1, Math.max(0, args.length - 1), args.length + 1, args.length + 3]);
      while (args.length < k) args.push(r.pick([null, 1, true]));
      args.length = k;
      detail = `${k} arguments`;
      break;
    }
    case 'getter-free': {
      const i = r.pick(tIdx);
      const laters = tIdx.filter((j) => j !== i);
      const j = laters.length ? r.pick(laters) : i;
      const victim = T(i)._store as Store;
      const prop = r.pick(['shape', '_store', '_code', '_device']);
      const val = T(j)[prop];
      const how = r.pick(DETACH_WAYS);
      const n = r.int(1, 2);
      let reads = 0;
      Object.defineProperty(T(j), prop, { get: () => (++reads === n && victim && detach(victim.buffer, how), val), enumerable: true, configurable: true });
      detail = `arg ${j}.${prop} getter detaches arg ${i}'s buffer (${how}) on read ${n}`;
      break;
    }
    case 'async-flag': {
      args[args.length - 1] = r.pick(['yes', 1, 0, null, {}, undefined]);
      detail = `async flag = ${show(args[args.length - 1])}`;
      break;
    }
    default: {
      // alias: one tensor's store replaced by another's (exact or shifted)
      const i = r.pick(tIdx);
      const others = tIdx.filter((j) => j !== i);
      if (!others.length) {
        detail = 'alias: one tensor only';
        break;
      }
      const j = r.pick(others);
      const src = T(j)._store as Store;
      const dst = T(i)._store as Store;
      const C = ctorOf(dst);
      const k = r.int(0, 3);
      const avail = Math.floor((src.byteLength - k * C.BYTES_PER_ELEMENT) / C.BYTES_PER_ELEMENT);
      try {
        T(i)._store = new C(src.buffer, src.byteOffset + k * C.BYTES_PER_ELEMENT, Math.max(0, Math.min(dst.length, avail)));
      } catch {
        T(i)._store = new C(src.buffer, 0, Math.min(dst.length, Math.floor(src.buffer.byteLength / C.BYTES_PER_ELEMENT)));
      }
      detail = `arg ${i}'s storage = arg ${j}'s memory shifted by ${k} elements`;
    }
  }
  return { detail: `native.${name}: ${detail}${async ? ' (async)' : ''}`, run: () => fn.apply(native, args), kind: `raw-${v}`, risky: v === 'getter-free' };
}

function show(v: unknown): string {
  if (typeof v === 'bigint') return `${v}n`;
  if (typeof v === 'symbol') return v.toString();
  if (typeof v === 'function') return 'a function';
  if (v === undefined) return 'undefined';
  if (ArrayBuffer.isView(v)) return `${v.constructor.name}(${(v as unknown as ArrayLike<number>).length ?? '?'})`;
  if (v instanceof ArrayBuffer) return `ArrayBuffer(${v.byteLength})`;
  try {
    const s = JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? `${x}n` : x));
    return s === undefined ? String(v) : s.length > 80 ? s.slice(0, 77) + '...' : s;
  } catch {
    return String(v);
  }
}

// ---- building and running ---------------------------------------------------------------------

export const KIND_NAMES = KINDS.map((k) => k.name);

/** Case `index` of `seed`; `only` restricts the ops or kinds drawn from (names). */
export function buildCase(seed: number, index: number, only?: { ops?: string[]; kinds?: string[] }): Case {
  const r = makeRng(caseKey(seed, index));
  const ops = only?.ops?.length ? OPS.filter((o) => only.ops!.includes(o.name)) : OPS;
  // draws 1 and 2 are mirrored by isRace() in rng.ts
  const spec = r.pick(ops);
  const race = r.bool(RACE_SHARE);
  const kinds = KINDS.filter((k) => !only?.kinds?.length || only.kinds.includes(k.name));
  const scale = race ? 24 : 1;
  const b = spec.build(r, scale);
  const applicable = kinds.filter((k) => k.applies(b, spec) && (race ? k.name.startsWith('race-') : !k.name.startsWith('race-')));
  const pool = applicable.length ? applicable : kinds.filter((k) => k.applies(b, spec));
  const kind = pool.length ? pool[r.weighted(pool.map((k) => k.weight))]! : KINDS[0]!;
  const m = kind.apply(r, b, spec);
  const async = m.async ?? (spec.hasAsync && r.bool(0.4));
  return {
    index,
    op: spec.name,
    kind: m.kind ?? kind.name,
    risky: !!m.risky,
    detail: `${m.detail}${!m.run && async ? ' [Async]' : ''}`,
    run: m.run ?? (() => spec.call(b.args, async)),
  };
}

export type Outcome = string;
/** 'ok', 'mmpref:<code>', 'user' (the harness's own getter error passed through) or 'throw:<what>' */
export async function outcomeOf(run: () => unknown): Promise<Outcome> {
  try {
    await run();
    return 'ok';
  } catch (e) {
    if (e instanceof MmprefError) return `mmpref:${e.code}`;
    if (e instanceof FuzzUserError) return 'user';
    const name = e instanceof Error ? e.constructor.name : typeof e;
    const msg = e instanceof Error ? e.message : String(e);
    return `throw:${name}: ${msg.replace(/\s+/g, ' ').slice(0, 160)}`;
  }
}

/** Runs cases one after another in this process (used by reproducer scripts). */
export async function runList(seed: number, indices: number[], only?: { ops?: string[]; kinds?: string[] }): Promise<string[]> {
  const res: string[] = [];
  for (const i of indices) {
    const c = buildCase(seed, i, only);
    console.log(`case ${i}: ${c.op} ${c.kind}: ${c.detail}`);
    const o = await outcomeOf(c.run);
    console.log(`  -> ${o}`);
    res.push(o);
  }
  return res;
}

/** race-terminate helper: starts `calls` Async calls of one op, says so, and waits (the parent terminates it). */
import { parentPort, workerData } from 'node:worker_threads';
import { OPS } from './ops';
import { makeRng } from './rng';

const { op, seed, calls } = workerData as { op: string; seed: number; calls: number };
const spec = OPS.find((o) => o.name === op)!;
const r = makeRng(seed);
const pending: Promise<unknown>[] = [];
for (let k = 0; k < calls; k++) {
  try {
    pending.push(Promise.resolve(spec.call(spec.build(r, 24).args, true)).catch(() => undefined));
  } catch {
    /* a sync validation error: nothing in flight */
  }
}
parentPort!.postMessage('started');
void Promise.all(pending).then(() => parentPort!.postMessage('done'));

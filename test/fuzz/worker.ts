/**
 * race-terminate helper: starts `calls` Async calls of one op, says so, and keeps calling: each
 * settled call starts the next one from its continuation, with a sync call of bad arguments in
 * between, so the parent's terminate() lands while JS calls into the binding (a build that threw
 * a C++ exception there aborted the process: fuzz seed 20261207 case 6716).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { OPS } from './ops';
import { makeRng } from './rng';

const { op, seed, calls } = workerData as { op: string; seed: number; calls: number };
const spec = OPS.find((o) => o.name === op)!;
const r = makeRng(seed);
const ROUNDS = 50;

function start(): Promise<unknown> {
  try {
    return Promise.resolve(spec.call(spec.build(r, 24).args, true)).catch(() => undefined);
  } catch {
    return Promise.resolve(); // a sync validation error: nothing in flight
  }
}

async function chain(): Promise<void> {
  for (let k = 0; k < ROUNDS; k++) {
    await start();
    try {
      spec.call([], false); // always a typed error: builds an MmprefError from native code
    } catch {
      /* expected */
    }
  }
}

const pending: Promise<unknown>[] = [];
for (let k = 0; k < calls; k++) pending.push(chain());
parentPort!.postMessage('started');
void Promise.all(pending).then(() => parentPort!.postMessage('done'));

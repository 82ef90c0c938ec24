/**
 * The start of every long-running object with events (models.generate's GenerateRun, recipes'
 * TrainingRun and DeemRun): the body starts on the next tick, so listeners attached right after the
 * call see every event; `done` gets the result; a failure is an `error` event only when someone
 * listens (the rejected `result` carries it either way).
 */
import type { EventEmitter } from 'node:events';

export function startRun<R>(emitter: unknown, body: () => Promise<R>): Promise<R> {
  const e = emitter as EventEmitter;
  const result = new Promise<void>((r) => setImmediate(r)).then(body);
  result.then(
    (r) => e.emit('done', r),
    (err: Error) => {
      if (e.listenerCount('error')) e.emit('error', err);
    },
  );
  return result;
}

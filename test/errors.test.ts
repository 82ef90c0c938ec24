import { describe, expect, it } from 'vitest';
import { ERROR_CODES, MmprefError, empty, ops, setNumThreads, tensor } from '../lib';
import { native } from '../lib/native';
import { expectError } from './helpers';

describe('MmprefError', () => {
  it('is one class with a code from the documented set', () => {
    expect(ERROR_CODES).toEqual(['ERR_SHAPE', 'ERR_DTYPE', 'ERR_RANGE', 'ERR_DEVICE', 'ERR_OOM', 'ERR_DETACHED', 'ERR_ARGUMENT', 'ERR_FORMAT', 'ERR_IO']);
    const e = new MmprefError('x', 'ERR_SHAPE');
    expect(e).toBeInstanceOf(Error);
    expect(e.name).toBe('MmprefError');
  });

  it('native errors are real MmprefError instances', () => {
    let err: unknown;
    try {
      native.logSumExp({ _store: new Float32Array(3), _code: 0, shape: [2, 2], _device: -1 } as never, empty([2]), false);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(MmprefError);
    expect((err as MmprefError).code).toBe('ERR_SHAPE');
    expect((err as MmprefError).message).toMatch(/shape \[2, 2\] of float32 needs 16 bytes but its buffer view holds 12/);
  });

  it('covers every code', () => {
    expectError(() => tensor(new Float32Array(3), [2, 2]), 'ERR_SHAPE');
    expectError(() => ops.logSumExp(tensor([1], undefined, { dtype: 'int32' })), 'ERR_DTYPE');
    expectError(() => setNumThreads(0), 'ERR_RANGE', /\[1, 1024\]/);
    expectError(() => tensor([1], [1], { device: 'cuda:99' }), 'ERR_DEVICE');
    expectError(() => empty([2 ** 26, 2 ** 26]), 'ERR_OOM', /could not allocate/);
    const t = tensor([1]);
    t.dispose();
    expectError(() => ops.logSumExp(t), 'ERR_DETACHED');
    expectError(() => ops.logSumExp(null as never), 'ERR_ARGUMENT');
  });
});

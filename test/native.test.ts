// The raw binding trusts nothing: garbage arguments give typed errors, never a crash.
import { describe, expect, it } from 'vitest';
import { MmprefError, empty } from '../lib';
import { native } from '../lib/native';

const raw = native as unknown as Record<string, (...a: unknown[]) => unknown>;
const good = () => ({ _store: new Float32Array(4), _code: 0, shape: [2, 2], _device: -1 });

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (e instanceof MmprefError) return e.code;
    return `non-mmpref ${String(e)}`;
  }
  return 'no error';
}

describe('raw binding hardening', () => {
  const out = () => empty([2]);
  const cases: [string, unknown[], string][] = [
    ['no arguments', [], 'ERR_ARGUMENT'],
    ['missing async flag', [good(), out()], 'ERR_ARGUMENT'],
    ['a typed array instead of a tensor', [new Float32Array(4), out(), false], 'ERR_ARGUMENT'],
    ['unknown dtype code', [{ ...good(), _code: 42 }, out(), false], 'ERR_DTYPE'],
    ['fractional dtype code', [{ ...good(), _code: 0.5 }, out(), false], 'ERR_DTYPE'],
    ['storage of the wrong type', [{ ...good(), _store: new Int32Array(4) }, out(), false], 'ERR_DTYPE'],
    ['shape too big for the buffer', [{ ...good(), shape: [4, 4] }, out(), false], 'ERR_SHAPE'],
    ['negative dimension', [{ ...good(), shape: [-2, -2] }, out(), false], 'ERR_SHAPE'],
    ['overflowing shape', [{ ...good(), shape: [2 ** 40, 2 ** 40, 2 ** 40] }, out(), false], 'ERR_SHAPE'],
    ['too many dimensions', [{ ...good(), shape: [1, 1, 1, 1, 1, 1, 1, 1, 4] }, out(), false], 'ERR_SHAPE'],
    ['shape not an array', [{ ...good(), shape: 'x' }, out(), false], 'ERR_SHAPE'],
    ['bad device', [{ ...good(), _device: 0.5 }, out(), false], 'ERR_DEVICE'],
    ['forged CUDA storage', [{ ...good(), _device: 0, _store: {} }, out(), false], 'ERR_ARGUMENT'],
    ['disposed storage', [{ ...good(), _store: undefined }, out(), false], 'ERR_DETACHED'],
    ['output of the wrong size', [good(), empty([3]), false], 'ERR_SHAPE'],
    ['output of the wrong dtype', [good(), empty([2], 'int32'), false], 'ERR_DTYPE'],
    ['scalar input', [{ _store: new Float32Array(1), _code: 0, shape: [], _device: -1 }, empty([1]), false], 'ERR_SHAPE'],
  ];
  for (const [name, args, code] of cases)
    it(`logSumExp: ${name} -> ${code}`, () => {
      expect(codeOf(() => raw.logSumExp!(...args))).toBe(code);
    });

  it('runtime functions check their arguments', () => {
    expect(codeOf(() => raw.setNumThreads!('4'))).toBe('ERR_ARGUMENT');
    expect(codeOf(() => raw.setNumThreads!(2000))).toBe('ERR_RANGE');
    expect(codeOf(() => raw.deviceFree!({}))).toBe('ERR_ARGUMENT');
    expect(codeOf(() => raw._membw!(7, empty([4]), null, 1, false))).toBe('ERR_RANGE');
  });
});

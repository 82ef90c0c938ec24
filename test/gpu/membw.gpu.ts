import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { tensor, type Tensor } from '../../lib';
import { native } from '../../lib/native';
import { randomArray, rng } from '../helpers';
import { skip } from './gpu';

declare module '../../lib/native' {
  interface NativeAddon {
    _membw(kind: number, x: Tensor, y: Tensor | null, reps: number, async: false): number;
  }
}

// The bench ceilings' kernels (bench/harness.ts): read sums a buffer, copy is a device copy, rmw
// rewrites x = x * 0.999f + 1e-7f in place, the n % 4 tail included.
describe('_membw (bench ceilings) on CUDA', { skip }, () => {
  it('rmw computes x * 0.999f + 1e-7f per repetition (tail included); read and copy run', () => {
    for (const n of [1003, 4096 + 2]) {
      const v = Float32Array.from(randomArray(n, rng(n)));
      const x = tensor(v).to('cuda');
      const y = tensor(new Float32Array(n)).to('cuda');
      assert.ok(native._membw(0, x, null, 2, false) > 0);
      assert.ok(native._membw(1, x, y, 1, false) > 0);
      assert.deepEqual(Array.from(y.to('cpu').data), Array.from(v));
      assert.ok(native._membw(2, x, null, 2, false) > 0);  // 2 reps + 1 warm-up: 3 updates
      const got = x.to('cpu').data;
      const a = Math.fround(0.999), b = Math.fround(1e-7);
      for (let i = 0; i < n; i++) {
        let e = v[i]!;
        for (let r = 0; r < 3; r++) e = Math.fround(Math.fround(e * a) + b);
        // nvcc may fuse the multiply-add (one rounding instead of two): 3 float32 ulps over 3 updates
        assert.ok(Math.abs(got[i]! - e) <= 3 * 2 ** -23 * Math.abs(e) + 1e-12, `[${i}] got ${got[i]} expected ${e}`);
      }
      x.dispose();
      y.dispose();
    }
  });
});

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { noise, tensor, type FloatDType } from '../../lib';
import { assertClose, expectError, randomArray, rng } from '../helpers';
import { skip } from './gpu';

describe('noise.predictionLoss CUDA vs CPU', { skip }, () => {
  for (const [pd, td] of [['float32', 'float32'], ['bfloat16', 'float32'], ['float16', 'float16']] as [FloatDType, FloatDType][])
    for (const shape of [[3, 5, 7], [16, 4, 64, 64], [2, 100003]])
      it(`${pd} vs ${td} [${shape.join(', ')}]`, () => {
        const n = shape.reduce((a, b) => a * b, 1);
        const B = shape[0]!;
        const p = tensor(Float32Array.from(randomArray(n, rng(n))), shape, { dtype: pd });
        const e = tensor(Float32Array.from(randomArray(n, rng(n + 1))), shape, { dtype: td });
        const ts = Array.from({ length: B }, (_, b) => (b === 0 ? -1 : (b * 211) % 1000));
        const opts = { minSnrGamma: 5, schedule: 'scaled-linear' as const, gradScale: 0.5 };
        const cpu = noise.predictionLoss(p, e, { ...opts, t: ts });
        const gpu = noise.predictionLoss(p.to('cuda'), e.to('cuda'), { ...opts, t: tensor(ts, [B], { dtype: 'int32' }).to('cuda') });
        assertClose(gpu.loss.to('cpu').data, cpu.loss.data, { rtol: 1e-5, atol: 0, name: 'loss' });
        assertClose(gpu.perSample.to('cpu').data, cpu.perSample.data, { rtol: 1e-5, atol: 0, name: 'perSample' });
        assert.deepEqual(Array.from(gpu.weights.to('cpu').data), Array.from(cpu.weights.data));
        assertClose(gpu.grad!.to('cpu').toFloat32Array(), cpu.grad!.toFloat32Array(), { rtol: 0, atol: 0, name: 'grad (same formula, identical)' });
      });

  it('bad t on the device is ERR_RANGE; async equals sync; device mismatch', async () => {
    const p = tensor(Float32Array.from(randomArray(3 * 50, rng(2))), [3, 50]).to('cuda');
    expectError(() => noise.predictionLoss(p, p, { minSnrGamma: 5, t: tensor([1, 2, 5000], [3], { dtype: 'int32' }).to('cuda') }), 'ERR_RANGE', /received 5000 for sample 2/);
    const a = noise.predictionLoss(p, p.clone(), { weights: [1, 2, 3] });
    const b = await noise.predictionLossAsync(p, p.clone(), { weights: [1, 2, 3] });
    assert.deepEqual(Array.from(b.loss.to('cpu').data), Array.from(a.loss.to('cpu').data));
    expectError(() => noise.predictionLoss(p, tensor(new Float32Array(150), [3, 50])), 'ERR_DEVICE');
  });
});

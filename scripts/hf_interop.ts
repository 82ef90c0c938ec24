/**
 * mmpref side of scripts/hf_interop.py (not part of CI: needs torch, transformers and peft).
 *   tsx scripts/hf_interop.ts save <dir>   tiny models + LoRA adapters saved by mmpref, with mmpref's logits
 *   tsx scripts/hf_interop.ts load <dir>   checkpoints saved by transformers/PEFT in <dir>/<case>/, mmpref's logits
 * Logits go to <dir>/<case>/mmpref_logits.json as { base: number[][], lora?: number[][] } for the
 * prompt in <dir>/<case>/prompt.json (written here on save).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { models, random, tensor } from '../lib';

const PROMPT = [1, 5, 17, 3, 60, 2, 9, 11, 42, 7];

function logits(m: models.LlamaModel, prompt: number[]): number[][] {
  const x = m.embedTokens(tensor(Int32Array.from(prompt), [1, prompt.length]));
  const l = m.forward(x, m.createCache(1, prompt.length), { logits: 'all' }).logits.toFloat32Array();
  const V = m.config.vocabSize;
  return Array.from({ length: prompt.length }, (_, t) => Array.from(l.subarray(t * V, (t + 1) * V)));
}

function save(dir: string): void {
  const cases: [string, models.LlamaConfig][] = [
    ['mmpref_llama', { vocabSize: 97, hiddenSize: 64, intermediateSize: 96, numLayers: 2, numHeads: 4, numKvHeads: 2, ropeTheta: 10000, rmsNormEps: 1e-6 }],
    ['mmpref_qwen2', { vocabSize: 97, hiddenSize: 64, intermediateSize: 96, numLayers: 2, numHeads: 4, numKvHeads: 1, headDim: 32, ropeTheta: 1e6, rmsNormEps: 1e-6, qkvBias: true, tieWordEmbeddings: true }],
  ];
  for (const [name, cfg] of cases) {
    const d = path.join(dir, name);
    const m = models.LlamaModel.random(cfg, { seed: 7, initStd: 0.2 });
    m.save(path.join(d, 'model'));
    m.addLora({ rank: 4, alpha: 8, targets: ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'], seed: 1 });
    let k = 100;
    for (const [n, t] of m.loraParameters()) if (n.endsWith('lora_B.weight')) (t.data as Float32Array).set(random.normal(t.shape, { seed: 3, offset: k++, std: 0.2 }).data as Float32Array);
    m.saveAdapters(path.join(d, 'adapter'), { baseModelNameOrPath: path.join(d, 'model') });
    const lora = logits(m, PROMPT);
    m.setAdaptersEnabled(false);
    fs.writeFileSync(path.join(d, 'prompt.json'), JSON.stringify(PROMPT));
    fs.writeFileSync(path.join(d, 'mmpref_logits.json'), JSON.stringify({ base: logits(m, PROMPT), lora }));
    console.log(`saved ${d}`);
  }
}

function load(dir: string): void {
  for (const name of fs.readdirSync(dir).filter((n) => n.startsWith('hf_'))) {
    const d = path.join(dir, name);
    const prompt = JSON.parse(fs.readFileSync(path.join(d, 'prompt.json'), 'utf8')) as number[];
    const m = models.LlamaModel.load(path.join(d, 'model'), { dtype: 'float32' });
    const out: Record<string, number[][]> = { base: logits(m, prompt) };
    // saved back by mmpref (LLaVA: text model + projector; the vision tower is not written)
    m.save(path.join(d, 'resaved'));
    if (fs.existsSync(path.join(d, 'adapter'))) {
      m.loadAdapters(path.join(d, 'adapter'));
      out.lora = logits(m, prompt);
    }
    fs.writeFileSync(path.join(d, 'mmpref_logits.json'), JSON.stringify(out));
    console.log(`loaded ${d} (${m._hf.modelType}${m.projector ? ', llava' : ''}, ${m.numParameters} parameters)`);
  }
}

const [cmd, dir] = process.argv.slice(2);
if (cmd === 'save' && dir) save(dir);
else if (cmd === 'load' && dir) load(dir);
else {
  console.error('usage: tsx scripts/hf_interop.ts save|load <dir>');
  process.exit(2);
}

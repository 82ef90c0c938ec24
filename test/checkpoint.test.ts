import * as fs from 'node:fs';
import fsDefault from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { Tensor, models, tensor } from '../lib';
import { llamaForwardRef, type RefConfig, type RefWeights } from './reference/llama';
import { rawSafetensors, roundTo, safetensorsBytes, writeFileIn, type StDtype, type StTensor } from './reference/safetensors';
import { assertBitEqual, assertClose, expectError, rng } from './helpers';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mmpref-ckpt-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
let dirs = 0;
const newDir = () => path.join(tmp, `d${dirs++}`);

const CFG: RefConfig = { vocabSize: 61, hiddenSize: 32, intermediateSize: 48, numHeads: 4, numKvHeads: 2, headDim: 8, ropeTheta: 500000, rmsNormEps: 1e-5 };
const LAYERS = 2;

interface Built {
  tensors: StTensor[];
  ref: RefWeights;
  config: Record<string, unknown>;
}

/** A tiny checkpoint in the Hugging Face layout: weights drawn here, rounded to `dtype`, and the float64 reference weights. */
function build(kind: 'llama' | 'qwen2' | 'mistral', dtype: StDtype, opts: { tied?: boolean; bias?: boolean; seed?: number; v5?: boolean } = {}): Built {
  const r = rng(opts.seed ?? 7);
  const { vocabSize: V, hiddenSize: D, intermediateSize: I, numHeads: H, numKvHeads: Hkv, headDim: d } = CFG;
  const tensors: StTensor[] = [];
  const w = (name: string, shape: number[], std: number, mean = 0): Float64Array => {
    const n = shape.reduce((a, b) => a * b, 1);
    const values = Float64Array.from({ length: n }, () => roundTo(dtype, mean + std * (2 * r() - 1)));
    tensors.push({ name, dtype, shape, values });
    return values;
  };
  const qkvBias = kind === 'qwen2' || !!opts.bias;
  const oBias = kind !== 'qwen2' && !!opts.bias;
  const embed = w('model.embed_tokens.weight', [V, D], 0.5);
  const layers = [];
  for (let l = 0; l < LAYERS; l++) {
    const p = `model.layers.${l}.`;
    const L = {
      attnNorm: w(`${p}input_layernorm.weight`, [D], 0.2, 1),
      wq: w(`${p}self_attn.q_proj.weight`, [H * d, D], 0.3),
      wk: w(`${p}self_attn.k_proj.weight`, [Hkv * d, D], 0.3),
      wv: w(`${p}self_attn.v_proj.weight`, [Hkv * d, D], 0.3),
      wo: w(`${p}self_attn.o_proj.weight`, [D, H * d], 0.3),
      mlpNorm: w(`${p}post_attention_layernorm.weight`, [D], 0.2, 1),
      wGate: w(`${p}mlp.gate_proj.weight`, [I, D], 0.3),
      wUp: w(`${p}mlp.up_proj.weight`, [I, D], 0.3),
      wDown: w(`${p}mlp.down_proj.weight`, [D, I], 0.3),
    } as RefWeights['layers'][number];
    if (qkvBias) {
      L.bq = w(`${p}self_attn.q_proj.bias`, [H * d], 0.5);
      L.bk = w(`${p}self_attn.k_proj.bias`, [Hkv * d], 0.5);
      L.bv = w(`${p}self_attn.v_proj.bias`, [Hkv * d], 0.5);
    }
    if (oBias) L.bo = w(`${p}self_attn.o_proj.bias`, [D], 0.5);
    layers.push(L);
  }
  const finalNorm = w('model.norm.weight', [D], 0.2, 1);
  const lmHead = opts.tied ? embed : w('lm_head.weight', [V, D], 0.3);
  const torchDtype = { F32: 'float32', F16: 'float16', BF16: 'bfloat16' }[dtype as 'F32'];
  const arch = { llama: 'LlamaForCausalLM', qwen2: 'Qwen2ForCausalLM', mistral: 'MistralForCausalLM' }[kind];
  const config: Record<string, unknown> = {
    architectures: [arch], model_type: kind, vocab_size: V, hidden_size: D, intermediate_size: I, num_hidden_layers: LAYERS,
    num_attention_heads: H, num_key_value_heads: Hkv, head_dim: d, rms_norm_eps: CFG.rmsNormEps, hidden_act: 'silu',
    max_position_embeddings: 128, tie_word_embeddings: !!opts.tied,
    ...(kind === 'llama' ? { attention_bias: !!opts.bias } : {}),
    ...(kind === 'mistral' ? { sliding_window: null } : {}),
    ...(opts.v5 ? { rope_parameters: { rope_type: 'default', rope_theta: CFG.ropeTheta }, dtype: torchDtype } : { rope_theta: CFG.ropeTheta, rope_scaling: null, torch_dtype: torchDtype }),
  };
  return { tensors, ref: { embed, layers, finalNorm, lmHead }, config };
}

function writeCkpt(dir: string, b: Built, order: 'shuffled' | 'as-is' = 'shuffled'): void {
  const ts = order === 'shuffled' ? [...b.tensors].reverse() : b.tensors;
  writeFileIn(dir, 'config.json', JSON.stringify(b.config));
  writeFileIn(dir, 'model.safetensors', safetensorsBytes(ts));
}

const PROMPT = [5, 17, 3, 60, 2, 9, 11];
function logitsOf(m: models.LlamaModel, toks = PROMPT): Float32Array {
  const x = m.embedTokens(tensor(Int32Array.from(toks), [1, toks.length]));
  return m.forward(x, m.createCache(1, toks.length), { logits: 'all' }).logits.toFloat32Array();
}
function refLogits(ref: RefWeights, toks = PROMPT): Float64Array {
  const D = CFG.hiddenSize;
  const x = toks.map((t) => ref.embed.slice(t * D, (t + 1) * D));
  return Float64Array.from(llamaForwardRef(CFG, ref, x, toks.map((_, i) => i)).flatMap((r) => Array.from(r)));
}
// float32 forward vs float64 reference on O(1) weights: relative error of a few float32 roundings per
// dot product (length <= 48) through 2 layers; the same bound as test/models.test.ts, scaled for
// logits of magnitude ~10 here.
const TOL = { rtol: 1e-4, atol: 1e-4 };
const bits = (t: Tensor) => (t.dtype === 'float32' ? t.toFloat32Array() : (t.data as Uint16Array));

describe('LlamaModel.load (Hugging Face layout, bytes written by the test)', () => {
  it('a LLaMA checkpoint (float32) gives the float64 reference logits', () => {
    const b = build('llama', 'F32');
    const dir = newDir();
    writeCkpt(dir, b);
    const m = models.LlamaModel.load(dir);
    expect(m.dtype).toBe('float32');
    expect(m.config).toMatchObject({ vocabSize: 61, hiddenSize: 32, numLayers: 2, numKvHeads: 2, headDim: 8, ropeTheta: 500000, rmsNormEps: 1e-5, qkvBias: false });
    assertClose(logitsOf(m), refLogits(b.ref), TOL);
  });

  it('a Qwen2 checkpoint with q/k/v biases (transformers 5 config form) gives the reference logits', () => {
    const b = build('qwen2', 'F32', { v5: true, seed: 9 });
    const dir = newDir();
    writeCkpt(dir, b);
    const m = models.LlamaModel.load(dir);
    expect(m.config.qkvBias).toBe(true);
    expect(m.config.oBias).toBe(false);
    expect(m.layers[1]!.bq!.shape).toEqual([32]);
    assertClose(logitsOf(m), refLogits(b.ref), TOL);
  });

  it('LLaMA attention_bias (q/k/v/o biases), Mistral and tied embeddings give the reference logits', () => {
    for (const [kind, o] of [['llama', { bias: true }], ['mistral', {}], ['llama', { tied: true }]] as const) {
      const b = build(kind, 'F32', { ...o, seed: 11 });
      const dir = newDir();
      writeCkpt(dir, b);
      const m = models.LlamaModel.load(dir);
      if ('tied' in o) expect(m.lmHead).toBe(m.embed);
      assertClose(logitsOf(m), refLogits(b.ref), { ...TOL, name: `${kind} ${JSON.stringify(o)}` });
    }
  });

  it('bfloat16 and float16 checkpoints: loaded as float32 they give the reference logits; in their own dtype, the file bits', () => {
    for (const dt of ['BF16', 'F16'] as const) {
      const b = build('llama', dt, { seed: 5 });
      const dir = newDir();
      writeCkpt(dir, b);
      const m32 = models.LlamaModel.load(dir, { dtype: 'float32' });
      assertClose(logitsOf(m32), refLogits(b.ref), { ...TOL, name: dt });
      const own = models.LlamaModel.load(dir);
      expect(own.dtype).toBe(dt === 'BF16' ? 'bfloat16' : 'float16');
      // decode the loaded bits and compare with the exact values written
      const wq = b.tensors.find((t) => t.name === 'model.layers.1.self_attn.q_proj.weight')!;
      expect(Array.from(own.layers[1]!.wq.toFloat32Array())).toEqual(Array.from(wq.values));
      expect(Array.from(m32.layers[1]!.wq.toFloat32Array())).toEqual(Array.from(wq.values));
    }
  });

  it('a sharded checkpoint (index + 2 files) loads the same weights as the single file', () => {
    const b = build('llama', 'F32', { seed: 3 });
    const dir = newDir();
    const half = Math.floor(b.tensors.length / 2);
    const shards = [b.tensors.slice(0, half), b.tensors.slice(half)];
    const names = ['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors'];
    const weightMap: Record<string, string> = {};
    shards.forEach((s, i) => {
      writeFileIn(dir, names[i]!, safetensorsBytes(s));
      for (const t of s) weightMap[t.name] = names[i]!;
    });
    writeFileIn(dir, 'model.safetensors.index.json', JSON.stringify({ metadata: { total_size: 0 }, weight_map: weightMap }));
    writeFileIn(dir, 'config.json', JSON.stringify(b.config));
    const events: number[] = [];
    const m = models.LlamaModel.load(dir, { onProgress: (p) => events.push(p.loaded / p.total) });
    expect(events.length).toBe(b.tensors.length);
    expect(events.at(-1)).toBe(1);
    assertClose(logitsOf(m), refLogits(b.ref), TOL);
    // a shard tensor the index does not map, and an index entry naming a missing tensor
    writeFileIn(dir, 'model.safetensors.index.json', JSON.stringify({ weight_map: { ...weightMap, 'model.norm.weight': names[0] } }));
    expectError(() => models.LlamaModel.load(dir), 'ERR_FORMAT', /'model\.norm\.weight'/);
  });

  it('LLaVA checkpoints: hub (language_model.*) and recent (model.language_model.*) prefixes, projector kept, vision tower skipped', () => {
    const b = build('llama', 'F32', { seed: 13 });
    const r = rng(1);
    const proj = (name: string, shape: number[]): StTensor => ({ name, dtype: 'F32', shape, values: Float64Array.from({ length: shape.reduce((a, c) => a * c, 1) }, () => Math.fround(r() - 0.5)) });
    const textConfig = { ...b.config };
    delete textConfig.architectures;
    const config = { architectures: ['LlavaForConditionalGeneration'], model_type: 'llava', text_config: textConfig, vision_config: { hidden_size: 12, model_type: 'clip_vision_model' }, image_token_index: 60 };
    const projs = [proj('multi_modal_projector.linear_1.weight', [32, 12]), proj('multi_modal_projector.linear_1.bias', [32]), proj('multi_modal_projector.linear_2.weight', [32, 32]), proj('multi_modal_projector.linear_2.bias', [32])];
    const vision = proj('vision_tower.vision_model.embeddings.patch_embedding.weight', [12, 3]);
    const layouts = {
      hub: (n: string) => (n === 'lm_head.weight' ? 'language_model.lm_head.weight' : `language_model.${n}`),
      recent: (n: string) => (n === 'lm_head.weight' ? n : n.replace(/^model\./, 'model.language_model.')),
    };
    for (const [layout, rename] of Object.entries(layouts)) {
      const dir = newDir();
      const pre = layout === 'hub' ? '' : 'model.';
      const ts = [...b.tensors.map((t) => ({ ...t, name: rename(t.name) })), ...projs.map((t) => ({ ...t, name: pre + t.name })), { ...vision, name: pre + vision.name }];
      // "initializer_factor": 1.0 must stay a float on save (transformers 5 refuses an int there)
      writeFileIn(dir, 'config.json', JSON.stringify(config).replace('"vision_config":{', '"vision_config":{"initializer_factor":1.0,'));
      writeFileIn(dir, 'model.safetensors', safetensorsBytes(ts));
      const m = models.LlamaModel.load(dir);
      expect(m.projector!.w1.shape).toEqual([32, 12]);
      expect(Array.from(m.projector!.b2!.toFloat32Array())).toEqual(Array.from(projs[3]!.values));
      const names = m.parameters().map(([n]) => n);
      expect(names.slice(0, 5)).toEqual(['model.multi_modal_projector.linear_1.weight', 'model.multi_modal_projector.linear_1.bias', 'model.multi_modal_projector.linear_2.weight', 'model.multi_modal_projector.linear_2.bias', 'model.language_model.embed_tokens.weight']);
      assertClose(logitsOf(m), refLogits(b.ref), { ...TOL, name: layout });
      // saved back in the recent layout; config keeps everything but the text config's own keys as written
      const again = newDir();
      m.save(again, { dtype: 'bfloat16' });
      const text = fs.readFileSync(path.join(again, 'config.json'), 'utf8');
      expect(text).toMatch(/"initializer_factor":1\.0/);
      expect(JSON.parse(text)).toMatchObject({ model_type: 'llava', image_token_index: 60, dtype: 'bfloat16', text_config: { model_type: 'llama', hidden_size: 32, dtype: 'bfloat16' } });
      expect([...models.readSafetensorsHeader(path.join(again, 'model.safetensors')).tensors.keys()]).toEqual(names);
      const back = models.LlamaModel.load(again, { dtype: 'float32' });
      // written as bfloat16: the values are the float32 ones rounded as tensor() rounds them
      const w2bf = tensor(m.projector!.w2.toFloat32Array(), [32, 32], { dtype: 'bfloat16' });
      expect(Array.from(back.projector!.w2.toFloat32Array())).toEqual(Array.from(w2bf.toFloat32Array()));
    }
  });
});

describe('LlamaModel.save', () => {
  it('save -> load is bit-identical (float32, bfloat16, sharded), parameters() in Hugging Face order', () => {
    const src = models.LlamaModel.random({ vocabSize: 61, hiddenSize: 32, intermediateSize: 48, numLayers: 2, numHeads: 4, numKvHeads: 2, qkvBias: true }, { seed: 2, initStd: 0.3 });
    const names = src.parameters().map(([n]) => n);
    expect(names.slice(0, 5)).toEqual(['model.embed_tokens.weight', 'model.layers.0.self_attn.q_proj.weight', 'model.layers.0.self_attn.q_proj.bias', 'model.layers.0.self_attn.k_proj.weight', 'model.layers.0.self_attn.k_proj.bias']);
    expect(names.slice(-4)).toEqual(['model.layers.1.input_layernorm.weight', 'model.layers.1.post_attention_layernorm.weight', 'model.norm.weight', 'lm_head.weight']);
    for (const [label, opts] of [['f32', {}], ['sharded', { maxShardBytes: 8000 }]] as const) {
      const dir = newDir();
      const files = src.save(dir, opts);
      if (label === 'sharded') expect(files).toContain('model.safetensors.index.json');
      const back = models.LlamaModel.load(dir);
      const cfg = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
      expect(cfg).toMatchObject({ model_type: 'qwen2', architectures: ['Qwen2ForCausalLM'], num_key_value_heads: 2, head_dim: 8, rope_theta: 10000, dtype: 'float32', tie_word_embeddings: false });
      expect(back.config).toEqual(src.config);
      const got = back.parameters();
      src.parameters().forEach(([n, t], i) => {
        expect(got[i]![0]).toBe(n);
        assertBitEqual(bits(got[i]![1]), bits(t), n);
      });
      expect(Array.from(logitsOf(back))).toEqual(Array.from(logitsOf(src)));
    }
    const bf = models.LlamaModel.random({ vocabSize: 61, hiddenSize: 32, intermediateSize: 48, numLayers: 1, numHeads: 4, numKvHeads: 2, tieWordEmbeddings: true }, { seed: 4, dtype: 'bfloat16' });
    const dir = newDir();
    bf.save(dir);
    const back = models.LlamaModel.load(dir);
    expect(back.dtype).toBe('bfloat16');
    expect(back.lmHead).toBe(back.embed);
    bf.parameters().forEach(([n, t], i) => assertBitEqual(bits(back.parameters()[i]![1]), bits(t), n));
  });

  it('the file is what the safetensors format says: 8-byte-aligned space-padded header, __metadata__ format pt, contiguous offsets', () => {
    const m = models.LlamaModel.random({ vocabSize: 11, hiddenSize: 8, intermediateSize: 16, numLayers: 1, numHeads: 2, numKvHeads: 1 }, { seed: 1 });
    const dir = newDir();
    m.save(dir);
    const buf = fs.readFileSync(path.join(dir, 'model.safetensors'));
    const n = Number(buf.readBigUInt64LE(0));
    expect(n % 8).toBe(0);
    const text = buf.subarray(8, 8 + n).toString();
    expect(text.trimEnd().length).toBeGreaterThan(n - 8);
    expect(text.slice(text.trimEnd().length)).toMatch(/^ *$/);
    const h = JSON.parse(text);
    expect(h.__metadata__).toEqual({ format: 'pt' });
    let at = 0;
    for (const [name] of m.parameters()) {
      expect(h[name].data_offsets[0]).toBe(at);
      at = h[name].data_offsets[1];
    }
    expect(buf.length).toBe(8 + n + at);
    // the embedding's bytes are the tensor's float32 values
    const e = h['model.embed_tokens.weight'];
    const vals = new Float32Array(buf.buffer.slice(buf.byteOffset + 8 + n + e.data_offsets[0], buf.byteOffset + 8 + n + e.data_offsets[1]));
    expect(Array.from(vals)).toEqual(Array.from(m.embed.toFloat32Array()));
  });
});

describe('bad checkpoints: typed errors naming the key', () => {
  const b = build('llama', 'F32', { seed: 21 });
  const withTensors = (ts: StTensor[], config: Record<string, unknown> = b.config) => {
    const dir = newDir();
    writeFileIn(dir, 'config.json', JSON.stringify(config));
    writeFileIn(dir, 'model.safetensors', safetensorsBytes(ts));
    return dir;
  };
  it('missing, extra, misshapen and non-float tensors', () => {
    expectError(() => models.LlamaModel.load(withTensors(b.tensors.filter((t) => t.name !== 'model.layers.1.mlp.up_proj.weight'))), 'ERR_FORMAT', /expected the tensor 'model\.layers\.1\.mlp\.up_proj\.weight'/);
    expectError(() => models.LlamaModel.load(withTensors([...b.tensors, { name: 'model.layers.2.mlp.up_proj.weight', dtype: 'F32', shape: [1], values: [0] }])), 'ERR_FORMAT', /unexpected tensor 'model\.layers\.2\.mlp\.up_proj\.weight'/);
    const bent = b.tensors.map((t) => (t.name === 'model.norm.weight' ? { ...t, shape: [4, 8] } : t));
    expectError(() => models.LlamaModel.load(withTensors(bent)), 'ERR_SHAPE', /'model\.norm\.weight' of shape \[32\].*received \[4, 8\]/);
    const ints = b.tensors.map((t) => (t.name === 'model.norm.weight' ? { ...t, dtype: 'I32' as const, values: new Float64Array(32) } : t));
    expectError(() => models.LlamaModel.load(withTensors(ints)), 'ERR_DTYPE', /'model\.norm\.weight' to be F32, F16 or BF16 but received I32/);
  });

  it('unsupported architectures and config features', () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ ...b.config, model_type: 'gpt2' }, /model_type: expected one of llama, mistral, qwen2/],
      [{ ...b.config, architectures: ['LlamaForSequenceClassification'] }, /architectures: expected LlamaForCausalLM/],
      [{ ...b.config, rope_scaling: { rope_type: 'yarn', factor: 4 } }, /rope_scaling\.rope_type: expected "default"/],
      [{ ...b.config, rope_parameters: { rope_type: 'llama3', rope_theta: 1 } }, /rope_parameters\.rope_type/],
      [{ ...b.config, model_type: 'mistral', architectures: ['MistralForCausalLM'], sliding_window: 0 }, /sliding_window: expected a positive integer/],
      [{ ...b.config, model_type: 'qwen2', architectures: ['Qwen2ForCausalLM'], use_sliding_window: true }, /use_sliding_window: expected false/],
      [{ ...b.config, hidden_act: 'gelu' }, /hidden_act: expected "silu"/],
      [{ ...b.config, mlp_bias: true }, /mlp_bias/],
      [{ ...b.config, hidden_size: 'big' }, /hidden_size: expected a positive integer/],
    ];
    for (const [cfg, re] of cases) expectError(() => models.LlamaModel.load(withTensors(b.tensors, cfg)), 'ERR_FORMAT', re);
    const dir = newDir();
    writeFileIn(dir, 'config.json', '{"model_type": ');
    expectError(() => models.LlamaModel.load(dir), 'ERR_FORMAT', /config\.json: could not read a JSON config/);
    expectError(() => models.LlamaModel.load(path.join(tmp, 'nowhere')), 'ERR_IO', /config\.json/);
    // Mistral's sliding_window loads; the forward refuses sequences longer than the window
    const mis = models.LlamaModel.load(withTensors(b.tensors, { ...b.config, model_type: 'mistral', architectures: ['MistralForCausalLM'], sliding_window: 6 }));
    expect(logitsOf(mis, PROMPT.slice(0, 6)).length).toBe(6 * 61);
    expectError(() => logitsOf(mis), 'ERR_RANGE', /at most 6 positions \(the checkpoint's sliding_window/);
    const again = newDir();
    mis.save(again);
    expect(JSON.parse(fs.readFileSync(path.join(again, 'config.json'), 'utf8'))).toMatchObject({ model_type: 'mistral', sliding_window: 6 });
    const noWeights = withTensors(b.tensors);
    fs.rmSync(path.join(noWeights, 'model.safetensors'));
    expectError(() => models.LlamaModel.load(noWeights), 'ERR_IO', /model\.safetensors or .*model\.safetensors\.index\.json but neither exists/);
  });

  it('a read that fails half way frees every tensor already read and throws ERR_IO', () => {
    const dir = withTensors(b.tensors);
    let reads = 0;
    // node's builtin namespace follows its default export after syncBuiltinESMExports()
    const real = fsDefault.readSync;
    fsDefault.readSync = ((...args: Parameters<typeof fs.readSync>) => {
      if (++reads === 12) throw new Error('EIO: injected');
      return (real as (...a: unknown[]) => number)(...args);
    }) as typeof fs.readSync;
    syncBuiltinESMExports();
    const disposed = vi.spyOn(Tensor.prototype, 'dispose');
    try {
      expectError(() => models.LlamaModel.load(dir), 'ERR_IO', /EIO: injected/);
      // 2 header reads, then one read per tensor: the 12th read fails on the 10th tensor, 9 were read
      expect(disposed).toHaveBeenCalledTimes(9);
    } finally {
      fsDefault.readSync = real;
      syncBuiltinESMExports();
      disposed.mockRestore();
    }
  });

  it('truncated files and bad headers', () => {
    const good = safetensorsBytes(b.tensors);
    const load = (bytes: Uint8Array) => models.LlamaModel.load(((d) => (writeFileIn(d, 'config.json', JSON.stringify(b.config)), writeFileIn(d, 'model.safetensors', bytes), d))(newDir()));
    const last = b.tensors.at(-1)!.name;
    expectError(() => load(good.subarray(0, good.length - 4)), 'ERR_FORMAT', new RegExp(`tensor '${last.replace(/\./g, '\\.')}' ends at data offset .*truncated`));
    expectError(() => load(good.subarray(0, 5)), 'ERR_FORMAT', /at least 8 bytes/);
    expectError(() => load(rawSafetensors('{}', [], 1n << 40n)), 'ERR_FORMAT', /header length of at most/);
    expectError(() => load(rawSafetensors('{"a": ')), 'ERR_FORMAT', /JSON header/);
    expectError(() => load(rawSafetensors('[1, 2]')), 'ERR_FORMAT', /JSON object/);
    const one = (e: object, data = 8) => rawSafetensors(JSON.stringify({ w: e }), [new Uint8Array(data)]);
    expectError(() => load(one({ dtype: 'F99', shape: [2], data_offsets: [0, 8] })), 'ERR_FORMAT', /tensor 'w' to have a safetensors dtype/);
    expectError(() => load(one({ dtype: 'F32', shape: [3], data_offsets: [0, 8] })), 'ERR_FORMAT', /tensor 'w' \(F32 \[3\]\) to span 12 bytes/);
    expectError(() => load(one({ dtype: 'F32', shape: [2], data_offsets: [8, 0] })), 'ERR_FORMAT', /data_offsets \[begin, end\]/);
    expectError(() => load(one({ dtype: 'F32', shape: [-2], data_offsets: [0, 8] })), 'ERR_FORMAT', /shape of non-negative integers/);
    expectError(() => load(one({ dtype: 'F32', shape: [2], data_offsets: [0, 8] }, 12)), 'ERR_FORMAT', /data section to hold 8 bytes .* holds 12/);
    const two = (a: number[], c: number[]) => rawSafetensors(JSON.stringify({ a: { dtype: 'F32', shape: [2], data_offsets: a }, c: { dtype: 'F32', shape: [2], data_offsets: c } }), [new Uint8Array(16)]);
    expectError(() => load(two([0, 8], [4, 12])), 'ERR_FORMAT', /tensor 'c' .* overlaps/);
    expectError(() => load(two([0, 8], [8, 16]).subarray(0)), 'ERR_FORMAT', /unexpected tensor 'a'/); // a valid file, but not this model
    expectError(() => load(rawSafetensors(JSON.stringify({ __metadata__: { n: 1 } }))), 'ERR_FORMAT', /__metadata__\.n to be a string/);
  });
});

describe('models.loadSafetensors / saveSafetensors', () => {
  it('round-trips every stored dtype bit for bit, converts float dtypes on read, reports progress', () => {
    const r = rng(3);
    const f = Float32Array.from({ length: 24 }, () => r() - 0.5);
    const ts: [string, Tensor][] = [
      ['f32', tensor(f, [2, 3, 4])],
      ['bf16', tensor(f, [24], { dtype: 'bfloat16' })],
      ['f16', tensor(f, [4, 6], { dtype: 'float16' })],
      ['i32', tensor(Int32Array.from([1, -2, 3]), [3])],
      ['i64', tensor(BigInt64Array.from([1n, -(2n ** 40n)]), [2])],
      ['u8', tensor(Uint8Array.from([0, 255, 7]), [3])],
      ['bool', tensor([true, false, true])],
      ['empty', tensor(new Float32Array(0), [0, 5])],
    ];
    const file = path.join(newDir(), 'x.safetensors');
    fs.mkdirSync(path.dirname(file));
    models.saveSafetensors(file, ts, { metadata: { format: 'pt', note: 'hi' } });
    const h = models.readSafetensorsHeader(file);
    expect(h.metadata).toEqual({ format: 'pt', note: 'hi' });
    expect([...h.tensors.keys()]).toEqual(ts.map(([n]) => n));
    const seen: string[] = [];
    const back = models.loadSafetensors(file, { onProgress: (p) => seen.push(p.name) });
    expect(seen).toEqual(ts.map(([n]) => n));
    for (const [n, t] of ts) {
      const g = back.get(n)!;
      expect([g.dtype, g.shape]).toEqual([t.dtype, t.shape]);
      expect(Array.from(g.data as ArrayLike<unknown>)).toEqual(Array.from(t.data as ArrayLike<unknown>));
    }
    const conv = models.loadSafetensors(file, { dtype: 'float32', names: ['bf16', 'f16', 'i32'] });
    expect(conv.get('i32')!.dtype).toBe('int32');
    expect(Array.from(conv.get('bf16')!.data as Float32Array)).toEqual(Array.from(ts[1]![1].toFloat32Array()));
    expect(Array.from(conv.get('f16')!.data as Float32Array)).toEqual(Array.from(ts[2]![1].toFloat32Array()));
    const toBf = models.loadSafetensors(file, { dtype: 'bfloat16', names: ['f32'] }).get('f32')!;
    expect(Array.from(toBf.data as Uint16Array)).toEqual(Array.from(ts[1]![1].data as Uint16Array));
    expectError(() => models.loadSafetensors(file, { names: ['nope'] }), 'ERR_FORMAT', /'nope'/);
  });
});

/**
 * BDHS with the paper's semantic filter: rejected answers are compared with the chosen one through a
 * sentence-embedding model (all-mpnet-base-v2, mean pooling, L2-normalised; METHODS.md §5.3) run by
 * transformers.js' feature-extraction pipeline, instead of mmpref's default (the policy's own mean-pooled
 * hidden states). Token ids become text through the model's Hugging Face tokenizer.
 *
 * NOT RUN in mmpref's CI (it needs the network-free local files below and an optional package). To run:
 *   npm install @huggingface/transformers
 *   # a LLaVA-style checkpoint (config.json, model.safetensors, tokenizer.json) in ./llava,
 *   # the ONNX export of sentence-transformers/all-mpnet-base-v2 (Xenova/all-mpnet-base-v2) in ./models,
 *   # pairs.jsonl in the format of docs/recipes.md
 *   npx tsx examples/bdhs-sentence-embedding.ts ./llava ./models pairs.jsonl rejected.jsonl
 */
import fs from 'node:fs';
import { models, recipes } from 'mmpref';

type Extractor = (text: string, o: { pooling: 'mean'; normalize: boolean }) => Promise<{ data: Float32Array }>;
interface TransformersJs {
  env: { allowRemoteModels: boolean; localModelPath: string };
  pipeline(task: 'feature-extraction', model: string): Promise<Extractor>;
}
// a real ESM import() of the optional package (tsc's CommonJS output would turn import() into require())
const esmImport = new Function('name', 'return import(name)') as (name: string) => Promise<unknown>;

async function main(): Promise<void> {
  const [modelDir = './llava', embedDir = './models', dataFile = 'pairs.jsonl', outFile = 'rejected.jsonl'] = process.argv.slice(2);
  const tj = (await esmImport('@huggingface/transformers')) as TransformersJs;
  tj.env.allowRemoteModels = false;
  tj.env.localModelPath = embedDir;
  const extract = await tj.pipeline('feature-extraction', 'Xenova/all-mpnet-base-v2');

  const model = models.LlamaModel.load(modelDir);
  const tok = await recipes.loadTokenizer(modelDir);
  // the embedding BDHS compares: decode the answer's token ids, embed the sentence (async is fine)
  const embed = async (answer: readonly number[]) => (await extract(tok.decode(answer), { pooling: 'mean', normalize: true })).data;

  const result = await recipes.bdhsRejected(model, recipes.readJsonl(dataFile), {
    embed, // threshold 0.97, maxTries 5, maskRatio 0.99: the paper's defaults
    sentenceEnd: tok.tokenize('.'), // reference-guided sentence completion (§5.2)
  });
  fs.writeFileSync(outFile, result.records.map((r) => JSON.stringify({ prompt: r.prompt, chosen: r.chosen, rejected: r.rejected })).join('\n') + '\n');
  console.log(`${result.records.length} rejected answers -> ${outFile}; tries per record: ${result.tries.join(' ')}`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});

/**
 * recipes.loadTokenizer: a `tokenize` function from a Hugging Face tokenizer directory
 * (tokenizer.json + tokenizer_config.json) through `@huggingface/transformers`' AutoTokenizer, if
 * you installed that package (mmpref does not depend on it: it is imported dynamically, and a
 * missing package is an ERR_IO MmprefError naming it). Only the missing-package path and the
 * calling convention (with a stand-in module) are tested in CI; the real package was checked once by hand (docs/recipes.md).
 */
import fs from 'node:fs';
import path from 'node:path';
import { fail } from '../errors';
import { checkOptions } from '../validate';

export const TOKENIZER_PACKAGE = '@huggingface/transformers';

export interface LoadTokenizerOptions {
  /** Add the tokenizer's special tokens (BOS, ...) to each text (default false: record fields are pieces of a sequence). */
  addSpecialTokens?: boolean;
  /** @internal Module loader (tests pass a stand-in); default: dynamic import. */
  importer?: (name: string) => Promise<unknown>;
}

export interface Tokenizer {
  /** Text -> token ids. */
  tokenize(text: string): number[];
  /** Token ids -> text. */
  decode(ids: readonly number[]): string;
}

interface HfModule {
  AutoTokenizer: { from_pretrained(id: string, o?: object): Promise<HfTokenizer> };
  env?: { allowRemoteModels?: boolean; allowLocalModels?: boolean; localModelPath?: string };
}
interface HfTokenizer {
  encode(text: string, o?: { add_special_tokens?: boolean }): number[];
  decode(ids: number[], o?: { skip_special_tokens?: boolean }): string;
}

// a real ESM import() (tsc's commonjs output would turn `import()` into require())
const esmImport = new Function('name', 'return import(name)') as (name: string) => Promise<unknown>;

/** Loads the tokenizer in `dir` (see the module comment). Local files only: nothing is downloaded. */
export async function loadTokenizer(dir: string, options: LoadTokenizerOptions = {}): Promise<Tokenizer> {
  const op = 'recipes.loadTokenizer';
  const o = checkOptions(op, options, ['addSpecialTokens', 'importer']);
  if (typeof dir !== 'string' || !fs.existsSync(path.join(dir, 'tokenizer.json')))
    fail('ERR_IO', op, `expected a directory with tokenizer.json but received ${JSON.stringify(dir)}`);
  let mod: HfModule;
  try {
    mod = (await (o.importer ?? esmImport)(TOKENIZER_PACKAGE)) as HfModule;
  } catch (e) {
    fail('ERR_IO', op, `expected the optional package ${TOKENIZER_PACKAGE} (npm install ${TOKENIZER_PACKAGE}; mmpref does not depend on it) but it could not be loaded (${(e as Error).message.split('\n')[0]})`);
  }
  if (!mod?.AutoTokenizer?.from_pretrained) fail('ERR_IO', op, `expected ${TOKENIZER_PACKAGE} to export AutoTokenizer but received a module without it`);
  const abs = path.resolve(dir);
  if (mod.env) {
    mod.env.allowRemoteModels = false;
    mod.env.allowLocalModels = true;
    mod.env.localModelPath = path.dirname(abs) + path.sep;
  }
  const tok = await mod.AutoTokenizer.from_pretrained(path.basename(abs), { local_files_only: true });
  const add = !!o.addSpecialTokens;
  return {
    tokenize: (text: string) => Array.from(tok.encode(text, { add_special_tokens: add })),
    decode: (ids: readonly number[]) => tok.decode([...ids], { skip_special_tokens: false }),
  };
}

/**
 * The recipes' JSONL data format (docs/recipes.md) and its streaming reader (node:readline).
 * One JSON object a line: token ids (or text through a user tokenizer), optional image features
 * (a .safetensors file next to the data, or inline). Bad lines are typed, line-numbered errors
 * (onBadRecord: 'fatal', the default) or are skipped and counted (onBadRecord: 'skip').
 */
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { fail, MmprefError } from '../errors';
import { readNpy } from '../io/npy';
import { loadSafetensors } from '../io/safetensors';

/** One training record: prompt and answers as token ids; features [Nv, Dv] float32 when there is an image. */
export interface PreferenceRecord {
  prompt: number[];
  chosen: number[];
  /** Absent for SFT data (and for BDHS/BPO, which make their own). */
  rejected?: number[];
  /** Image features [Nv, Dv] (row-major) and their shape. */
  image?: { features: Float32Array; shape: [number, number] };
  /** A raw image (e.g. [C, H, W], as your vision encoder takes it), for BPO's weakening with `encodeImage`. */
  pixels?: { data: Float32Array; shape: number[] };
  /** 1-based line of the record in its file (0 for records not read from a file). */
  line: number;
}

export const BAD_RECORD_MODES = ['skip', 'fatal'] as const;
export type BadRecordMode = (typeof BAD_RECORD_MODES)[number];

export interface JsonlOptions {
  /** 'fatal' (default): the first bad line throws; 'skip': bad lines are counted in `skipped`. */
  onBadRecord?: BadRecordMode;
  /** Turns `promptText` / `chosenText` / `rejectedText` into token ids (mmpref has no tokenizer). */
  tokenize?: (text: string) => number[];
  /** Every record must have `rejected` (default false). */
  requireRejected?: boolean;
  /**
   * Image-only data (DEEM): every record must have `image`; `prompt` and `chosen` become optional
   * (empty when absent). Default false.
   */
  imagesOnly?: boolean;
}

const OP = 'recipes.readJsonl';

function ids(where: string, rec: Record<string, unknown>, key: string, tokenize: JsonlOptions['tokenize'], required: boolean): number[] | undefined {
  const v = rec[key];
  const text = rec[`${key}Text`];
  if (v === undefined && typeof text === 'string') {
    if (!tokenize) fail('ERR_FORMAT', OP, `${where}: expected '${key}' token ids (or a tokenize function for '${key}Text') but received text only`);
    return ids(where, { [key]: tokenize(text) }, key, undefined, required);
  }
  if (v === undefined) {
    if (required) fail('ERR_FORMAT', OP, `${where}: expected '${key}' (an array of token ids) but received none`);
    return undefined;
  }
  if (!Array.isArray(v) || v.length === 0 || v.some((t) => !Number.isInteger(t) || t < 0))
    fail('ERR_FORMAT', OP, `${where}: expected '${key}' as a non-empty array of non-negative integer token ids but received ${JSON.stringify(v).slice(0, 60)}`);
  return v as number[];
}

function features(where: string, dir: string, v: unknown): PreferenceRecord['image'] {
  if (Array.isArray(v)) {
    const rows = v as unknown[];
    const dv = Array.isArray(rows[0]) ? (rows[0] as unknown[]).length : 0;
    if (!rows.length || !dv || rows.some((r) => !Array.isArray(r) || r.length !== dv || r.some((x) => typeof x !== 'number' || !Number.isFinite(x))))
      fail('ERR_FORMAT', OP, `${where}: expected 'image' inline as [Nv][Dv] finite numbers but received ${JSON.stringify(v).slice(0, 60)}`);
    return { features: Float32Array.from((rows as number[][]).flat()), shape: [rows.length, dv] };
  }
  const spec = typeof v === 'string' ? { path: v } : (v as { path?: unknown; key?: unknown });
  if (!spec || typeof spec.path !== 'string')
    fail('ERR_FORMAT', OP, `${where}: expected 'image' as a .safetensors or .npy path, {path, key} or an inline [Nv][Dv] array but received ${JSON.stringify(v).slice(0, 60)}`);
  const a = arrayFile(where, path.resolve(dir, spec.path), spec.key, 'features', 'image');
  if (a.shape.length !== 2 || a.data.some((x) => !Number.isFinite(x)))
    fail('ERR_FORMAT', OP, `${where}: expected a finite [Nv, Dv] array in ${a.from} but received shape [${a.shape.join(', ')}]${a.shape.length === 2 ? ' with non-finite values' : ''}`);
  return { features: a.data, shape: [a.shape[0]!, a.shape[1]!] };
}

/**
 * A float array from a file next to the data: a NumPy .npy file, or a tensor of a .safetensors file
 * (`key`, default `defaultKey`, else the first), read as float32; errors are line-numbered ERR_FORMAT.
 */
function arrayFile(where: string, file: string, key: unknown, defaultKey: string, what: string): { data: Float32Array; shape: number[]; from: string } {
  if (file.endsWith('.npy')) {
    try {
      return { ...readNpy(file, OP), from: file };
    } catch (e) {
      return fail('ERR_FORMAT', OP, `${where}: ${(e as Error).message.replace(`${OP}: `, '')}`);
    }
  }
  let map;
  try {
    map = loadSafetensors(file, { dtype: 'float32' });
  } catch (e) {
    return fail('ERR_FORMAT', OP, `${where}: expected a readable .safetensors ${what} file but received ${file} (${(e as Error).message})`);
  }
  const k = typeof key === 'string' ? key : map.has(defaultKey) ? defaultKey : [...map.keys()][0]!;
  const t = map.get(k);
  try {
    if (!t) return fail('ERR_FORMAT', OP, `${where}: expected a tensor '${k}' in ${file} but received none`);
    return { data: Float32Array.from(t.toFloat32Array()), shape: [...t.shape], from: `${file} (tensor '${k}')` };
  } finally {
    for (const x of map.values()) x.dispose();
  }
}

/** A raw image: a .npy or .safetensors file (tensor `key`, default `pixels`, else the first), any rank >= 1, read as float32. */
function pixels(where: string, dir: string, v: unknown): PreferenceRecord['pixels'] {
  const spec = typeof v === 'string' ? { path: v } : (v as { path?: unknown; key?: unknown });
  if (!spec || typeof spec !== 'object' || typeof spec.path !== 'string')
    fail('ERR_FORMAT', OP, `${where}: expected 'pixels' as a .npy or .safetensors path or {path, key} but received ${JSON.stringify(v)?.slice(0, 60)}`);
  const a = arrayFile(where, path.resolve(dir, spec.path), spec.key, 'pixels', 'pixels');
  if (a.shape.length < 1 || a.data.some((x) => !Number.isFinite(x)))
    fail('ERR_FORMAT', OP, `${where}: expected finite pixels of rank >= 1 in ${a.from} but received shape [${a.shape.join(', ')}]${a.shape.length ? ' with non-finite values' : ''}`);
  return { data: a.data, shape: a.shape };
}

/** Parses one JSONL line (throws a line-numbered ERR_FORMAT MmprefError). */
export function parseRecord(text: string, line: number, file: string, options: JsonlOptions = {}): PreferenceRecord {
  const where = `${file}:${line}`;
  let rec: unknown;
  try {
    rec = JSON.parse(text);
  } catch (e) {
    fail('ERR_FORMAT', OP, `${where}: expected a JSON object but received invalid JSON (${(e as Error).message})`);
  }
  if (!rec || typeof rec !== 'object' || Array.isArray(rec)) fail('ERR_FORMAT', OP, `${where}: expected a JSON object but received ${JSON.stringify(rec)}`);
  const r = rec as Record<string, unknown>;
  const needText = !options.imagesOnly;
  const prompt = ids(where, r, 'prompt', options.tokenize, needText) ?? [];
  const chosen = ids(where, r, 'chosen', options.tokenize, needText) ?? [];
  if (!needText && r.image === undefined) fail('ERR_FORMAT', OP, `${where}: expected 'image' (imagesOnly data) but received none`);
  const rejected = ids(where, r, 'rejected', options.tokenize, !!options.requireRejected);
  const out: PreferenceRecord = { prompt, chosen, line };
  if (rejected) out.rejected = rejected;
  if (r.image !== undefined) out.image = features(where, path.dirname(file), r.image);
  if (r.pixels !== undefined) out.pixels = pixels(where, path.dirname(file), r.pixels);
  return out;
}

/** A JSONL file as a re-iterable async source of records; each iteration streams the file again. */
export class JsonlDataset implements AsyncIterable<PreferenceRecord> {
  /** Distinct bad lines skipped so far (onBadRecord: 'skip'), over every iteration. */
  get skipped(): number {
    return this.skippedLines.size;
  }
  /** The line numbers skipped. */
  readonly skippedLines = new Set<number>();
  /** The last skipped line's error. */
  lastError?: MmprefError;
  constructor(
    readonly file: string,
    readonly options: JsonlOptions = {},
  ) {
    const mode = options.onBadRecord ?? 'fatal';
    if (!(BAD_RECORD_MODES as readonly string[]).includes(mode)) fail('ERR_ARGUMENT', OP, `expected onBadRecord 'skip' or 'fatal' but received ${JSON.stringify(mode)}`);
    if (!fs.existsSync(file)) fail('ERR_IO', OP, `expected a readable JSONL file but received ${file} (not found)`);
  }

  async *[Symbol.asyncIterator](): AsyncIterator<PreferenceRecord> {
    const rl = readline.createInterface({ input: fs.createReadStream(this.file), crlfDelay: Infinity });
    let line = 0;
    try {
      for await (const text of rl) {
        line++;
        if (!text.trim()) continue;
        try {
          yield parseRecord(text, line, this.file, this.options);
        } catch (e) {
          if (this.options.onBadRecord !== 'skip' || !(e instanceof MmprefError)) throw e;
          this.skippedLines.add(line);
          this.lastError = e;
        }
      }
    } finally {
      rl.close();
    }
  }
}

/** Opens a JSONL data file (see JsonlDataset). */
export function readJsonl(file: string, options: JsonlOptions = {}): JsonlDataset {
  return new JsonlDataset(file, options);
}

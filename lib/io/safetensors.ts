/**
 * safetensors read/write (https://github.com/huggingface/safetensors, format in its README):
 *   u64 little-endian N | N bytes of JSON header | data section
 * The header maps each tensor name to {dtype, shape, data_offsets: [begin, end]} (offsets relative to
 * the data section, row-major little-endian bytes) plus an optional "__metadata__" {string: string}.
 *
 * Written here rather than taken from npm: the only package named safetensors (0.0.1) is an
 * unmaintained stub, and @huggingface/hub parses headers of remote files but reads no tensors.
 *
 * Reading never holds the file twice: the header is parsed and validated first (header length
 * within the file, JSON, dtype x shape == offsets, offsets contiguous and covering the data section
 * exactly, as the reference Rust crate's `validate`), then each tensor's bytes are read with
 * fs.readSync at its offset straight into the destination tensor's memory (or, when a dtype
 * conversion is asked for, through a bounded staging buffer). Host byte order must be little-endian
 * (x86-64 and arm64 are).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fail, MmprefError } from '../errors';
import { ITEM_SIZE, STORAGE_CTOR, decodeToFloat32, encodeInto, type AnyStorage, type DType } from '../dtype';
import { Tensor, empty, numelOf, parseDevice, type DeviceSpec } from '../tensor';

/** safetensors dtype names and their byte widths (all the format defines). */
export const ST_ITEM_SIZE: Record<string, number> = {
  BOOL: 1, U8: 1, I8: 1, F8_E5M2: 1, F8_E4M3: 1, I16: 2, U16: 2, F16: 2, BF16: 2, I32: 4, U32: 4, F32: 4, F64: 8, I64: 8, U64: 8,
};
/** safetensors dtype -> mmpref dtype, for the dtypes mmpref stores. */
export const ST_TO_DTYPE: Partial<Record<string, DType>> = { F32: 'float32', F16: 'float16', BF16: 'bfloat16', I32: 'int32', I64: 'int64', U8: 'uint8', BOOL: 'bool' };
export const DTYPE_TO_ST: Record<DType, string> = { float32: 'F32', float16: 'F16', bfloat16: 'BF16', int32: 'I32', int64: 'I64', uint8: 'U8', bool: 'BOOL' };

/** The reference implementation refuses headers above 100 MB. */
const MAX_HEADER = 100_000_000;
/** Bytes per read() call and per conversion staging buffer. */
const CHUNK = 1 << 24;

export interface SafetensorsEntry {
  /** safetensors dtype name ('F32', 'BF16', ...). */
  dtype: string;
  shape: number[];
  /** Absolute byte offset of the tensor in the file. */
  offset: number;
  byteLength: number;
}

export interface SafetensorsHeader {
  file: string;
  /** Tensors in header order. */
  tensors: Map<string, SafetensorsEntry>;
  metadata: Record<string, string>;
  fileSize: number;
}

export interface LoadProgress {
  /** Bytes of tensor data read so far (over every file of the call). */
  loaded: number;
  /** Bytes of tensor data the call reads in all. */
  total: number;
  /** The tensor just read. */
  name: string;
}

export interface SafetensorsReadOptions {
  /** Convert floating-point tensors to this dtype (default: keep each tensor's own dtype). */
  dtype?: 'float32' | 'float16' | 'bfloat16';
  /** 'cpu' (default), 'cuda' or 'cuda:N'. */
  device?: DeviceSpec;
  /** Read only these tensors (default: all). */
  names?: readonly string[];
  /** Called after each tensor with the bytes read so far. */
  onProgress?: (p: LoadProgress) => void;
}

const OP = 'safetensors';

function io(op: string, what: string, e: unknown): never {
  if (e instanceof MmprefError) throw e;
  fail('ERR_IO', op, `could not ${what}: ${(e as Error).message}`);
}

function readFully(fd: number, dst: Uint8Array, position: number, op: string, file: string): void {
  let done = 0;
  while (done < dst.length) {
    const n = fs.readSync(fd, dst, done, Math.min(CHUNK, dst.length - done), position + done);
    if (n === 0) fail('ERR_FORMAT', op, `expected ${dst.length} bytes at offset ${position} of ${file} but the file ended after ${done}`);
    done += n;
  }
}

const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

/** Parses and validates the header of an open file (every check names the file and the key). */
function parseHeader(fd: number, file: string, op: string): SafetensorsHeader {
  const fileSize = fs.fstatSync(fd).size;
  const bad = (msg: string): never => fail('ERR_FORMAT', op, `${file}: ${msg}`);
  if (fileSize < 8) bad(`expected at least 8 bytes (the header length) but the file has ${fileSize}`);
  const lenBuf = new Uint8Array(8);
  readFully(fd, lenBuf, 0, op, file);
  const n = new DataView(lenBuf.buffer).getBigUint64(0, true);
  if (n > BigInt(Math.min(MAX_HEADER, fileSize - 8)))
    bad(`expected a header length of at most ${Math.min(MAX_HEADER, fileSize - 8)} bytes (within the file) but received ${n}`);
  const headerLen = Number(n);
  const hb = new Uint8Array(headerLen);
  readFully(fd, hb, 8, op, file);
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(hb));
  } catch (e) {
    bad(`expected a UTF-8 JSON header but parsing failed: ${(e as Error).message}`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) bad('expected the header to be a JSON object');
  const dataStart = 8 + headerLen;
  const dataLen = fileSize - dataStart;
  const metadata: Record<string, string> = {};
  const tensors = new Map<string, SafetensorsEntry>();
  const spans: [number, number, string][] = [];
  for (const [key, v] of Object.entries(json as Record<string, unknown>)) {
    if (key === '__metadata__') {
      if (typeof v !== 'object' || v === null || Array.isArray(v)) bad('expected __metadata__ to be an object of strings');
      for (const [mk, mv] of Object.entries(v as Record<string, unknown>)) {
        if (typeof mv !== 'string') bad(`expected __metadata__.${mk} to be a string but received ${typeof mv}`);
        metadata[mk] = mv as string;
      }
      continue;
    }
    const e = v as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (typeof e !== 'object' || e === null) bad(`expected tensor '${key}' to be an object {dtype, shape, data_offsets}`);
    if (typeof e.dtype !== 'string' || !(e.dtype in ST_ITEM_SIZE)) bad(`expected tensor '${key}' to have a safetensors dtype (${Object.keys(ST_ITEM_SIZE).join(', ')}) but received ${JSON.stringify(e.dtype)}`);
    if (!Array.isArray(e.shape) || !e.shape.every(isCount)) bad(`expected tensor '${key}' to have a shape of non-negative integers but received ${JSON.stringify(e.shape)}`);
    const off = e.data_offsets;
    if (!Array.isArray(off) || off.length !== 2 || !isCount(off[0]) || !isCount(off[1]) || off[1] < off[0])
      bad(`expected tensor '${key}' to have data_offsets [begin, end] with 0 <= begin <= end but received ${JSON.stringify(off)}`);
    const [b, end] = off as [number, number];
    const shape = e.shape as number[];
    const bytes = numelOf(shape) * ST_ITEM_SIZE[e.dtype as string]!;
    if (end - b !== bytes) bad(`expected tensor '${key}' (${e.dtype} [${shape.join(', ')}]) to span ${bytes} bytes but its data_offsets [${b}, ${end}] span ${end - b}`);
    if (end > dataLen) bad(`tensor '${key}' ends at data offset ${end} but the data section holds ${dataLen} bytes (truncated file?)`);
    tensors.set(key, { dtype: e.dtype as string, shape, offset: dataStart + b, byteLength: bytes });
    spans.push([b, end, key]);
  }
  // contiguous, no overlaps, no gaps, nothing after the last tensor (safetensors' validate())
  spans.sort((x, y) => x[0] - y[0] || x[1] - y[1]);
  let at = 0;
  for (const [b, end, key] of spans) {
    if (b < at) bad(`tensor '${key}' (data_offsets [${b}, ${end}]) overlaps the tensor before it, which ends at ${at}`);
    if (b > at) bad(`expected tensor '${key}' to start at data offset ${at} (tensors are contiguous) but it starts at ${b}`);
    at = end;
  }
  if (at !== dataLen) bad(`expected the data section to hold ${at} bytes (the end of the last tensor) but it holds ${dataLen}`);
  return { file, tensors, metadata, fileSize };
}

/** Reads and validates the header of a safetensors file (no tensor data is read). */
export function readSafetensorsHeader(file: string): SafetensorsHeader {
  const op = 'readSafetensorsHeader';
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch (e) {
    return io(op, `open ${file}`, e);
  }
  try {
    return parseHeader(fd, file, op);
  } finally {
    fs.closeSync(fd);
  }
}

/** The mmpref dtype a tensor of this entry is read as (ERR_DTYPE when mmpref has none). */
export function targetDtype(e: SafetensorsEntry, name: string, want: SafetensorsReadOptions['dtype'], op: string): DType {
  const own = ST_TO_DTYPE[e.dtype];
  if (!own) fail('ERR_DTYPE', op, `expected tensor '${name}' to be one of ${Object.keys(ST_TO_DTYPE).join(', ')} but received ${e.dtype}`);
  return want && (own === 'float32' || own === 'float16' || own === 'bfloat16') ? want : own;
}

/**
 * Reads one tensor of an open file into `dst` (a CPU tensor of the entry's shape): straight into
 * its memory when the dtypes agree, else through a staging buffer of at most 16 MiB, converted.
 */
export function readTensorInto(fd: number, e: SafetensorsEntry, dst: Tensor, op: string, file: string): void {
  const src = ST_TO_DTYPE[e.dtype]!;
  const data = dst.data as AnyStorage;
  if (src === dst.dtype) {
    readFully(fd, new Uint8Array(data.buffer, data.byteOffset, e.byteLength), e.offset, op, file);
    return;
  }
  const isz = ITEM_SIZE[src];
  const per = Math.max(1, Math.floor(CHUNK / isz));
  const stage = new Uint8Array(Math.min(e.byteLength, per * isz));
  for (let i = 0; i < dst.numel; i += per) {
    const count = Math.min(per, dst.numel - i);
    const bytes = stage.subarray(0, count * isz);
    readFully(fd, bytes, e.offset + i * isz, op, file);
    const vals = decodeToFloat32(src, new STORAGE_CTOR[src](stage.buffer, 0, count));
    encodeInto(dst.dtype, (data as Float32Array).subarray(i, i + count) as AnyStorage, vals, op);
  }
}

/**
 * Reads tensors of a safetensors file: validates the whole header first, allocates each tensor and
 * reads its bytes at its offset (no copy of the file is held). Returns name -> Tensor in header
 * order. On any error, every tensor already read is disposed.
 */
export function loadSafetensors(file: string, options: SafetensorsReadOptions = {}): Map<string, Tensor> {
  const op = 'loadSafetensors';
  const device = options.device ?? 'cpu';
  parseDevice(device, op);
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch (e) {
    return io(op, `open ${file}`, e);
  }
  const out = new Map<string, Tensor>();
  try {
    const h = parseHeader(fd, file, op);
    const names = options.names ?? [...h.tensors.keys()];
    for (const n of names) if (!h.tensors.has(n)) fail('ERR_FORMAT', op, `${file}: expected a tensor '${n}' but the file has none`);
    const total = names.reduce((a, n) => a + h.tensors.get(n)!.byteLength, 0);
    let loaded = 0;
    for (const n of names) {
      const e = h.tensors.get(n)!;
      const t = empty(e.shape, targetDtype(e, n, options.dtype, op));
      readTensorInto(fd, e, t, op, file);
      out.set(n, parseDevice(device, op) >= 0 ? t.to(device) : t);
      loaded += e.byteLength;
      options.onProgress?.({ loaded, total, name: n });
    }
    return out;
  } catch (e) {
    for (const t of out.values()) t.dispose();
    return io(op, `read ${file}`, e);
  } finally {
    fs.closeSync(fd);
  }
}

export interface SafetensorsWriteOptions {
  /** Strings stored as "__metadata__" (default {format: 'pt'}, what transformers expects). */
  metadata?: Record<string, string>;
  /** Convert floating-point tensors to this dtype on the way out (default: each tensor's own). */
  dtype?: 'float32' | 'float16' | 'bfloat16';
}

/** Bytes of `t` as they go into the file (converted to `dtype` when asked), on the host. */
function hostBytes(t: Tensor, dtype: DType): Uint8Array {
  const host = t.device === 'cpu' ? t : t.to('cpu');
  let data = host.data as AnyStorage;
  if (dtype !== t.dtype) {
    const conv = new STORAGE_CTOR[dtype](t.numel);
    encodeInto(dtype, conv, decodeToFloat32(t.dtype, data), 'saveSafetensors');
    data = conv;
  }
  return new Uint8Array(data.buffer, data.byteOffset, t.numel * ITEM_SIZE[dtype]);
}

const isFloat = (d: DType) => d === 'float32' || d === 'float16' || d === 'bfloat16';

/** The header JSON bytes (padded with spaces to a multiple of 8) and the out dtype of each tensor. */
function buildHeader(tensors: readonly (readonly [string, Tensor])[], o: SafetensorsWriteOptions): { header: Uint8Array; dtypes: DType[] } {
  const json: Record<string, unknown> = { __metadata__: o.metadata ?? { format: 'pt' } };
  let at = 0;
  const dtypes: DType[] = [];
  const seen = new Set<string>();
  for (const [name, t] of tensors) {
    if (seen.has(name) || name === '__metadata__') fail('ERR_ARGUMENT', 'saveSafetensors', `expected unique tensor names but received '${name}' twice`);
    seen.add(name);
    const dt = o.dtype && isFloat(t.dtype) ? o.dtype : t.dtype;
    const bytes = t.numel * ITEM_SIZE[dt];
    json[name] = { dtype: DTYPE_TO_ST[dt], shape: [...t.shape], data_offsets: [at, at + bytes] };
    dtypes.push(dt);
    at += bytes;
  }
  const text = JSON.stringify(json);
  const raw = new TextEncoder().encode(text);
  const padded = Math.ceil(raw.length / 8) * 8;
  const header = new Uint8Array(8 + padded).fill(0x20);
  new DataView(header.buffer).setBigUint64(0, BigInt(padded), true);
  header.set(raw, 8);
  return { header, dtypes };
}

/**
 * Writes tensors to a safetensors file in the given order (one tensor at a time is staged on the
 * host). The file is written under a temporary name and renamed, so a failed write leaves no
 * partial file under `file`.
 */
export function saveSafetensors(file: string, tensors: readonly (readonly [string, Tensor])[], options: SafetensorsWriteOptions = {}): void {
  const op = 'saveSafetensors';
  const { header, dtypes } = buildHeader(tensors, options);
  const tmp = `${file}.tmp-${process.pid}`;
  let fd: number | undefined;
  try {
    fd = fs.openSync(tmp, 'w');
    fs.writeSync(fd, header);
    tensors.forEach(([, t], i) => {
      const b = hostBytes(t, dtypes[i]!);
      for (let done = 0; done < b.length; ) done += fs.writeSync(fd!, b, done, Math.min(CHUNK, b.length - done));
    });
    fs.closeSync(fd);
    fd = undefined;
    fs.renameSync(tmp, file);
  } catch (e) {
    if (fd !== undefined) fs.closeSync(fd);
    fs.rmSync(tmp, { force: true });
    io(op, `write ${file}`, e);
  }
}

export interface SafetensorsDirOptions extends SafetensorsWriteOptions {
  /** Largest shard in bytes; above it the tensors are split over model-0000i-of-0000n.safetensors + an index (default: one file). */
  maxShardBytes?: number;
  /** File name stem (default 'model'). */
  stem?: string;
}

/**
 * Writes `<stem>.safetensors`, or when the tensors exceed `maxShardBytes`, shards
 * `<stem>-00001-of-0000n.safetensors` ... plus `<stem>.safetensors.index.json` ({metadata:
 * {total_size}, weight_map}) as transformers' save_pretrained does. Returns the files written.
 */
export function saveSafetensorsDir(dir: string, tensors: readonly (readonly [string, Tensor])[], options: SafetensorsDirOptions = {}): string[] {
  const stem = options.stem ?? 'model';
  const max = options.maxShardBytes ?? Infinity;
  if (!(max > 0)) fail('ERR_RANGE', 'saveSafetensors', `expected maxShardBytes > 0 but received ${max}`);
  const bytesOf = (t: Tensor) => t.numel * ITEM_SIZE[options.dtype && isFloat(t.dtype) ? options.dtype : t.dtype];
  const total = tensors.reduce((a, [, t]) => a + bytesOf(t), 0);
  fs.mkdirSync(dir, { recursive: true });
  if (total <= max) {
    saveSafetensors(path.join(dir, `${stem}.safetensors`), tensors, options);
    return [`${stem}.safetensors`];
  }
  const shards: (readonly [string, Tensor])[][] = [[]];
  let size = 0;
  for (const e of tensors) {
    const b = bytesOf(e[1]);
    if (size > 0 && size + b > max) {
      shards.push([]);
      size = 0;
    }
    shards[shards.length - 1]!.push(e);
    size += b;
  }
  const pad = (i: number) => String(i).padStart(5, '0');
  const names = shards.map((_, i) => `${stem}-${pad(i + 1)}-of-${pad(shards.length)}.safetensors`);
  const weightMap: Record<string, string> = {};
  shards.forEach((s, i) => {
    saveSafetensors(path.join(dir, names[i]!), s, options);
    for (const [n] of s) weightMap[n] = names[i]!;
  });
  const index = `${stem}.safetensors.index.json`;
  fs.writeFileSync(path.join(dir, index), JSON.stringify({ metadata: { total_size: total }, weight_map: weightMap }, null, 2) + '\n');
  return [...names, index];
}

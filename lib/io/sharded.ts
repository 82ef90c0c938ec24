/**
 * A checkpoint directory's tensors: `<stem>.safetensors`, or the shards named by
 * `<stem>.safetensors.index.json` ({metadata: {total_size}, weight_map: {name: file}}), as
 * transformers' save_pretrained writes them. Headers of every file are read and validated first;
 * tensors are then read one at a time at their offsets (nothing holds a file twice).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fail, MmprefError } from '../errors';
import type { DType } from '../dtype';
import { empty, parseDevice, type DeviceSpec, type Tensor } from '../tensor';
import { readSafetensorsHeader, readTensorInto, type LoadProgress, type SafetensorsEntry } from './safetensors';

export interface DirEntry extends SafetensorsEntry {
  file: string;
}

/** Every tensor of the directory by name, with its file. */
export function openSafetensorsDir(dir: string, stem: string, op: string): Map<string, DirEntry> {
  const single = path.join(dir, `${stem}.safetensors`);
  const indexFile = path.join(dir, `${stem}.safetensors.index.json`);
  const out = new Map<string, DirEntry>();
  if (!fs.existsSync(indexFile)) {
    if (!fs.existsSync(single)) fail('ERR_IO', op, `expected ${single} or ${indexFile} but neither exists`);
    for (const [n, e] of readSafetensorsHeader(single).tensors) out.set(n, { ...e, file: single });
    return out;
  }
  let index: unknown;
  try {
    index = JSON.parse(fs.readFileSync(indexFile, 'utf8'));
  } catch (e) {
    fail('ERR_FORMAT', op, `${indexFile}: expected JSON but reading it failed: ${(e as Error).message}`);
  }
  const wm = (index as { weight_map?: unknown } | null)?.weight_map;
  if (typeof wm !== 'object' || wm === null || Array.isArray(wm)) fail('ERR_FORMAT', op, `${indexFile}: weight_map: expected an object {tensor name: file}`);
  const byFile = new Map<string, string[]>();
  for (const [n, f] of Object.entries(wm as Record<string, unknown>)) {
    if (typeof f !== 'string' || f !== path.basename(f) || !f.endsWith('.safetensors'))
      fail('ERR_FORMAT', op, `${indexFile}: weight_map['${n}']: expected a .safetensors file name in the directory but received ${JSON.stringify(f)}`);
    byFile.set(f, [...(byFile.get(f) ?? []), n]);
  }
  for (const [f, names] of byFile) {
    const file = path.join(dir, f);
    const h = readSafetensorsHeader(file);
    for (const n of names) {
      const e = h.tensors.get(n);
      if (!e) fail('ERR_FORMAT', op, `${indexFile}: weight_map puts '${n}' in ${f} but that file has no such tensor`);
      out.set(n, { ...e, file });
    }
    for (const n of h.tensors.keys())
      if ((wm as Record<string, unknown>)[n] !== f) fail('ERR_FORMAT', op, `${file}: tensor '${n}' is not mapped to this file by ${indexFile}`);
  }
  return out;
}

export interface ReadItem {
  /** Name in the directory. */
  name: string;
  dtype: DType;
}

/**
 * Reads the listed tensors (allocated on `device`); on any failure, disposes everything read so
 * far and rethrows. `onProgress` follows each tensor.
 */
export function readDirTensors(entries: Map<string, DirEntry>, items: readonly ReadItem[], device: DeviceSpec, op: string, onProgress?: (p: LoadProgress) => void): Tensor[] {
  const dev = parseDevice(device, op);
  const out: Tensor[] = [];
  const fds = new Map<string, number>();
  const total = items.reduce((a, it) => a + entries.get(it.name)!.byteLength, 0);
  let loaded = 0;
  try {
    for (const it of items) {
      const e = entries.get(it.name)!;
      let fd = fds.get(e.file);
      if (fd === undefined) {
        try {
          fd = fs.openSync(e.file, 'r');
        } catch (err) {
          fail('ERR_IO', op, `could not open ${e.file}: ${(err as Error).message}`);
        }
        fds.set(e.file, fd);
      }
      const host = empty(e.shape, it.dtype);
      readTensorInto(fd, e, host, op, e.file);
      if (dev >= 0) {
        out.push(host.to(device));
        host.dispose();
      } else out.push(host);
      loaded += e.byteLength;
      onProgress?.({ loaded, total, name: it.name });
    }
    return out;
  } catch (err) {
    for (const t of out) t.dispose();
    if (err instanceof MmprefError) throw err;
    return fail('ERR_IO', op, `could not read the checkpoint: ${(err as Error).message}`);
  } finally {
    for (const fd of fds.values()) fs.closeSync(fd);
  }
}

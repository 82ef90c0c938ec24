/**
 * NumPy .npy files (format versions 1.0, 2.0 and 3.0: magic, header length, a Python-dict header
 * with 'descr', 'fortran_order' and 'shape', then the raw array), read as float32. Little-endian
 * float16, float32 and float64 in C order; anything else is a typed ERR_FORMAT naming the file.
 * The header is read first and checked against the file size before the data is read.
 */
import fs from 'node:fs';
import { halfBitsToNumber } from '../dtype';
import { fail } from '../errors';

export interface NpyArray {
  data: Float32Array;
  shape: number[];
}

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

/** Reads a .npy file's array as float32 (op names the caller in errors). */
export function readNpy(file: string, op = 'readNpy'): NpyArray {
  const bad = (expected: string, received: string): never => fail('ERR_FORMAT', op, `${file}: expected ${expected} but received ${received}`);
  let buf: Buffer;
  try {
    buf = fs.readFileSync(file);
  } catch (e) {
    return fail('ERR_IO', op, `expected a readable .npy file but received ${file} (${(e as Error).message})`);
  }
  if (buf.length < 10 || MAGIC.some((b, i) => buf[i] !== b)) bad('a NumPy .npy file (magic \\x93NUMPY)', 'other bytes');
  const major = buf[6]!;
  if (major < 1 || major > 3) bad('.npy format version 1, 2 or 3', `version ${major}.${buf[7]}`);
  const wide = major >= 2;
  const hlen = wide ? buf.readUInt32LE(8) : buf.readUInt16LE(8);
  const start = (wide ? 12 : 10) + hlen;
  if (start > buf.length) bad(`a ${hlen}-byte header (as declared)`, `a ${buf.length}-byte file`);
  const header = buf.toString(major === 3 ? 'utf8' : 'latin1', wide ? 12 : 10, start);
  const descr = /'descr'\s*:\s*'([^']*)'/.exec(header)?.[1];
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape'\s*:\s*\(([^)]*)\)/.exec(header)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined) bad("a header with 'descr', 'fortran_order' and 'shape'", JSON.stringify(header.trim().slice(0, 80)));
  if (fortran === 'True') bad('a C-order array (np.ascontiguousarray)', 'a Fortran-order one');
  const shape = shapeText!
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
    .map((s) => (/^\d+$/.test(s) ? Number(s) : NaN));
  if (shape.some((d) => !Number.isSafeInteger(d))) bad('a shape of non-negative integers', `(${shapeText})`);
  const size = { '<f2': 2, '<f4': 4, '<f8': 8 }[descr as '<f4'];
  if (size === undefined) bad("a little-endian float dtype ('<f2', '<f4' or '<f8')", `'${descr}'`);
  const n = shape.reduce((a, b) => a * b, 1);
  if (start + n * size! !== buf.length) bad(`${n * size!} data bytes (shape [${shape.join(', ')}] of '${descr}')`, `${buf.length - start} (truncated or padded file?)`);
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const at = start + i * size!;
    data[i] = size === 4 ? buf.readFloatLE(at) : size === 8 ? buf.readDoubleLE(at) : halfBitsToNumber(buf.readUInt16LE(at));
  }
  return { data, shape };
}

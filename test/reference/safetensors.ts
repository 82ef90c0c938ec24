/**
 * Test-side safetensors bytes, written from the format description (u64 LE header length, JSON
 * header, data section) and never with mmpref's writer, so a reader bug and a writer bug cannot
 * cancel out. Values are encoded here too: F32 via Float32Array, BF16 as the top 16 bits of an
 * exactly representable float32, F16 only for values that are exactly representable (checked).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { halfBitsToNumber, numberToHalfBits } from '../../lib';

export type StDtype = 'F32' | 'F16' | 'BF16' | 'I32' | 'I64' | 'U8';
export interface StTensor {
  name: string;
  dtype: StDtype;
  shape: number[];
  /** Values exactly representable in `dtype` (see roundTo). */
  values: ArrayLike<number>;
}

/** The nearest value of `dtype` (F32: fround; BF16: float32 truncated to its top 16 bits; F16: multiples of 2^-10 in [-2, 2)). */
export function roundTo(dtype: StDtype, v: number): number {
  if (dtype === 'F32') return Math.fround(v);
  if (dtype === 'BF16') {
    const f = new Float32Array([v]);
    const u = new Uint32Array(f.buffer);
    u[0] = u[0]! & 0xffff0000;
    return f[0]!;
  }
  if (dtype === 'F16') return Math.max(-2, Math.min(2 - 2 ** -10, Math.round(v * 1024) / 1024));
  return Math.round(v);
}

function encode(t: StTensor): Uint8Array {
  const n = t.values.length;
  switch (t.dtype) {
    case 'F32':
      return new Uint8Array(Float32Array.from(t.values).buffer);
    case 'BF16': {
      const f = Float32Array.from(t.values);
      const u = new Uint32Array(f.buffer);
      const out = new Uint16Array(n);
      for (let i = 0; i < n; i++) {
        if ((u[i]! & 0xffff) !== 0) throw new Error(`${t.name}[${i}] is not a bfloat16 value`);
        out[i] = u[i]! >>> 16;
      }
      return new Uint8Array(out.buffer);
    }
    case 'F16': {
      const out = new Uint16Array(n);
      for (let i = 0; i < n; i++) {
        out[i] = numberToHalfBits(t.values[i]!);
        if (halfBitsToNumber(out[i]!) !== t.values[i]) throw new Error(`${t.name}[${i}] is not a float16 value`);
      }
      return new Uint8Array(out.buffer);
    }
    case 'I32':
      return new Uint8Array(Int32Array.from(t.values).buffer);
    case 'I64':
      return new Uint8Array(BigInt64Array.from(Array.from(t.values, (v) => BigInt(v))).buffer);
    case 'U8':
      return Uint8Array.from(t.values);
  }
}

/** The bytes of a safetensors file holding `tensors` (in this order); `pad` adds trailing spaces to the header. */
export function safetensorsBytes(tensors: StTensor[], metadata: Record<string, string> | null = { format: 'pt' }): Uint8Array {
  const header: Record<string, unknown> = {};
  if (metadata) header.__metadata__ = metadata;
  const parts: Uint8Array[] = [];
  let at = 0;
  for (const t of tensors) {
    const b = encode(t);
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [at, at + b.length] };
    parts.push(b);
    at += b.length;
  }
  return rawSafetensors(JSON.stringify(header), parts);
}

/** u64 LE length + header text (space-padded to 8) + data parts. */
export function rawSafetensors(headerJson: string, parts: Uint8Array[] = [], headerLength?: bigint): Uint8Array {
  let text = headerJson;
  while (Buffer.byteLength(text) % 8) text += ' ';
  const h = Buffer.from(text);
  const data = Buffer.concat(parts);
  const out = Buffer.alloc(8 + h.length + data.length);
  out.writeBigUInt64LE(headerLength ?? BigInt(h.length), 0);
  h.copy(out, 8);
  data.copy(out, 8 + h.length);
  return new Uint8Array(out.buffer, out.byteOffset, out.length);
}

export function writeFileIn(dir: string, name: string, bytes: Uint8Array | string): string {
  fs.mkdirSync(dir, { recursive: true });
  const f = path.join(dir, name);
  fs.writeFileSync(f, bytes);
  return f;
}

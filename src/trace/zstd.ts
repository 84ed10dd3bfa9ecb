// zstd plumbing for traces: the zstd-codec (wasm) compressor loaded once, and a parser of
// zstd frame boundaries (RFC 8878, section 3.1) so a file can be walked frame by frame
// without decompressing it (files without a seek table, i.e. runs that crashed).
//
// zstd-codec's wasm heap is small: callers compress and decompress one bounded frame at a
// time, never a whole file.

import { createRequire } from 'node:module';

interface ZstdSimple {
  compress(data: Uint8Array, level?: number): Uint8Array | null;
  decompress(data: Uint8Array): Uint8Array | null | undefined;
}
interface ZstdModule {
  Simple: new () => ZstdSimple;
}
interface ZstdCodecPackage {
  ZstdCodec: { run(cb: (zstd: ZstdModule) => void): void };
}

export interface Zstd {
  compress(data: Uint8Array, level: number): Uint8Array;
  /** Decompresses one frame whose header declares its content size; null if it fails. */
  decompress(frame: Uint8Array): Uint8Array | null;
}

let loading: Promise<Zstd> | undefined;
let loaded: Zstd | undefined;

/** The codec if loadZstd() has completed, for synchronous callers. */
export function zstdIfLoaded(): Zstd | undefined {
  return loaded;
}

/** Loads the zstd codec once per process. */
export function loadZstd(): Promise<Zstd> {
  if (!loading) {
    loading = new Promise<Zstd>((resolve, reject) => {
      try {
        const require = createRequire(import.meta.url);
        const pkg = require('zstd-codec') as ZstdCodecPackage;
        pkg.ZstdCodec.run((z) => {
          const simple = new z.Simple();
          loaded = {
            compress(data, level) {
              const out = simple.compress(data, level);
              if (!out) throw new Error(`zstd: compressing a ${data.length}-byte frame failed`);
              return out;
            },
            decompress(frame) {
              try {
                return simple.decompress(frame) ?? null;
              } catch {
                return null;
              }
            },
          };
          resolve(loaded);
        });
      } catch (err) {
        reject(err);
      }
    });
  }
  return loading;
}

export const ZSTD_MAGIC = 0xfd2fb528;
export const SKIPPABLE_MASK = 0xfffffff0;
export const SKIPPABLE_BASE = 0x184d2a50;

export type FrameExtent =
  | { kind: 'zstd'; size: number; contentSize: number | null }
  | { kind: 'skippable'; magic: number; size: number }
  | { kind: 'truncated'; what: string }
  | { kind: 'bad'; what: string };

/** Reads up to `len` bytes at `pos` (fewer at the end of the file). */
export type ReadAt = (pos: number, len: number) => Uint8Array;

function le32(b: Uint8Array, p: number): number {
  return (b[p] | (b[p + 1] << 8) | (b[p + 2] << 16) | (b[p + 3] << 24)) >>> 0;
}

/**
 * The extent of the frame starting at `pos` in a file of `fileSize` bytes, found from the
 * frame header and block headers alone.
 */
export function frameExtent(readAt: ReadAt, pos: number, fileSize: number): FrameExtent {
  const head = readAt(pos, 18);
  if (head.length < 4) return { kind: 'truncated', what: 'a frame magic number' };
  const magic = le32(head, 0);
  if ((magic & SKIPPABLE_MASK) >>> 0 === SKIPPABLE_BASE) {
    if (head.length < 8) return { kind: 'truncated', what: 'a skippable frame header' };
    const size = 8 + le32(head, 4);
    if (pos + size > fileSize) return { kind: 'truncated', what: `a ${size}-byte skippable frame` };
    return { kind: 'skippable', magic, size };
  }
  if (magic !== ZSTD_MAGIC) return { kind: 'bad', what: `bytes ${hex(head.subarray(0, 4))} where a zstd frame should start` };
  if (head.length < 5) return { kind: 'truncated', what: 'a zstd frame header' };
  const fhd = head[4];
  const fcsFlag = fhd >>> 6;
  const single = (fhd >>> 5) & 1;
  const checksum = (fhd >>> 2) & 1;
  if (fhd & 0x08) return { kind: 'bad', what: 'a zstd frame header with the reserved bit set' };
  const dictBytes = [0, 1, 2, 4][fhd & 3];
  const fcsBytes = fcsFlag === 0 ? single : [0, 2, 4, 8][fcsFlag];
  const hdrLen = 5 + (single ? 0 : 1) + dictBytes + fcsBytes;
  if (head.length < hdrLen) return { kind: 'truncated', what: 'a zstd frame header' };
  let contentSize: number | null = null;
  if (fcsBytes > 0) {
    const p = hdrLen - fcsBytes;
    if (fcsBytes === 1) contentSize = head[p];
    else if (fcsBytes === 2) contentSize = (head[p] | (head[p + 1] << 8)) + 256;
    else if (fcsBytes === 4) contentSize = le32(head, p);
    else contentSize = le32(head, p) + le32(head, p + 4) * 2 ** 32;
  }
  let p = pos + hdrLen;
  for (;;) {
    const bh = readAt(p, 3);
    if (bh.length < 3) return { kind: 'truncated', what: 'a zstd block header' };
    const h = bh[0] | (bh[1] << 8) | (bh[2] << 16);
    const last = h & 1;
    const type = (h >>> 1) & 3;
    const size = h >>> 3;
    if (type === 3) return { kind: 'bad', what: 'a zstd block of reserved type' };
    p += 3 + (type === 1 ? 1 : size);
    if (p > fileSize) return { kind: 'truncated', what: 'a zstd block' };
    if (last) break;
  }
  if (checksum) p += 4;
  if (p > fileSize) return { kind: 'truncated', what: 'a zstd frame checksum' };
  return { kind: 'zstd', size: p - pos, contentSize };
}

export function hex(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join(' ');
}

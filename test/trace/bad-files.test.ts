// Every way a trace file can be bad gives one TraceFormatError with a one-line message.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { readFileSync, writeFileSync } from 'node:fs';
import { execFileSync, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { STREAM_MAGIC, TraceReader } from '../../src/trace/container.js';
import { TraceFormatError, type TraceFormatErrorCode } from '../../src/trace/errors.js';
import { ByteWriter } from '../../src/trace/encoding.js';
import { loadZstd } from '../../src/trace/zstd.js';
import { syntheticEvents, tempDir, writeTrace, endAfter } from './helpers.js';
import { DEFAULT_ZSTD_LEVEL } from '../../src/trace/container.js';

const { dir, cleanup } = tempDir();
afterAll(cleanup);

const events = syntheticEvents(3000, 2);
let good: Buffer;
let goodEvents: unknown[];
beforeAll(async () => {
  const path = join(dir, 'good.zst');
  await writeTrace(path, events, { frameBytes: 2048 }, [{ name: 'k', role: 'kernel', bytes: new Uint8Array(3000).fill(9) }]);
  good = readFileSync(path);
  goodEvents = [...events, endAfter(events)];
});

let n = 0;
function file(bytes: Uint8Array): string {
  const path = join(dir, `bad-${n++}.zst`);
  writeFileSync(path, bytes);
  return path;
}

/** Opens and reads everything; returns the error (or null if the file read fine). */
async function attempt(path: string, allowIncomplete = false): Promise<unknown> {
  try {
    const r = await TraceReader.open(path, { allowIncomplete });
    try {
      for (let i = 0; i < r.header.images.length; i++) if (r.header.images[i].embedded) r.image(i);
      return [...r.events()];
    } finally {
      r.close();
    }
  } catch (e) {
    return e;
  }
}

async function expectError(path: string, code: TraceFormatErrorCode, message: RegExp): Promise<void> {
  const err = await attempt(path);
  expect(err).toBeInstanceOf(TraceFormatError);
  expect((err as TraceFormatError).code).toBe(code);
  expect((err as Error).message).toMatch(message);
  expect((err as Error).message).not.toMatch(/\n/);
}

async function zstdFrame(content: Uint8Array): Promise<Uint8Array> {
  return (await loadZstd()).compress(content, DEFAULT_ZSTD_LEVEL);
}

describe('bad trace files', () => {
  it('empty file', async () => {
    await expectError(file(new Uint8Array(0)), 'empty', /^bad-\d+\.zst: empty file \(0 bytes\), not an hvsim trace$/);
  });

  it('not zstd: text, gzip, a one-byte file', async () => {
    await expectError(file(new TextEncoder().encode('hello, world\n')), 'not-zstd', /not a zstd file \(starts with 68 65 6c 6c\), so not an hvsim trace/);
    await expectError(file(Uint8Array.of(0x1f, 0x8b, 8, 0, 0, 0)), 'not-zstd', /not a zstd file/);
    await expectError(file(Uint8Array.of(0x28)), 'not-zstd', /not a zstd file \(starts with 28\)/);
  });

  it('zstd, but not a trace', async () => {
    await expectError(file(await zstdFrame(new TextEncoder().encode('just some text, compressed'))), 'bad-magic', /a zstd file but not an hvsim trace/);
  });

  it.skipIf(spawnSync('zstd', ['--version']).status !== 0)('zstd from the stock tool (streamed, or led by a skippable frame), but not a trace', async () => {
    const streamed = execFileSync('zstd', ['-q', '-c'], { input: Buffer.from('hello from a pipe\n') });
    await expectError(file(streamed), 'bad-magic', /a zstd file but not an hvsim trace \(its first frame does not declare its size/);
    const skippable = Buffer.concat([Buffer.from([0x50, 0x2a, 0x4d, 0x18, 0, 0, 0, 0]), streamed]);
    await expectError(file(skippable), 'bad-magic', /starts with a skippable frame/);
    const sized = execFileSync('zstd', ['-q', '-c', join(dir, 'good.zst')]); // a trace compressed again
    await expectError(file(sized), 'bad-magic', /not an hvsim trace/);
  });

  it('another format version', async () => {
    const w = new ByteWriter();
    w.ensure(10);
    w.buf.set(STREAM_MAGIC, 0);
    w.pos = 8;
    w.u8(2);
    w.u8(0);
    w.str('{"some":"future header"}');
    await expectError(file(await zstdFrame(w.bytes())), 'bad-version', /trace format version 2; this hvsim reads version 1 only/);
    // the good file with its version bytes patched (header frame re-compressed in place)
    const r = await TraceReader.open(join(dir, 'good.zst'));
    const h0 = r.frameContent(0).slice();
    r.close();
    h0[8] = 0;
    h0[9] = 1;
    const patched = Buffer.concat([await zstdFrame(h0), good.subarray(r.frames[1].offset)]);
    await expectError(file(patched), 'bad-version', /trace format version 256/);
  });

  it('truncated: in the middle, and right after the header', async () => {
    await expectError(file(good.subarray(0, good.length >> 1)), 'truncated', /truncated: the last \d+ bytes are an incomplete frame/);
    await expectError(file(good.subarray(0, 20)), 'truncated', /the file ends inside its first frame/);
    const r = await TraceReader.open(join(dir, 'good.zst'));
    const afterHeader = r.frames[1].offset;
    r.close();
    await expectError(file(good.subarray(0, afterHeader)), 'truncated', /no end event and no seek table/);
  });

  it('corrupt: a flipped byte inside an event frame, a damaged seek table', async () => {
    const r = await TraceReader.open(join(dir, 'good.zst'));
    const f = r.frames[r.frames.length - 3];
    r.close();
    const flipped = Buffer.from(good);
    flipped[f.offset + (f.compressedSize >> 1)] ^= 0x10;
    await expectError(file(flipped), 'corrupt', /corrupt|CRC-32|does not decompress/);
    const table = Buffer.from(good);
    table[table.length - 9 - 8 * 3] ^= 0x01; // a compressed size in the seek table
    await expectError(file(table), 'corrupt', /index|seek table/);
  });

  it('property: every cut of a good file is either complete or one TraceFormatError', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: good.length - 1 }), async (len) => {
        const res = await attempt(file(good.subarray(0, len)));
        if (res instanceof Error) {
          expect(res).toBeInstanceOf(TraceFormatError);
          expect(['truncated', 'empty', 'not-zstd']).toContain((res as TraceFormatError).code);
        } else {
          // only the index and seek table are missing: nothing is lost
          expect(res).toEqual(goodEvents);
        }
      }),
      { numRuns: 150 },
    );
  });

  it('property: any single flipped byte gives the same events or one TraceFormatError, never another error', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: good.length - 1 }), fc.integer({ min: 1, max: 255 }), async (pos, x) => {
        const bytes = Buffer.from(good);
        bytes[pos] ^= x;
        const res = await attempt(file(bytes));
        if (res instanceof Error) {
          expect(res).toBeInstanceOf(TraceFormatError);
          expect(res.message).not.toMatch(/\n/);
        } else expect(res).toEqual(goodEvents);
      }),
      { numRuns: 400 },
    );
  });
});

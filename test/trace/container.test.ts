import { afterAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TraceReader, TraceWriter, STREAM_MAGIC, DEFAULT_FRAME_BYTES, loadTraceCodec } from '../../src/trace/container.js';
import { TraceFormatError } from '../../src/trace/errors.js';
import type { TraceEvent } from '../../src/trace/encoding.js';
import { eventsArb } from './arbitraries.js';
import { HEADER, endAfter, readAll, syntheticEvents, tempDir, writeTrace } from './helpers.js';

const { dir, cleanup } = tempDir();
afterAll(cleanup);

const hasZstd = spawnSync('zstd', ['--version']).status === 0;

describe('trace container', () => {
  it('round-trips header, images and events, and finalises atomically', async () => {
    const path = join(dir, 'small.zst');
    const kernel = Uint8Array.from({ length: 700_000 }, (_, i) => (i * 13) ^ (i >>> 9));
    const disk = new Uint8Array(5000).fill(0xaa);
    const events = syntheticEvents(1000, 2);
    const w = await TraceWriter.create(path, HEADER, [
      { name: 'hello.elf', role: 'kernel', bytes: kernel },
      { name: 'disk.img', role: 'disk:0', bytes: disk, embed: false },
      { name: 'empty', role: 'initrd', bytes: new Uint8Array(0) },
    ]);
    expect(existsSync(`${path}.tmp`)).toBe(true);
    for (const e of events) w.append(e);
    expect(existsSync(path)).toBe(false);
    w.close(endAfter(events));
    expect(existsSync(`${path}.tmp`)).toBe(false);

    const r = await TraceReader.open(path);
    expect(r.complete).toBe(true);
    expect(r.indexed).toBe(true);
    expect(r.header).toEqual({
      ...HEADER,
      images: [
        { name: 'hello.elf', role: 'kernel', size: 700_000, sha256: expect.stringMatching(/^[0-9a-f]{64}$/), embedded: true },
        { name: 'disk.img', role: 'disk:0', size: 5000, sha256: expect.stringMatching(/^[0-9a-f]{64}$/), embedded: false },
        { name: 'empty', role: 'initrd', size: 0, sha256: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855', embedded: true },
      ],
    });
    expect(Buffer.from(r.image(0)).equals(kernel)).toBe(true);
    expect(r.image(2)).toEqual(new Uint8Array(0));
    expect(() => r.image(1)).toThrow(/recorded by hash only/);
    expect([...r.events()]).toEqual([...events, endAfter(events)]);
    expect(r.eventCount).toBe(1001);
    r.close();
  });

  it('splits a long run into bounded frames, seeks by event number and icount, and is byte-identical when repeated', async () => {
    const events = syntheticEvents(60_000, 3);
    const a = join(dir, 'long-a.zst');
    const b = join(dir, 'long-b.zst');
    await writeTrace(a, events, { frameBytes: 16 << 10 });
    await writeTrace(b, events, { frameBytes: 16 << 10 });
    expect(readFileSync(a).equals(readFileSync(b))).toBe(true);

    const r = await TraceReader.open(a);
    expect(r.frames.length).toBeGreaterThan(20);
    for (const f of r.frames) expect(f.contentSize).toBeLessThan((16 << 10) + 64);
    const all = [...r.events()];
    expect(all).toEqual([...events, endAfter(events)]);

    // seek by event number
    for (const n of [0, 1, 12345, 59_999, 60_000]) {
      const it = r.events({ fromEvent: n });
      expect(it.next().value).toEqual(all[n]);
    }
    // seek by icount: the frame found starts at or before the icount, the next one after it
    for (const vcpu of [0, 1, 2]) {
      const target = events.filter((e) => e.vcpu === vcpu)[7000].icount;
      const fi = r.frameForIcount(vcpu, target);
      expect(r.frames[fi].icounts[vcpu] ?? 0).toBeLessThanOrEqual(target);
      if (fi + 1 < r.frames.length) expect(r.frames[fi + 1].icounts[vcpu]).toBeGreaterThan(target);
      const found = [...r.events({ fromFrame: fi })].find((e) => e.vcpu === vcpu && e.icount >= target);
      expect(found?.icount).toBe(target);
    }
    r.close();
  });

  it('uses ~1 MiB frames by default', async () => {
    const path = join(dir, 'default.zst');
    const events = syntheticEvents(300_000);
    await writeTrace(path, events);
    const r = await TraceReader.open(path);
    const eventFrames = r.frames.filter((f) => f.eventCount > 0);
    expect(eventFrames.length).toBeGreaterThanOrEqual(2);
    expect(eventFrames[0].contentSize).toBeGreaterThanOrEqual(DEFAULT_FRAME_BYTES);
    expect(eventFrames[0].contentSize).toBeLessThan(DEFAULT_FRAME_BYTES + 64);
    const got = [...r.events()];
    expect(got.length).toBe(events.length + 1);
    expect(got.slice(0, -1)).toEqual(events);
    r.close();
  });

  it.skipIf(!hasZstd)('is decompressed by a stock `zstd -d` into the raw record stream (skipped if no zstd binary)', async () => {
    const path = join(dir, 'stock.zst');
    const events = syntheticEvents(20_000);
    await writeTrace(path, events, { frameBytes: 8 << 10 }, [{ name: 'k', role: 'kernel', bytes: new Uint8Array(300_000).fill(1) }]);
    const out = join(dir, 'stock.raw');
    execFileSync('zstd', ['-q', '-d', path, '-o', out]);
    const raw = readFileSync(out);
    expect([...raw.subarray(0, 8)]).toEqual([...STREAM_MAGIC]);
    const r = await TraceReader.open(path);
    const parts = r.frames.map((_, i) => r.frameContent(i));
    expect(Buffer.concat(parts).equals(raw)).toBe(true);
    r.close();
    // and `zstd -t` is happy with every frame, skippable ones included
    execFileSync('zstd', ['-q', '-t', path]);
  });

  it.skipIf(!hasZstd)('ends with a seek table in the zstd seekable format whose entries stock zstd agrees with', async () => {
    const path = join(dir, 'seekable.zst');
    await writeTrace(path, syntheticEvents(5000), { frameBytes: 4096 });
    const f = readFileSync(path);
    const n = f.readUInt32LE(f.length - 9);
    expect(f[f.length - 5]).toBe(0); // descriptor: no checksums
    expect(f.readUInt32LE(f.length - 4)).toBe(0x8f92eab1);
    const tableStart = f.length - (n * 8 + 9) - 8;
    expect(f.readUInt32LE(tableStart)).toBe(0x184d2a5e);
    expect(f.readUInt32LE(tableStart + 4)).toBe(n * 8 + 9);
    let offset = 0;
    for (let i = 0; i < n; i++) {
      const c = f.readUInt32LE(tableStart + 8 + i * 8);
      const d = f.readUInt32LE(tableStart + 12 + i * 8);
      if (i < 3 || i === n - 1) {
        const out = execFileSync('zstd', ['-q', '-d', '-c'], { input: f.subarray(offset, offset + c) });
        expect(out.length).toBe(d);
      }
      offset += c;
    }
    // between the last zstd frame and the seek table: the hvsim index, a skippable frame
    expect(f.readUInt32LE(offset)).toBe(0x184d2a5f);
    expect(offset + 8 + f.readUInt32LE(offset + 4)).toBe(tableStart);
  });

  it('leaves a crashed recording readable up to its last complete frame', async () => {
    const path = join(dir, 'crash.zst');
    const events = syntheticEvents(30_000);
    const w = await TraceWriter.create(path, HEADER, [], { frameBytes: 8 << 10 });
    for (const e of events) w.append(e);
    const flushed = w.framesWritten;
    w.abandon(); // the process dies: no end event, no index, no rename
    const tmp = `${path}.tmp`;
    expect(existsSync(path)).toBe(false);

    await expect(TraceReader.open(tmp)).rejects.toThrow(/crash\.zst\.tmp: truncated: the file has no end event and no seek table .* \(open with allowIncomplete to read them\)/);
    const { r, events: got } = await readAll(tmp, true);
    expect(r.complete).toBe(false);
    expect(r.indexed).toBe(false);
    expect(r.frames.length).toBe(flushed);
    expect(got.length).toBeGreaterThan(20_000);
    expect(got).toEqual(events.slice(0, got.length));

    // and killed in the middle of writing a frame
    const size = readFileSync(tmp).length;
    truncateSync(tmp, size - 100);
    await expect(TraceReader.open(tmp)).rejects.toThrow(/truncated: the last \d+ bytes are an incomplete frame/);
    const partial = await readAll(tmp, true);
    expect(partial.r.tailBytes).toBeGreaterThan(0);
    expect(partial.events).toEqual(events.slice(0, partial.events.length));
    expect(partial.events.length).toBeLessThan(got.length);
  });

  it('property: any event sequence survives writer and reader at any frame size', async () => {
    let k = 0;
    await fc.assert(
      fc.asyncProperty(eventsArb, fc.integer({ min: 64, max: 2048 }), async (events, frameBytes) => {
        const path = join(dir, `prop-${k++}.zst`);
        const evs = events.filter((e): e is TraceEvent => e.kind !== 'end');
        await writeTrace(path, evs, { frameBytes });
        const { events: got } = await readAll(path);
        expect(got).toEqual([...evs, endAfter(evs)]);
      }),
      { numRuns: 60 },
    );
  });

  it('rebuilds the same frame index by walking a file that lost its index and seek table', async () => {
    const path = join(dir, 'noindex.zst');
    const events = syntheticEvents(20_000, 4);
    await writeTrace(path, events, { frameBytes: 4096 }, [{ name: 'k', role: 'kernel', bytes: new Uint8Array(600_000).fill(3) }]);
    const full = await TraceReader.open(path);
    const last = full.frames[full.frames.length - 1];
    const cut = join(dir, 'noindex-cut.zst');
    writeFileSync(cut, readFileSync(path).subarray(0, last.offset + last.compressedSize));
    const walked = await TraceReader.open(cut);
    expect(walked.indexed).toBe(false);
    expect(walked.complete).toBe(true);
    expect(walked.frames).toEqual(full.frames);
    expect(walked.header).toEqual(full.header);
    expect(Buffer.from(walked.image(0)).equals(full.image(0))).toBe(true);
    expect([...walked.events()]).toEqual([...full.events()]);
    full.close();
    walked.close();
  });

  it('handles the largest frames (2 MiB budget plus a 1 MiB DMA record) within the codec heap', async () => {
    const path = join(dir, 'large.zst');
    const big = Uint8Array.from({ length: 1 << 20 }, (_, i) => Math.imul(i, 2654435761) >>> 24);
    const events: TraceEvent[] = [];
    for (let i = 0; i < 4; i++) {
      events.push(...syntheticEvents(500).map((e) => ({ ...e, icount: e.icount + i * 10_000_000 })));
      // fill the frame to just under its budget, then overshoot it by a whole 1 MiB record
      const fill = (2 << 20) - 5000 - 60 - 2 * (1 << 20);
      for (const [k, data] of [big, big.subarray(0, big.length + fill), big].entries()) {
        events.push({ vcpu: 0, icount: i * 10_000_000 + 9_000_000 + k, kind: 'dma', device: 'virtio-blk0', gpa: 0x100000 * i, length: data.length, toGuest: true, data: data.slice() });
      }
    }
    await writeTrace(path, events, { frameBytes: 2 << 20 });
    const r = await TraceReader.open(path);
    expect(Math.max(...r.frames.map((f) => f.contentSize))).toBeGreaterThan(3_100_000);
    // (compared by hand: deep equality of 1 MiB typed arrays is very slow in vitest)
    const got = [...r.events()];
    const want = [...events, endAfter(events)];
    expect(got.length).toBe(want.length);
    const strip = (e: TraceEvent) => (e.kind === 'dma' && 'data' in e ? { ...e, data: Buffer.from(e.data).toString('base64') } : e);
    for (let i = 0; i < want.length; i++) {
      if (want[i].kind === 'dma') expect(strip(got[i])).toStrictEqual(strip(want[i]));
    }
    expect(got.filter((e) => e.kind !== 'dma')).toEqual(want.filter((e) => e.kind !== 'dma'));
    r.close();
  });

  it('has synchronous variants once the codec is loaded', async () => {
    await loadTraceCodec();
    const path = join(dir, 'sync.zst');
    const w = TraceWriter.createSync(path, HEADER);
    w.append({ vcpu: 0, icount: 1, kind: 'hlt' });
    w.close({ ...endAfter([]), icount: 2 });
    const r = TraceReader.openSync(path);
    expect([...r.events()].map((e) => e.kind)).toEqual(['hlt', 'end']);
    r.close();
  });

  it('refuses events it cannot write without damaging the file', async () => {
    const path = join(dir, 'refuse.zst');
    const w = await TraceWriter.create(path, HEADER);
    w.append({ vcpu: 0, icount: 5, kind: 'hlt' });
    expect(() => w.append({ vcpu: 0, icount: 6, kind: 'io', port: 70000, size: 1, write: true, value: 0 })).toThrow(TypeError);
    expect(() => w.append({ ...endAfter([]) })).toThrow(/written by close/);
    w.close({ ...endAfter([]), icount: 9 });
    const { events } = await readAll(path);
    expect(events).toEqual([{ vcpu: 0, icount: 5, kind: 'hlt' }, { ...endAfter([]), icount: 9 }]);
    expect(() => w.append({ vcpu: 0, icount: 10, kind: 'hlt' })).toThrow(/after close/);
    await expect(TraceWriter.create(join(dir, 'huge-header.zst'), { ...HEADER, config: { blob: 'x'.repeat(2 << 20) } })).rejects.toThrow(/at most 1048576/);
    expect(existsSync(join(dir, 'huge-header.zst'))).toBe(false);
    expect(existsSync(join(dir, 'huge-header.zst.tmp'))).toBe(false);
    writeFileSync(join(dir, 'unused'), '');
  });
});

// Bench-only: recording throughput of the trace writer (encode + zstd + write) on a
// synthetic stream of io/cpuid/interrupt exits. Host time is what it measures; nothing here
// is used by a run. Call from bench/run.js (dist/trace/throughput.js) or
// test/trace/throughput.bench.ts.

import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ByteWriter, encodeEvent, INTERRUPT_SOURCES, StampState, type TraceEvent } from './encoding.js';
import { TraceReader, TraceWriter } from './container.js';
import { loadZstd } from './zstd.js';

/** A deterministic stream of exits like a guest printing to a UART, polling its status and taking timer interrupts. */
export function syntheticExitStream(count: number, vcpus = 1): TraceEvent[] {
  const out: TraceEvent[] = [];
  const ic = new Array<number>(vcpus).fill(0);
  let x = 12345;
  for (let i = 0; i < count; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    const vcpu = vcpus === 1 ? 0 : x % vcpus;
    ic[vcpu] += 50 + ((x >>> 8) % 2000);
    const icount = ic[vcpu];
    const r = (x >>> 16) % 10;
    if (r < 6) out.push({ vcpu, icount, kind: 'io', port: r < 4 ? 0x3f8 : 0x3fd, size: 1, write: r < 4, value: r < 4 ? 0x20 + ((x >>> 3) % 90) : 0x60 });
    else if (r < 8) out.push({ vcpu, icount, kind: 'cpuid', leaf: (x >>> 5) % 2 ? 1 : 0x40000000, subleaf: 0, result: [0x000906ea, 0x00100800, 0x7ffafbff, 0xbfebfbff] });
    else out.push({ vcpu, icount, kind: 'interrupt', vector: 0x20 + ((x >>> 7) % 16), source: INTERRUPT_SOURCES[(x >>> 9) % 3] });
  }
  return out;
}

export interface TraceThroughput {
  events: number;
  /** Encoded (uncompressed) bytes per event. */
  rawBytesPerEvent: number;
  /** Bytes per event in the finished file. */
  fileBytesPerEvent: number;
  compressionRatio: number;
  /** Encoding alone: uncompressed MB/s and million events/s. */
  encodeMBps: number;
  encodeMEventsPerSec: number;
  /** Encode + compress + write + close: uncompressed MB/s and million events/s. */
  recordMBps: number;
  recordMEventsPerSec: number;
  /** Open + decompress + decode every event: uncompressed MB/s and million events/s. */
  readMBps: number;
  readMEventsPerSec: number;
}

export async function measureTraceThroughput(opts: { events?: number; vcpus?: number; frameBytes?: number; level?: number } = {}): Promise<TraceThroughput> {
  const n = opts.events ?? 1_000_000;
  const events = syntheticExitStream(n, opts.vcpus ?? 1);
  await loadZstd();
  const end = { vcpu: 0, icount: events.filter((e) => e.vcpu === 0).pop()?.icount ?? 0, kind: 'end' as const, reason: 'bench', exitStatus: 0, digest: new Uint8Array(32) };

  // Encoding alone, into a reused 1 MiB buffer.
  const w = new ByteWriter(2 << 20);
  const st = new StampState();
  let raw = 0;
  let t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) {
    encodeEvent(w, st, events[i]);
    if (w.pos >= 1 << 20) {
      raw += w.pos;
      w.reset();
    }
  }
  raw += w.pos;
  const encSec = Number(process.hrtime.bigint() - t0) / 1e9;

  // The full writer.
  const dir = mkdtempSync(join(tmpdir(), 'hvsim-trace-bench-'));
  try {
    const path = join(dir, 'bench.zst');
    t0 = process.hrtime.bigint();
    const tw = await TraceWriter.create(path, { hvsimVersion: 'bench', commandLine: [], config: {}, seed: '0' }, [], { frameBytes: opts.frameBytes, level: opts.level });
    for (let i = 0; i < n; i++) tw.append(events[i]);
    tw.close(end);
    const recSec = Number(process.hrtime.bigint() - t0) / 1e9;
    const fileBytes = statSync(path).size;
    t0 = process.hrtime.bigint();
    const r = await TraceReader.open(path);
    let count = 0;
    for (const _ of r.events()) count++;
    r.close();
    const readSec = Number(process.hrtime.bigint() - t0) / 1e9;
    if (count !== n + 1) throw new Error(`trace bench: read back ${count} events, wrote ${n + 1}`);
    return {
      events: n,
      rawBytesPerEvent: raw / n,
      fileBytesPerEvent: fileBytes / n,
      compressionRatio: raw / fileBytes,
      encodeMBps: raw / encSec / 1e6,
      encodeMEventsPerSec: n / encSec / 1e6,
      recordMBps: raw / recSec / 1e6,
      recordMEventsPerSec: n / recSec / 1e6,
      readMBps: raw / readSec / 1e6,
      readMEventsPerSec: n / readSec / 1e6,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

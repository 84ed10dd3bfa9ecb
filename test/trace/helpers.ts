// Shared fixtures for the trace container tests.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { INTERRUPT_SOURCES, type TraceEvent } from '../../src/trace/encoding.js';
import { TraceReader, TraceWriter, type TraceHeaderInput, type TraceImage, type TraceWriterOptions } from '../../src/trace/container.js';

export const HEADER: TraceHeaderInput = {
  hvsimVersion: '0.1.0',
  commandLine: ['run', '--hypervisor', 'kvm', '--kernel', 'hello.elf', '--record', 't.zst'],
  config: { hypervisor: 'kvm', memoryBytes: 128 << 20, vcpus: 1, append: 'console=ttyS0' },
  seed: '42',
};

export function tempDir(): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'hvsim-trace-'));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A deterministic synthetic stream of io/cpuid/interrupt exits, like a guest printing and polling. */
export function syntheticEvents(count: number, vcpus = 1): TraceEvent[] {
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

export const END: Extract<TraceEvent, { kind: 'end' }> = { vcpu: 0, icount: 0, kind: 'end', reason: 'debug-exit', exitStatus: 3, digest: new Uint8Array(32).fill(7) };

export function endAfter(events: readonly TraceEvent[]): Extract<TraceEvent, { kind: 'end' }> {
  let icount = 0;
  for (const e of events) if (e.vcpu === 0) icount = e.icount;
  return { ...END, icount };
}

export async function writeTrace(path: string, events: readonly TraceEvent[], opts: TraceWriterOptions = {}, images: TraceImage[] = []): Promise<TraceWriter> {
  const w = await TraceWriter.create(path, HEADER, images, opts);
  for (const e of events) w.append(e);
  w.close(endAfter(events));
  return w;
}

export async function readAll(path: string, allowIncomplete = false): Promise<{ r: TraceReader; events: TraceEvent[] }> {
  const r = await TraceReader.open(path, { allowIncomplete });
  try {
    return { r, events: [...r.events()] };
  } finally {
    r.close();
  }
}

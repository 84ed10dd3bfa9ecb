// Shared fixtures for the trace container tests.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type TraceEvent } from '../../src/trace/encoding.js';
import { TraceReader, TraceWriter, type TraceHeaderInput, type TraceImage, type TraceWriterOptions } from '../../src/trace/container.js';
import { syntheticExitStream } from '../../src/trace/throughput.js';

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
export const syntheticEvents = syntheticExitStream;

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

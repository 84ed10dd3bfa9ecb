// Replay fidelity (docs/trace-format.md "Replay"): a recorded run replays identically, and a trace
// with any single recorded value changed is reported as diverging at exactly that event.

import { join } from 'node:path';
import { TraceReader, TraceWriter, type TraceEvent } from '../src/trace/index.js';
import { replayReader, replayTrace } from '../src/trace/replay.js';
import { defineProperty } from './define.js';
import { runCaseArb } from './arbitraries.js';

async function readAll(path: string): Promise<{ reader: TraceReader; events: TraceEvent[] }> {
  const reader = await TraceReader.open(path);
  return { reader, events: [...reader.events()] };
}

/** XOR that keeps the number's representation (unsigned stays unsigned). */
const flip = (x: number, mask: number, bits = 32): number => {
  const m = bits >= 32 ? mask >>> 0 : (mask % 2 ** bits) || 1;
  return x < 0 ? (x ^ m) | 0 : (x ^ m) >>> 0;
};

/** The event with one recorded value changed (null: this kind carries no value to change). */
function perturb(e: TraceEvent, mask: number): TraceEvent | null {
  switch (e.kind) {
    case 'io':
      return { ...e, value: flip(e.value, mask, 8 * e.size) };
    case 'mmio':
      return e.size === 8 ? null : { ...e, value: flip(e.value, mask, 8 * e.size) };
    case 'cpuid': {
      const r = [...e.result] as [number, number, number, number];
      r[mask & 3] = flip(r[mask & 3], mask >>> 2 || 1);
      return { ...e, result: r };
    }
    case 'rdmsr':
    case 'wrmsr':
      return { ...e, value: [flip(e.value[0], mask), e.value[1]] };
    case 'digest':
      return { ...e, parts: e.parts.map((p, i) => (i === mask % e.parts.length ? { name: p.name, hash: p.hash.map((b, k) => (k === 0 ? b ^ 0x80 : b)) } : p)) };
    case 'debug-exit':
      return { ...e, code: flip(e.code, mask) };
    case 'kv-write':
      return { ...e, value: `${e.value}~` };
    case 'end':
      return { ...e, exitStatus: (e.exitStatus + 1 + (mask % 200)) & 0xff };
    default:
      return null;
  }
}

export const replayProperties = [
  defineProperty({
    area: 'replay',
    name: 'record then replay is identical, event for event',
    specClause: 'docs/trace-format.md "Replay" (verify mode)',
    quickRuns: 5,
    arbitrary: (fc, opts) => runCaseArb(fc, opts),
    predicate: async (c, { guest }) => {
      const run = guest.record(c.args, 'replay');
      if (run.stderr !== '') throw new Error(`hvsim run: ${run.stderr}`);
      const { reader, events } = await readAll(run.trace);
      reader.close();
      const r = await replayTrace(run.trace);
      if (!r.identical) throw new Error(`diverged at event ${r.divergence?.event} (fields ${r.divergence?.fields.join(',')})`);
      if (r.events !== events.length) throw new Error(`replay matched ${r.events} events of ${events.length}`);
    },
  }),
  defineProperty({
    area: 'replay',
    name: 'a single perturbed value diverges at exactly that event',
    specClause: 'docs/trace-format.md "Replay": the first event that differs is reported',
    quickRuns: 5,
    arbitrary: (fc, opts) => fc.record({ run: runCaseArb(fc, opts), pick: fc.nat(), mask: fc.integer({ min: 1, max: 0xffffffff }) }),
    predicate: async (c, { guest }) => {
      const run = guest.record(c.run.args, 'perturb-base');
      if (run.stderr !== '') throw new Error(`hvsim run: ${run.stderr}`);
      const { reader, events } = await readAll(run.trace);
      const candidates = events.map((e, i) => (perturb(e, c.mask) === null ? -1 : i)).filter((i) => i >= 0);
      const n = candidates[c.pick % candidates.length];
      const edited = events.map((e, i) => (i === n ? perturb(e, c.mask)! : e));
      const dst = join(guest.dir, 'perturbed.trace.zst');
      const images = reader.header.images.map((info, i) => ({ name: info.name, role: info.role, bytes: reader.image(i) }));
      const w = await TraceWriter.create(dst, reader.header, images);
      for (const e of edited.slice(0, -1)) w.append(e);
      const end = edited[edited.length - 1];
      if (end.kind !== 'end') throw new Error('the trace does not end with its end event');
      w.close(end);
      reader.close();
      guest.last = dst;
      const back = await TraceReader.open(dst);
      let r;
      try {
        r = replayReader(back);
      } finally {
        back.close();
      }
      if (r.identical) throw new Error(`event ${n} (${events[n].kind}) changed, yet the replay is identical`);
      if (r.divergence?.event !== n) throw new Error(`event ${n} (${events[n].kind}) changed, divergence reported at ${r.divergence?.event}`);
    },
  }),
];

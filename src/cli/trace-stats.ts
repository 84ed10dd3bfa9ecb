// `hvsim trace stats FILE`: what a trace holds (events per kind, per I/O port, MSR, CPUID
// leaf, hypercall number, interrupt vector, device; instructions per vCPU) and what it
// costs (file and raw size, compression, bytes per event and per million instructions).

import type { TraceEvent, TraceReader } from '../trace/index.js';
import { EVENT_KINDS, hexNum, msrName } from '../trace/event-fields.js';
import { numberedEvents, openTrace } from './trace-open.js';
import { completeness } from './trace-show.js';
import { decimal, grouped, ratio, table, type LineOut } from './trace-output.js';

export interface StatsOptions {
  json: boolean;
  allowIncomplete: boolean;
}

interface VcpuSpan {
  events: number;
  first: number;
  last: number;
}

/** Everything counted in one pass over the events. */
export interface TraceCounts {
  events: number;
  kinds: Map<string, number>;
  io: Map<number, { in: number; out: number }>;
  msrs: Map<number, { reads: number; writes: number; gp: number }>;
  cpuid: Map<number, { count: number; subleaves: Set<number> }>;
  /** By the low 32 bits of RAX; -1 for a call recorded without arguments. */
  hypercalls: Map<number, { count: number; insns: Set<string>; ud: number }>;
  interrupts: Map<number, { count: number; sources: Set<string> }>;
  devices: Map<string, { dmaToGuest: number; dmaFromGuest: number; dmaBytes: number; inputs: number; inputBytes: number; outputs: number; outputBytes: number }>;
  kvWrites: Map<string, number>;
  vcpus: Map<number, VcpuSpan>;
  end: { reason: string; exitStatus: number; icount: number; vcpu: number } | null;
}

function bump<K, V>(m: Map<K, V>, k: K, fresh: () => V): V {
  let v = m.get(k);
  if (v === undefined) m.set(k, (v = fresh()));
  return v;
}

export function countEvents(events: Iterable<TraceEvent>): TraceCounts {
  const c: TraceCounts = {
    events: 0,
    kinds: new Map(),
    io: new Map(),
    msrs: new Map(),
    cpuid: new Map(),
    hypercalls: new Map(),
    interrupts: new Map(),
    devices: new Map(),
    kvWrites: new Map(),
    vcpus: new Map(),
    end: null,
  };
  for (const e of events) {
    c.events++;
    c.kinds.set(e.kind, (c.kinds.get(e.kind) ?? 0) + 1);
    const span = bump(c.vcpus, e.vcpu, () => ({ events: 0, first: e.icount, last: e.icount }));
    span.events++;
    span.last = e.icount;
    switch (e.kind) {
      case 'io': {
        const p = bump(c.io, e.port, () => ({ in: 0, out: 0 }));
        if (e.write) p.out++;
        else p.in++;
        break;
      }
      case 'rdmsr':
      case 'wrmsr': {
        const m = bump(c.msrs, e.msr, () => ({ reads: 0, writes: 0, gp: 0 }));
        if (e.kind === 'rdmsr') m.reads++;
        else m.writes++;
        if (e.gp) m.gp++;
        break;
      }
      case 'cpuid': {
        const l = bump(c.cpuid, e.leaf, () => ({ count: 0, subleaves: new Set<number>() }));
        l.count++;
        l.subleaves.add(e.subleaf);
        break;
      }
      case 'hypercall': {
        // The call number is RAX (docs/trace-format.md); its low 32 bits, as every personality reads it.
        const h = bump(c.hypercalls, e.args.length > 0 ? e.args[0][0] : -1, () => ({ count: 0, insns: new Set<string>(), ud: 0 }));
        h.count++;
        h.insns.add(e.insn);
        if (e.ud === true) h.ud++;
        break;
      }
      case 'interrupt': {
        const v = bump(c.interrupts, e.vector, () => ({ count: 0, sources: new Set<string>() }));
        v.count++;
        v.sources.add(e.source);
        break;
      }
      case 'dma':
      case 'host-input':
      case 'host-output': {
        const d = bump(c.devices, e.device, () => ({ dmaToGuest: 0, dmaFromGuest: 0, dmaBytes: 0, inputs: 0, inputBytes: 0, outputs: 0, outputBytes: 0 }));
        if (e.kind === 'dma') {
          if (e.toGuest) d.dmaToGuest++;
          else d.dmaFromGuest++;
          d.dmaBytes += e.length;
        } else if (e.kind === 'host-input') {
          d.inputs++;
          d.inputBytes += e.data.length;
        } else {
          d.outputs++;
          d.outputBytes += e.data.length;
        }
        break;
      }
      case 'kv-write':
        c.kvWrites.set(e.key, (c.kvWrites.get(e.key) ?? 0) + 1);
        break;
      case 'end':
        c.end = { reason: e.reason, exitStatus: e.exitStatus, icount: e.icount, vcpu: e.vcpu };
        break;
      default:
        break;
    }
  }
  return c;
}

const byNumber = <V>(m: Map<number, V>): [number, V][] => [...m.entries()].sort((a, b) => a[0] - b[0]);
const byName = <V>(m: Map<string, V>): [string, V][] => [...m.entries()].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
const sortedNumbers = (s: Set<number>): number[] => [...s].sort((a, b) => a - b);
const sortedNames = (s: Set<string>): string[] => [...s].sort();

/** Bytes of one part of the file, before and after compression. */
export interface Bytes {
  raw: number;
  compressed: number;
}

/** Sizes of the file and its parts (docs/trace-format.md, "Container"). */
export interface TraceCosts {
  fileBytes: number;
  /** All frames' decompressed content: what `zstd -d` gives. */
  rawBytes: number;
  /** The event frames only: what recording costs (images are paid once, not per event). */
  eventBytes: Bytes;
  /** Embedded images' frames. */
  imageBytes: Bytes;
  frames: { total: number; header: number; image: number; event: number };
  /** Instructions the run executed: the sum of each vCPU's last icount (the end icount for one vCPU). */
  instructions: number;
}

export function traceCosts(r: TraceReader, counts: TraceCounts): TraceCosts {
  let rawBytes = 0;
  const eventBytes: Bytes = { raw: 0, compressed: 0 };
  const imageBytes: Bytes = { raw: 0, compressed: 0 };
  let event = 0;
  r.frames.forEach((f, i) => {
    rawBytes += f.contentSize;
    if (i === 0) return;
    const part = f.eventCount > 0 ? eventBytes : imageBytes;
    part.raw += f.contentSize;
    part.compressed += f.compressedSize;
    if (f.eventCount > 0) event++;
  });
  let instructions = 0;
  for (const s of counts.vcpus.values()) instructions += s.last;
  return {
    fileBytes: r.fileSize,
    rawBytes,
    eventBytes,
    imageBytes,
    frames: { total: r.frames.length, header: 1, image: r.frames.length - 1 - event, event },
    instructions,
  };
}

const round = (x: number, decimals: number): number | null => (Number.isFinite(x) ? Number(x.toFixed(decimals)) : null);

export async function statsTrace(file: string, opts: StatsOptions, out: LineOut): Promise<void> {
  const r = await openTrace(file, opts.allowIncomplete);
  try {
    const counts = countEvents((function* () {
      for (const [, e] of numberedEvents(file, r)) yield e;
    })());
    const costs = traceCosts(r, counts);
    if (opts.json) out.line(JSON.stringify(statsJson(file, r, counts, costs)));
    else for (const l of statsLines(file, r, counts, costs, out)) out.line(l);
  } finally {
    r.close();
  }
}

export function statsJson(file: string, r: TraceReader, c: TraceCounts, k: TraceCosts): Record<string, unknown> {
  const obj = <V, R>(entries: [number, V][], f: (v: V, n: number) => R): Record<string, R> => Object.fromEntries(entries.map(([n, v]) => [hexNum(n), f(v, n)]));
  return {
    file,
    complete: r.complete,
    events: c.events,
    fileBytes: k.fileBytes,
    rawBytes: k.rawBytes,
    eventBytes: k.eventBytes,
    imageBytes: k.imageBytes,
    compressionRatio: round(k.rawBytes / k.fileBytes, 3),
    eventCompressionRatio: round(k.eventBytes.raw / k.eventBytes.compressed, 3),
    bytesPerEvent: { raw: round(k.eventBytes.raw / c.events, 3), compressed: round(k.eventBytes.compressed / c.events, 3) },
    frames: k.frames,
    instructions: k.instructions,
    bytesPerMillionInstructions: round((k.eventBytes.compressed * 1e6) / k.instructions, 3),
    end: c.end,
    kinds: Object.fromEntries(EVENT_KINDS.filter((x) => c.kinds.has(x)).map((x) => [x, c.kinds.get(x)!])),
    vcpus: byNumber(c.vcpus).map(([v, s]) => ({ vcpu: v, events: s.events, firstIcount: s.first, lastIcount: s.last, span: s.last - s.first })),
    ioPorts: obj(byNumber(c.io), (p) => ({ in: p.in, out: p.out })),
    msrs: obj(byNumber(c.msrs), (m, n) => ({ name: msrName(n) ?? null, reads: m.reads, writes: m.writes, gp: m.gp })),
    cpuidLeaves: obj(byNumber(c.cpuid), (l) => ({ count: l.count, subleaves: sortedNumbers(l.subleaves) })),
    hypercalls: Object.fromEntries(byNumber(c.hypercalls).map(([n, h]) => [n < 0 ? 'none' : hexNum(n), { count: h.count, insns: sortedNames(h.insns), ud: h.ud }])),
    interruptVectors: obj(byNumber(c.interrupts), (v) => ({ count: v.count, sources: sortedNames(v.sources) })),
    devices: Object.fromEntries(byName(c.devices)),
    kvWrites: Object.fromEntries(byName(c.kvWrites)),
  };
}

function statsLines(file: string, r: TraceReader, c: TraceCounts, k: TraceCosts, out: LineOut): string[] {
  const lines: string[] = [];
  const section = (title: string, rows: string[][], align: ('l' | 'r')[]): void => {
    if (rows.length <= 1) return;
    lines.push('', out.c.bold(title), ...table(rows, align, '  '));
  };
  const summary: string[][] = [
    ['trace', `${file} (${completeness(r)})`],
    ['events', grouped(c.events)],
    ['frames', `${k.frames.total} (1 header, ${k.frames.image} image, ${k.frames.event} event)`],
    ['file size', `${grouped(k.fileBytes)} bytes: events ${grouped(k.eventBytes.compressed)}, images ${grouped(k.imageBytes.compressed)}, header and index ${grouped(k.fileBytes - k.eventBytes.compressed - k.imageBytes.compressed)}`],
    ['raw size', `${grouped(k.rawBytes)} bytes decompressed: events ${grouped(k.eventBytes.raw)}, images ${grouped(k.imageBytes.raw)}`],
    ['compression', `${ratio(k.rawBytes, k.fileBytes)}x (events ${ratio(k.eventBytes.raw, k.eventBytes.compressed)}x)`],
    ['bytes per event', `${ratio(k.eventBytes.raw, c.events)} raw, ${ratio(k.eventBytes.compressed, c.events)} compressed (event frames)`],
    ['instructions', `${grouped(k.instructions)}${c.vcpus.size > 1 ? ' (sum over vCPUs of the last icount)' : ''}`],
    ['bytes per Minsn', k.instructions === 0 ? '-' : `${decimal((k.eventBytes.compressed * 1e6) / k.instructions, 1)} (event bytes in the file per million instructions)`],
    ['end', c.end ? `${c.end.reason}, exit status ${c.end.exitStatus}, at icount ${grouped(c.end.icount)} on vCPU ${c.end.vcpu}` : 'none (incomplete trace)'],
  ];
  lines.push(...table(summary).map((l, i) => l.replace(summary[i][0], out.c.bold(summary[i][0]))));

  const pct = (n: number): string => ratio(n * 100, c.events, 1);
  section('events by kind', [['kind', 'count', '%'], ...EVENT_KINDS.filter((x) => c.kinds.has(x)).map((x) => [x, grouped(c.kinds.get(x)!), pct(c.kinds.get(x)!)])], ['l', 'r', 'r']);
  section(
    'vCPUs',
    [['vcpu', 'events', 'first icount', 'last icount', 'span'], ...byNumber(c.vcpus).map(([v, s]) => [String(v), grouped(s.events), grouped(s.first), grouped(s.last), grouped(s.last - s.first)])],
    ['r', 'r', 'r', 'r', 'r'],
  );
  section('I/O ports', [['port', 'in', 'out'], ...byNumber(c.io).map(([p, v]) => [hexNum(p, 2), grouped(v.in), grouped(v.out)])], ['l', 'r', 'r']);
  section(
    'MSRs',
    [['msr', 'reads', 'writes', '#GP', 'name'], ...byNumber(c.msrs).map(([m, v]) => [hexNum(m), grouped(v.reads), grouped(v.writes), grouped(v.gp), msrName(m) ?? ''])],
    ['l', 'r', 'r', 'r', 'l'],
  );
  section(
    'CPUID leaves',
    [['leaf', 'count', 'subleaves'], ...byNumber(c.cpuid).map(([l, v]) => [hexNum(l), grouped(v.count), sortedNumbers(v.subleaves).map((s) => hexNum(s)).join(',')])],
    ['l', 'r', 'l'],
  );
  section(
    'hypercalls (by RAX)',
    [['number', 'count', '#UD', 'insn'], ...byNumber(c.hypercalls).map(([h, v]) => [h < 0 ? '(none)' : hexNum(h), grouped(v.count), grouped(v.ud), sortedNames(v.insns).join(',')])],
    ['l', 'r', 'r', 'l'],
  );
  section(
    'interrupt vectors',
    [['vector', 'count', 'sources'], ...byNumber(c.interrupts).map(([n, v]) => [hexNum(n, 2), grouped(v.count), sortedNames(v.sources).join(',')])],
    ['l', 'r', 'l'],
  );
  section(
    'devices (DMA, host input and output)',
    [
      ['device', 'dma in', 'dma out', 'dma bytes', 'inputs', 'input bytes', 'outputs', 'output bytes'],
      ...byName(c.devices).map(([d, v]) => [d, grouped(v.dmaToGuest), grouped(v.dmaFromGuest), grouped(v.dmaBytes), grouped(v.inputs), grouped(v.inputBytes), grouped(v.outputs), grouped(v.outputBytes)]),
    ],
    ['l', 'r', 'r', 'r', 'r', 'r', 'r', 'r'],
  );
  section('information store writes', [['key', 'writes'], ...byName(c.kvWrites).map(([k, n]) => [JSON.stringify(k), grouped(n)])], ['l', 'r']);
  return lines;
}

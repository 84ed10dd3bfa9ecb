// `hvsim trace show|stats|diff` (src/cli/trace-tools.ts) on traces written here with
// TraceWriter. Expected counts, fields and positions are computed in this file from the
// event list it wrote (docs/trace-format.md, "Records"), never copied from the tools' output.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { traceCommand } from '../../src/cli/trace-tools.js';
import { fieldRows } from '../../src/cli/trace-diff.js';
import { sameEvent } from '../../src/trace/compare.js';
import { REPLAY_STATUS } from '../../src/api/exit-status.js';
import { TraceReader, TraceWriter, type TraceEvent, type TraceHeaderInput, type TraceImage, type U64 } from '../../src/trace/index.js';
import { loadZstd } from '../../src/trace/zstd.js';
import { STREAM_MAGIC } from '../../src/trace/container.js';
import { ByteWriter } from '../../src/trace/encoding.js';
import { crc32 } from 'node:zlib';
import { Writable } from 'node:stream';
import { capture, Capture, type CliResult } from '../helpers/cli-capture.js';
import { DEFAULT_ZSTD_LEVEL } from '../../src/trace/container.js';



const trace = (...args: string[]): Promise<CliResult> => capture(traceCommand, args);

const jsonLines = (s: string): Record<string, unknown>[] =>
  s
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);

const HEADER: TraceHeaderInput = {
  hvsimVersion: '0.1.0',
  commandLine: ['run', '--hypervisor', 'kvm', '--kernel', 'guest.elf', '--append', 'console=ttyS0 quiet', '--record', 't.zst'],
  config: { hypervisor: ['kvm'], memoryBytes: 256 << 20, vcpus: 2, digestInterval: 1000, devices: { com1: 'stdio' } },
  seed: '7',
};
const IMAGES: TraceImage[] = [
  { name: 'guest.elf', role: 'kernel', bytes: new Uint8Array(5000).map((_, i) => i & 0xff) },
  { name: 'disk.img', role: 'disk:0', bytes: new Uint8Array(3000).fill(0xee), embed: false },
];

type End = Extract<TraceEvent, { kind: 'end' }>;
const bytes = (n: number, seed: number): Uint8Array => new Uint8Array(n).map((_, i) => (i * 31 + seed) & 0xff);
const PORTS = [0x3f8, 0x3fd, 0x70, 0x71, 0xcf8];
const MSRS = [0x1b, 0x10, 0xc0000080, 0x4b564d01, 0x12345];
const SOURCES = ['pic', 'ioapic', 'lapic', 'msi', 'nmi', 'exception', 'hypervisor', 'other'] as const;

/** Every event kind but `end` (written by close), in turn, on two vCPUs, with varied fields. */
function allKinds(count: number): TraceEvent[] {
  const out: TraceEvent[] = [];
  const ic = [0, 0];
  let x = 99;
  for (let i = 0; i < count; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    const vcpu = i % 3 === 2 ? 1 : 0;
    ic[vcpu] += 1 + ((x >>> 8) % 5000);
    const s = { vcpu, icount: ic[vcpu] };
    const r = x >>> 16;
    switch (i % 17) {
      case 0:
        out.push({ ...s, kind: 'io', port: PORTS[r % 5], size: 1, write: r % 2 === 0, value: 0x41 + (r % 26) });
        break;
      case 1:
        out.push({ ...s, kind: 'mmio', gpa: 0xfee00000 + (r % 64) * 16, size: 4, write: r % 2 === 1, value: r });
        break;
      case 2:
        out.push({ ...s, kind: 'cpuid', leaf: [0, 1, 7, 0x40000000][r % 4], subleaf: r % 3, result: [r, r ^ 0xffff, 0x80000000 + r, 7] });
        break;
      case 3:
      case 4:
        out.push({ ...s, kind: i % 17 === 3 ? 'rdmsr' : 'wrmsr', msr: MSRS[r % 5], value: [r * 977, r % 7 === 0 ? 0xdeadbeef : 0], gp: MSRS[r % 5] === 0x12345 });
        break;
      case 5:
        out.push({ ...s, kind: 'hypercall', insn: r % 2 ? 'vmcall' : 'vmmcall', args: Array.from({ length: 1 + (r % 9) }, (_, k): U64 => [k === 0 ? r % 4 : r + k, k === 0 ? 0 : k]), result: [r % 2 ? 0 : 0xffffffda, r % 2 ? 0 : 0xffffffff], ud: r % 5 === 0 });
        break;
      case 6:
        out.push({ ...s, kind: 'hlt' });
        break;
      case 7:
        out.push({ ...s, kind: 'pause' });
        break;
      case 8:
        out.push({ ...s, kind: 'shutdown', reason: 'triple-fault' });
        break;
      case 9:
        out.push({ ...s, kind: 'reset' });
        break;
      case 10:
        out.push({ ...s, kind: 'poweroff' });
        break;
      case 11:
        out.push({ ...s, kind: 'debug-exit', code: r % 256 });
        break;
      case 12:
        out.push({ ...s, kind: 'interrupt', vector: 0x20 + (r % 8), source: SOURCES[r % 8] });
        break;
      case 13:
        if (r % 2) out.push({ ...s, kind: 'dma', device: 'virtio-blk', gpa: 0x100000 + r, length: 40, toGuest: true, data: bytes(40, r) });
        else out.push({ ...s, kind: 'dma', device: 'virtio-net', gpa: 0x200000, length: 4096, toGuest: false, digest: bytes(32, r) });
        break;
      case 14:
        out.push({ ...s, kind: 'host-input', device: 'com1', data: r % 2 ? new TextEncoder().encode(`ls -l ${r}\n`) : bytes(5, r) });
        break;
      case 15:
        out.push({ ...s, kind: 'digest', hash: bytes(32, r), parts: [{ name: 'regs', hash: bytes(32, r + 1) }, { name: 'mem', hash: bytes(32, r + 2) }] });
        break;
      case 16:
        out.push({ ...s, kind: 'kv-write', key: `guest/key${r % 3}`, value: `v${r}` });
        break;
    }
  }
  return out;
}

function endOf(events: readonly TraceEvent[], exitStatus = 3): End {
  let icount = 0;
  for (const e of events) if (e.vcpu === 0) icount = e.icount;
  return { vcpu: 0, icount: icount + 10, kind: 'end', reason: 'debug-exit', exitStatus, digest: bytes(32, 5) };
}

const tmp = mkdtempSync(join(tmpdir(), 'hvsim-trace-tools-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
let fileNo = 0;

async function write(events: readonly TraceEvent[], opts: { header?: TraceHeaderInput; end?: End; frameBytes?: number; images?: TraceImage[] } = {}): Promise<string> {
  const path = join(tmp, `t${fileNo++}.zst`);
  const w = await TraceWriter.create(path, opts.header ?? HEADER, opts.images ?? IMAGES, { frameBytes: opts.frameBytes ?? 1024 });
  for (const e of events) w.append(e);
  w.close(opts.end ?? endOf(events));
  return path;
}

const EVENTS = allKinds(700);
const ALL: TraceEvent[] = [...EVENTS, endOf(EVENTS)];
let FILE = '';
beforeAll(async () => {
  FILE = await write(EVENTS);
});

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const big = (v: U64): bigint => BigInt(v[0]) + BigInt(v[1]) * 4294967296n;

/** The JSON object `show --json` must print for event n (the format's fields, bytes as hex, u64 as 0x hex). */
function expectedJson(n: number, e: TraceEvent): Record<string, unknown> {
  const base = { event: n, vcpu: e.vcpu, icount: e.icount, kind: e.kind };
  const u = (v: U64): string => '0x' + big(v).toString(16);
  switch (e.kind) {
    case 'io':
    case 'mmio':
      return { ...base, write: e.write, ...(e.kind === 'io' ? { port: e.port } : { gpa: e.gpa }), size: e.size, value: e.value };
    case 'cpuid':
      return { ...base, leaf: e.leaf, subleaf: e.subleaf, eax: e.result[0], ebx: e.result[1], ecx: e.result[2], edx: e.result[3] };
    case 'rdmsr':
    case 'wrmsr':
      return { ...base, msr: e.msr, value: u(e.value), gp: e.gp };
    case 'hypercall':
      return { ...base, insn: e.insn, args: e.args.map(u), result: u(e.result), ud: e.ud === true };
    case 'shutdown':
      return { ...base, reason: e.reason };
    case 'debug-exit':
      return { ...base, code: e.code };
    case 'interrupt':
      return { ...base, vector: e.vector, source: e.source };
    case 'dma':
      return { ...base, toGuest: e.toGuest, device: e.device, gpa: e.gpa, length: e.length, ...('data' in e ? { data: hex(e.data) } : { digest: hex(e.digest) }) };
    case 'host-input':
      return { ...base, device: e.device, data: hex(e.data) };
    case 'digest':
      return { ...base, hash: hex(e.hash), parts: e.parts.map((p) => ({ name: p.name, hash: hex(p.hash) })) };
    case 'end':
      return { ...base, reason: e.reason, exitStatus: e.exitStatus, digest: hex(e.digest) };
    case 'kv-write':
      return { ...base, key: e.key, value: e.value };
    default:
      return base;
  }
}

function expectOneLine(stderr: string, pattern: RegExp): void {
  expect(stderr).toMatch(/^[^\n]+\n$/);
  expect(stderr).toMatch(pattern);
  expect(stderr).not.toMatch(/\bat .+:\d+:\d+/); // no stack trace
}

describe('hvsim trace show', () => {
  it('prints the header: versions, command line, config, seed, images with sizes and hashes', async () => {
    const r = await trace('show', FILE, '--header-only');
    expect(r.status).toBe(0);
    expect(r.stderr).toBe('');
    const out = r.stdout;
    expect(out).toMatch(/^trace\s+.*t0\.zst$/m);
    expect(out).toMatch(/^format\s+version 1, recorded by hvsim 0\.1\.0$/m);
    expect(out).toMatch(new RegExp(`^contents\\s+${ALL.length} events in \\d+ frames, .* bytes; complete$`, 'm'));
    expect(out).toContain("hvsim run --hypervisor kvm --kernel guest.elf --append 'console=ttyS0 quiet' --record t.zst");
    expect(out).toMatch(/^seed\s+7$/m);
    expect(out).toMatch(/^\s+memoryBytes\s+268435456$/m);
    expect(out).toMatch(/^\s+devices\.com1\s+"stdio"$/m);
    expect(out).toMatch(/^\s+hypervisor\s+\["kvm"\]$/m);
    for (const [i, im] of IMAGES.entries()) {
      const h = createHash('sha256').update(im.bytes).digest('hex');
      expect(out).toMatch(new RegExp(`^\\s+${i}\\s+${im.role}\\s+${im.name}\\s+${im.bytes.length.toLocaleString('en-US')}\\s+${h}\\s+${im.embed === false ? 'no' : 'yes'}`, 'm'));
    }
    expect(out).not.toMatch(/^\s*event\s+vcpu/m); // header only
  });

  it('--json: a header object, then one object per event with every field (bytes as hex)', async () => {
    const r = await trace('show', FILE, '--json');
    expect(r.status).toBe(0);
    const lines = jsonLines(r.stdout);
    expect(lines).toHaveLength(1 + ALL.length);
    const h = lines[0] as { header: { seed: string; images: { sha256: string }[] }; formatVersion: number; complete: boolean; events: number };
    expect(h.formatVersion).toBe(1);
    expect(h.complete).toBe(true);
    expect(h.events).toBe(ALL.length);
    expect(h.header.seed).toBe('7');
    expect(h.header.images).toHaveLength(2);
    ALL.forEach((e, n) => expect(lines[1 + n]).toEqual(expectedJson(n, e)));
  });

  it('one aligned line per event: number, vCPU, icount, kind, fields in hex where the format is', async () => {
    const r = await trace('show', FILE);
    expect(r.status).toBe(0);
    const lines = r.stdout.split('\n');
    const head = lines.findIndex((l) => /^\s*event\s+vcpu\s+icount\s+kind\s+fields$/.test(l));
    expect(head).toBeGreaterThan(0);
    const evLines = lines.slice(head + 1).filter((l) => l !== '');
    expect(evLines).toHaveLength(ALL.length);
    // Columns line up: the kind starts at the same offset on every line.
    const kindAt = evLines.map((l, n) => l.indexOf(` ${ALL[n].kind}`) + 1);
    expect(new Set(kindAt).size).toBe(1);
    ALL.forEach((e, n) => {
      const l = evLines[n];
      expect(l).toMatch(new RegExp(`^\\s*${n}\\s+${e.vcpu}\\s+${e.icount}\\s+${e.kind}\\b`));
      const h = (v: number, d = 1): string => '0x' + v.toString(16).padStart(d, '0');
      switch (e.kind) {
        case 'io':
          expect(l).toContain(`${e.write ? 'out' : 'in '} port=${h(e.port, 2)} size=1 value=${h(e.value, 2)}`);
          // COM1's data register (0x3f8) carries console text: the character is shown too.
          if (e.port === 0x3f8) expect(l).toMatch(new RegExp(`value=${h(e.value, 2)} '${String.fromCharCode(e.value)}'$`));
          else expect(l).toMatch(new RegExp(`value=${h(e.value, 2)}$`));
          break;
        case 'cpuid':
          expect(l).toContain(`leaf=${h(e.leaf)} subleaf=${h(e.subleaf)} eax=${h(e.result[0], 8)} ebx=${h(e.result[1], 8)} ecx=${h(e.result[2], 8)} edx=${h(e.result[3], 8)}`);
          break;
        case 'rdmsr':
        case 'wrmsr':
          expect(l).toContain(`msr=${h(e.msr)}`);
          expect(l).toContain(`value=0x${big(e.value).toString(16).padStart(16, '0')}`);
          if (e.msr === 0x1b) expect(l).toContain('IA32_APIC_BASE'); // SDM vol. 4, table 2-2
          if (e.msr === 0xc0000080) expect(l).toContain('IA32_EFER');
          expect(l.includes('#GP')).toBe(e.gp);
          break;
        case 'hypercall':
          expect(l).toContain(`${e.insn} rax=0x${big(e.args[0]).toString(16)}`);
          expect(l).toContain(`result=0x${big(e.result).toString(16)}`);
          expect(l.includes('#UD')).toBe(e.ud === true);
          break;
        case 'interrupt':
          expect(l).toMatch(new RegExp(`vector=${h(e.vector, 2)} source=${e.source}$`));
          break;
        case 'debug-exit':
          expect(l).toMatch(new RegExp(`code=${h(e.code)}$`));
          break;
        case 'digest':
          expect(l).toContain(`hash=${hex(e.hash).slice(0, 12)}…`);
          expect(l).not.toContain(hex(e.hash)); // shortened
          expect(l).toContain(`regs=${hex(e.parts[0].hash).slice(0, 12)}…`);
          break;
        case 'end':
          expect(l).toContain(`reason=${e.reason} status=${e.exitStatus} digest=${hex(e.digest).slice(0, 12)}…`);
          break;
        case 'host-input':
          // Plain text is shown as a quoted string, anything else as hex.
          if (/^[\x20-\x7e\n]*$/.test(Buffer.from(e.data).toString('latin1'))) expect(l).toContain(`data=${JSON.stringify(new TextDecoder().decode(e.data))}`);
          else expect(l).toContain(`data=${hex(e.data)}`);
          break;
        case 'kv-write':
          expect(l).toContain(`key=${JSON.stringify(e.key)} value=${JSON.stringify(e.value)}`);
          break;
        default:
          break;
      }
    });
  });

  /** The events `show --json` prints with these options, as [number, kind, vcpu, icount]. */
  async function shown(...opts: string[]): Promise<[number, string, number, number][]> {
    const r = await trace('show', FILE, '--json', ...opts);
    expect(r.status).toBe(0);
    return jsonLines(r.stdout)
      .slice(1)
      .map((o) => [o.event as number, o.kind as string, o.vcpu as number, o.icount as number]);
  }
  const select = (f: (e: TraceEvent, n: number) => boolean): [number, string, number, number][] =>
    ALL.flatMap((e, n) => (f(e, n) ? [[n, e.kind, e.vcpu, e.icount] as [number, string, number, number]] : []));

  it('filters: --kind, --vcpu, --from/--to, --events, --limit, and combinations', async () => {
    expect(await shown('--kind', 'io,cpuid')).toEqual(select((e) => e.kind === 'io' || e.kind === 'cpuid'));
    expect(await shown('--kind=hypercall', '--kind', 'end')).toEqual(select((e) => e.kind === 'hypercall' || e.kind === 'end'));
    expect(await shown('--vcpu', '1')).toEqual(select((e) => e.vcpu === 1));
    const mid = ALL[350].icount;
    const hi = ALL[500].icount;
    expect(await shown('--from', String(mid), '--to', String(hi))).toEqual(select((e) => e.icount >= mid && e.icount <= hi));
    expect(await shown('--vcpu', '0', '--from', `0x${mid.toString(16)}`, '--to', String(hi))).toEqual(select((e) => e.vcpu === 0 && e.icount >= mid && e.icount <= hi));
    expect(await shown('--vcpu', '1', '--from', String(mid))).toEqual(select((e) => e.vcpu === 1 && e.icount >= mid));
    expect(await shown('--events', '100..130')).toEqual(select((_, n) => n >= 100 && n <= 130));
    expect(await shown('--events', '650..')).toEqual(select((_, n) => n >= 650));
    expect(await shown('--events', '..5')).toEqual(select((_, n) => n <= 5));
    expect(await shown('--events', '42')).toEqual(select((_, n) => n === 42));
    expect(await shown('--limit', '7')).toEqual(select((_, n) => n < 7));
    expect(await shown('--events', '200..600', '--kind', 'rdmsr,wrmsr', '--vcpu', '0', '--limit', '5')).toEqual(
      select((e, n) => n >= 200 && n <= 600 && (e.kind === 'rdmsr' || e.kind === 'wrmsr') && e.vcpu === 0).slice(0, 5),
    );
    expect(await shown('--events', '5000..6000')).toEqual([]);
  });

  it('is deterministic: the same file gives the same bytes', async () => {
    const a = await trace('show', FILE);
    const b = await trace('show', FILE);
    expect(a.stdout).toBe(b.stdout);
  });
});

describe('hvsim trace stats', () => {
  it('counts per kind, port, MSR, CPUID leaf, hypercall number, vector; sizes and rates', async () => {
    const r = await trace('stats', FILE, '--json');
    expect(r.status).toBe(0);
    const s = JSON.parse(r.stdout) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
    // Expected values from the event list.
    const kinds: Record<string, number> = {};
    const io: Record<string, { in: number; out: number }> = {};
    const msrs: Record<string, { reads: number; writes: number; gp: number }> = {};
    const leaves: Record<string, number> = {};
    const calls: Record<string, number> = {};
    const vectors: Record<string, number> = {};
    const last = new Map<number, number>();
    const first = new Map<number, number>();
    const key = (n: number): string => '0x' + n.toString(16);
    for (const e of ALL) {
      kinds[e.kind] = (kinds[e.kind] ?? 0) + 1;
      if (!first.has(e.vcpu)) first.set(e.vcpu, e.icount);
      last.set(e.vcpu, e.icount);
      if (e.kind === 'io') {
        const p = (io[key(e.port)] ??= { in: 0, out: 0 });
        p[e.write ? 'out' : 'in']++;
      }
      if (e.kind === 'rdmsr' || e.kind === 'wrmsr') {
        const m = (msrs[key(e.msr)] ??= { reads: 0, writes: 0, gp: 0 });
        m[e.kind === 'rdmsr' ? 'reads' : 'writes']++;
        if (e.gp) m.gp++;
      }
      if (e.kind === 'cpuid') leaves[key(e.leaf)] = (leaves[key(e.leaf)] ?? 0) + 1;
      // The hypercall number is RAX (docs/trace-format.md, kind 6).
      if (e.kind === 'hypercall') calls[key(e.args[0][0])] = (calls[key(e.args[0][0])] ?? 0) + 1;
      if (e.kind === 'interrupt') vectors[key(e.vector)] = (vectors[key(e.vector)] ?? 0) + 1;
    }
    expect(s.events).toBe(ALL.length);
    expect(s.kinds).toEqual(kinds);
    expect(Object.keys(s.kinds)).toHaveLength(18); // every kind occurs
    expect(s.ioPorts).toEqual(io);
    expect(Object.fromEntries(Object.entries(s.msrs as Record<string, { reads: number; writes: number; gp: number }>).map(([k, v]) => [k, { reads: v.reads, writes: v.writes, gp: v.gp }]))).toEqual(msrs);
    expect(s.msrs['0x1b'].name).toBe('IA32_APIC_BASE');
    expect(Object.fromEntries(Object.entries(s.cpuidLeaves as Record<string, { count: number }>).map(([k, v]) => [k, v.count]))).toEqual(leaves);
    expect(Object.fromEntries(Object.entries(s.hypercalls as Record<string, { count: number }>).map(([k, v]) => [k, v.count]))).toEqual(calls);
    expect(Object.fromEntries(Object.entries(s.interruptVectors as Record<string, { count: number }>).map(([k, v]) => [k, v.count]))).toEqual(vectors);
    // Tables are sorted by number.
    const numeric = (o: object): number[] => Object.keys(o).map((k) => parseInt(k, 16));
    for (const t of [s.ioPorts, s.msrs, s.cpuidLeaves, s.interruptVectors]) expect(numeric(t)).toEqual([...numeric(t)].sort((a, b) => a - b));
    expect(s.vcpus).toEqual(
      [0, 1].map((v) => ({ vcpu: v, events: ALL.filter((e) => e.vcpu === v).length, firstIcount: first.get(v), lastIcount: last.get(v), span: last.get(v)! - first.get(v)! })),
    );
    const fileBytes = statSync(FILE).size;
    const instructions = last.get(0)! + last.get(1)!;
    expect(s.fileBytes).toBe(fileBytes);
    expect(s.instructions).toBe(instructions);
    // Per-event and per-instruction costs count the event frames (images are paid once).
    const reader = await TraceReader.open(FILE);
    const eventFrames = reader.frames.filter((f) => f.eventCount > 0);
    reader.close();
    const ev = { raw: 0, compressed: 0 };
    for (const f of eventFrames) {
      ev.raw += f.contentSize;
      ev.compressed += f.compressedSize;
    }
    expect(s.eventBytes).toEqual(ev);
    expect(s.imageBytes.raw).toBeGreaterThanOrEqual(5000); // the embedded kernel, not the hash-only disk
    expect(s.imageBytes.raw).toBeLessThan(5000 + 200);
    expect(s.bytesPerMillionInstructions).toBeCloseTo((ev.compressed * 1e6) / instructions, 2);
    expect(s.bytesPerEvent.compressed).toBeCloseTo(ev.compressed / ALL.length, 2);
    expect(s.bytesPerEvent.raw).toBeCloseTo(ev.raw / ALL.length, 2);
    expect(s.compressionRatio).toBeCloseTo(s.rawBytes / fileBytes, 2);
    expect(s.eventCompressionRatio).toBeCloseTo(ev.raw / ev.compressed, 2);
    expect(s.end).toEqual({ reason: 'debug-exit', exitStatus: 3, icount: ALL[ALL.length - 1].icount, vcpu: 0 });
    expect(s.frames.total).toBe(s.frames.header + s.frames.image + s.frames.event);
    expect(s.frames.event).toBeGreaterThan(3); // 1 KiB frames
  });

  it.skipIf(spawnSync('zstd', ['--version']).status !== 0)('raw bytes are what stock zstd decompresses the file to', async () => {
    const raw = spawnSync('zstd', ['-d', '-c', FILE], { maxBuffer: 1 << 26 });
    expect(raw.status).toBe(0);
    const s = JSON.parse((await trace('stats', FILE, '--json')).stdout) as { rawBytes: number };
    expect(s.rawBytes).toBe(raw.stdout.length);
  });

  it('as text: aligned tables with the same counts', async () => {
    const r = await trace('stats', FILE);
    expect(r.status).toBe(0);
    const out = r.stdout;
    expect(out).toMatch(new RegExp(`^events\\s+${ALL.length}$`, 'm'));
    expect(out).toMatch(new RegExp(`^file size\\s+${statSync(FILE).size.toLocaleString('en-US')} bytes: events `, 'm'));
    for (const port of PORTS) {
      const ins = EVENTS.filter((e) => e.kind === 'io' && e.port === port && !e.write).length;
      const outs = EVENTS.filter((e) => e.kind === 'io' && e.port === port && e.write).length;
      if (ins + outs > 0) expect(out).toMatch(new RegExp(`^  0x${port.toString(16).padStart(2, '0')}\\s+${ins}\\s+${outs}$`, 'm'));
    }
    const hlt = ALL.filter((e) => e.kind === 'hlt').length;
    expect(out).toMatch(new RegExp(`^  hlt\\s+${hlt}\\s+${((hlt * 100) / ALL.length).toFixed(1)}$`, 'm'));
    expect(out).toMatch(/^  0x1b\s+\d+\s+\d+\s+0\s+IA32_APIC_BASE$/m);
    expect(out).toMatch(/^end\s+debug-exit, exit status 3/m);
  });
});

describe('hvsim trace diff', () => {
  it('identical traces: status 0', async () => {
    const b = await write(EVENTS);
    const r = await trace('diff', FILE, b);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(REPLAY_STATUS.IDENTICAL);
    expect(r.stdout).toMatch(/^header: identical$/m);
    expect(r.stdout).toMatch(new RegExp(`^events: identical \\(${ALL.length} events\\)$`, 'm'));
    const j = JSON.parse((await trace('diff', FILE, b, '--json')).stdout) as { identical: boolean; firstDifference: unknown };
    expect(j.identical).toBe(true);
    expect(j.firstDifference).toBeNull();
  });

  it('one flipped value: reported at its event, with the field that differs', async () => {
    const k = EVENTS.findIndex((e, n) => n > 300 && e.kind === 'io');
    const changed = EVENTS.map((e, n) => (n === k && e.kind === 'io' ? { ...e, value: e.value ^ 1 } : e));
    const b = await write(changed);
    const r = await trace('diff', FILE, b);
    expect(r.status).toBe(REPLAY_STATUS.DIVERGED);
    expect(r.stdout).toMatch(new RegExp(`^events: first difference at event ${k}$`, 'm'));
    const e = EVENTS[k] as Extract<TraceEvent, { kind: 'io' }>;
    const h = (v: number): string => '0x' + v.toString(16).padStart(2, '0');
    expect(r.stdout).toMatch(new RegExp(`^  \\*\\s+value\\s+${h(e.value)}\\s+${h(e.value ^ 1)}$`, 'm'));
    expect(r.stdout).toMatch(new RegExp(`^\\s+port\\s+${h(e.port)}\\s+${h(e.port)}$`, 'm')); // shown, not marked
    const j = JSON.parse((await trace('diff', FILE, b, '--json')).stdout) as { identical: boolean; firstDifference: { event: number; fields: string[]; a: { value: number }; b: { value: number } } };
    expect(j.identical).toBe(false);
    expect(j.firstDifference.event).toBe(k);
    expect(j.firstDifference.fields).toEqual(['value']);
    expect(j.firstDifference.b.value).toBe(e.value ^ 1);
  });

  it('a changed high half of an MSR value, a changed icount, a changed end status', async () => {
    const k = EVENTS.findIndex((e, n) => n > 100 && e.kind === 'wrmsr');
    const msr = EVENTS.map((e, n) => (n === k && e.kind === 'wrmsr' ? { ...e, value: [e.value[0], (e.value[1] ^ 0x80000000) >>> 0] as U64 } : e));
    let j = JSON.parse((await trace('diff', FILE, await write(msr), '--json')).stdout) as { firstDifference: { event: number; fields: string[] } };
    expect(j.firstDifference).toMatchObject({ event: k, fields: ['value'] });

    const icount = EVENTS.map((e, n) => (n === 10 ? { ...e, icount: e.icount + 1 } : e));
    j = JSON.parse((await trace('diff', FILE, await write(icount), '--json')).stdout);
    expect(j.firstDifference).toMatchObject({ event: 10, fields: ['icount'] });

    const r = await trace('diff', FILE, await write(EVENTS, { end: endOf(EVENTS, 5) }), '--json');
    expect(r.status).toBe(1);
    const d = JSON.parse(r.stdout) as { firstDifference: { event: number; fields: string[] }; a: { end: { exitStatus: number } }; b: { end: { exitStatus: number } } };
    expect(d.firstDifference).toMatchObject({ event: EVENTS.length, fields: ['status'] });
    expect([d.a.end.exitStatus, d.b.end.exitStatus]).toEqual([3, 5]);
  });

  it('a dropped event: reported at its number, and named as missing', async () => {
    const k = 123;
    const dropped = EVENTS.filter((_, n) => n !== k);
    const b = await write(dropped, { end: endOf(EVENTS) });
    const r = await trace('diff', FILE, b);
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(new RegExp(`^events: first difference at event ${k}$`, 'm'));
    expect(r.stdout).toContain(`A's event ${k} is missing from B`);
    expect(r.stdout).toMatch(new RegExp(`^A\\s+\\S+\\s+${ALL.length} events`, 'm'));
    expect(r.stdout).toMatch(new RegExp(`^B\\s+\\S+\\s+${ALL.length - 1} events`, 'm'));
    // ...and the other way round: an added event.
    const r2 = JSON.parse((await trace('diff', b, FILE, '--json')).stdout) as { firstDifference: { event: number; note: string } };
    expect(r2.firstDifference.event).toBe(k);
    expect(r2.firstDifference.note).toContain(`B's event ${k} is missing from A`);
  });

  it('one trace is a prefix of the other', async () => {
    const part = await write(EVENTS.slice(0, 400), { end: endOf(EVENTS) });
    const j = JSON.parse((await trace('diff', FILE, part, '--json')).stdout) as { firstDifference: { event: number; a: { kind: string }; b: { kind: string } } };
    expect(j.firstDifference.event).toBe(400);
    expect(j.firstDifference.b.kind).toBe('end');
  });

  it('headers: configuration and images count, the command line and hvsim version are informational', async () => {
    const cfg = await write(EVENTS, { header: { ...HEADER, config: { ...(HEADER.config as object), vcpus: 4 } } });
    const r = await trace('diff', FILE, cfg);
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/^header: 1 difference$/m);
    expect(r.stdout).toMatch(/^  config\.vcpus\s+2\s+4$/m);
    expect(r.stdout).toMatch(/^events: identical/m);

    // Another recording of the same run: another --record path, --quiet, another build.
    const cmd = await write(EVENTS, {
      header: { ...HEADER, hvsimVersion: '0.2.0', commandLine: [...HEADER.commandLine.slice(0, -1), 'other.zst'], config: { ...(HEADER.config as object), record: 'other.zst', quiet: true } },
    });
    const r2 = await trace('diff', FILE, cmd);
    expect(r2.status).toBe(0);
    expect(r2.stdout).toMatch(/^header: 0 differences \(\+ 4 informational\)$/m);
    expect(r2.stdout).toMatch(/^  hvsimVersion\s+0\.1\.0\s+0\.2\.0\s+\(informational\)$/m);
    expect(r2.stdout).toMatch(/^  config\.record\s+\(absent\)\s+"other\.zst"\s+\(informational\)$/m);
    expect(r2.stdout).toMatch(/^the traces are identical$/m);

    // Another kernel (same name and size, one byte changed), stored by hash only: the hash counts, the storage does not.
    const kernel = IMAGES[0].bytes.slice();
    kernel[100] ^= 0xff;
    const img = await write(EVENTS, { images: [{ ...IMAGES[0], bytes: kernel, embed: false }, IMAGES[1]] });
    const j = JSON.parse((await trace('diff', FILE, img, '--json')).stdout) as { identical: boolean; header: { field: string; informational: boolean }[] };
    expect(j.identical).toBe(false);
    expect(j.header.map((d) => [d.field, d.informational])).toEqual([
      ['images[0].sha256', false],
      ['images[0].embedded', true],
    ]);
  });

  it('an unreadable B: status 65, one line naming B', async () => {
    const bad = join(tmp, 'garbage.zst');
    writeFileSync(bad, 'not a trace at all');
    const r = await trace('diff', FILE, bad);
    expect(r.status).toBe(REPLAY_STATUS.BAD_INPUT);
    expectOneLine(r.stderr, new RegExp(`^hvsim trace: ${bad.replace(/[.]/g, '\\.')}: not a zstd file`));
  });
});

/** One field of the event changed (the first one of its kind after the stamp), and that field's diff name. */
function mutate(e: TraceEvent): [TraceEvent, string] {
  const flip = (b: Uint8Array): Uint8Array => b.map((x, i) => (i === b.length - 1 ? x ^ 1 : x));
  switch (e.kind) {
    case 'io':
      return [{ ...e, port: e.port ^ 1 }, 'port'];
    case 'mmio':
      return [{ ...e, write: !e.write }, 'direction'];
    case 'cpuid':
      return [{ ...e, result: [e.result[0], e.result[1], e.result[2] ^ 4, e.result[3]] }, 'ecx'];
    case 'rdmsr':
    case 'wrmsr':
      return [{ ...e, gp: !e.gp }, 'gp'];
    case 'hypercall':
      return [{ ...e, args: [...e.args.slice(0, -1), [e.args[e.args.length - 1][0], e.args[e.args.length - 1][1] ^ 1]] }, ['rax', 'rbx', 'rcx', 'rdx', 'rsi', 'rdi', 'r8', 'r9', 'r10'][e.args.length - 1]];
    case 'shutdown':
      return [{ ...e, reason: 'hlt-with-interrupts-off' }, 'reason'];
    case 'debug-exit':
      return [{ ...e, code: e.code + 1 }, 'code'];
    case 'interrupt':
      return [{ ...e, source: e.source === 'pic' ? 'msi' : 'pic' }, 'source'];
    case 'dma':
      return 'data' in e ? [{ ...e, data: flip(e.data) }, 'data'] : [{ ...e, digest: flip(e.digest) }, 'digest'];
    case 'host-input':
      return [{ ...e, data: flip(e.data) }, 'data'];
    case 'digest':
      return [{ ...e, parts: [e.parts[0], { name: e.parts[1].name, hash: flip(e.parts[1].hash) }] }, `part.${e.parts[1].name}`];
    case 'end':
      return [{ ...e, digest: flip(e.digest) }, 'digest'];
    case 'kv-write':
      return [{ ...e, value: e.value + '!' }, 'value'];
    default:
      return [{ ...e, vcpu: e.vcpu + 1 }, 'vcpu'];
  }
}

describe('event comparison (what diff walks with)', () => {
  it('equal events are equal, one changed field of any kind is found and named', () => {
    for (const e of ALL) {
      const copy = structuredClone(e);
      expect(sameEvent(e, copy)).toBe(true);
      const [m, field] = mutate(e);
      expect(sameEvent(e, m), `${e.kind} ${field}`).toBe(false);
      expect(JSON.stringify(expectedJson(0, m))).not.toBe(JSON.stringify(expectedJson(0, e))); // the mutation is real
      expect(fieldRows(e, m).filter((r) => r.differs).map((r) => r.name), e.kind).toEqual([field]);
    }
    // Another kind at the same stamp.
    expect(sameEvent({ vcpu: 0, icount: 5, kind: 'hlt' }, { vcpu: 0, icount: 5, kind: 'pause' })).toBe(false);
    expect(fieldRows({ vcpu: 0, icount: 5, kind: 'hlt' }, { vcpu: 0, icount: 5, kind: 'pause' }).filter((r) => r.differs).map((r) => r.name)).toEqual(['kind']);
  });
});

describe('a trace recorded by hvsim run --record', () => {
  it('hello: one OUT to COM1 per byte of console output, one debug-exit, the run\'s end', async (ctx) => {
    const { runCommand } = await import('../../src/cli/run.js');
    const path = join(tmp, 'hello.zst');
    const console_ = new Capture();
    const status = await runCommand(['--hypervisor', 'kvm', '--kernel', 'fixtures/guests/hello/hello.elf', '--append', 'trace tools', '--record', path, 'demo'], {
      stdout: console_,
      stderr: new Capture(),
    });
    if (status === REPLAY_STATUS.USAGE) ctx.skip(); // a checkout without --record
    expect(status).toBe(1); // hello ends with debug-exit 0: (0 << 1) | 1
    const s = JSON.parse((await trace('stats', path, '--json')).stdout) as { ioPorts: Record<string, { out: number }>; kinds: Record<string, number>; end: { reason: string; exitStatus: number } };
    expect(s.ioPorts['0x3f8'].out).toBe(Buffer.byteLength(console_.text, 'latin1'));
    expect(s.kinds['debug-exit']).toBe(1);
    expect(s.end).toMatchObject({ reason: 'debug-exit', exitStatus: 1 });
    // The console text, read back from the trace's COM1 writes.
    const outs = jsonLines((await trace('show', path, '--json', '--kind', 'io')).stdout)
      .slice(1)
      .filter((o) => o.port === 0x3f8 && o.write === true);
    expect(String.fromCharCode(...outs.map((o) => o.value as number))).toBe(console_.text);

    // The same run recorded again elsewhere is identical; another command line is not.
    const again = join(tmp, 'hello-again.zst');
    await runCommand(['--hypervisor', 'kvm', '--kernel', 'fixtures/guests/hello/hello.elf', '--append', 'trace tools', '--record', again, 'demo'], { stdout: new Capture(), stderr: new Capture() });
    const same = await trace('diff', path, again);
    expect(same.status).toBe(REPLAY_STATUS.IDENTICAL);
    expect(same.stdout).toMatch(/^  config\.record .*\(informational\)$/m);
    const other = join(tmp, 'hello-other.zst');
    await runCommand(['--hypervisor', 'kvm', '--kernel', 'fixtures/guests/hello/hello.elf', '--append', 'trace tooLs', '--record', other, 'demo'], { stdout: new Capture(), stderr: new Capture() });
    const d = await trace('diff', path, other, '--json');
    expect(d.status).toBe(REPLAY_STATUS.DIVERGED);
    const j = JSON.parse(d.stdout) as { header: { field: string; informational: boolean }[]; firstDifference: { event: number; fields: string[]; a: { value: number }; b: { value: number } } };
    expect(j.header.filter((h) => !h.informational).map((h) => h.field)).toEqual(['config.append']);
    // The first difference is the COM1 write of the changed letter: 'l' in A, 'L' in B.
    expect(j.firstDifference.fields).toEqual(['value']);
    expect([j.firstDifference.a.value, j.firstDifference.b.value]).toEqual([0x6c, 0x4c]);
    const before = jsonLines((await trace('show', path, '--json', '--events', `..${j.firstDifference.event - 1}`)).stdout)
      .slice(1)
      .filter((o) => o.port === 0x3f8 && o.write === true);
    expect(String.fromCharCode(...before.map((o) => o.value as number))).toBe(console_.text.slice(0, console_.text.indexOf('trace tools') + 'trace too'.length));
  });
});

describe('bad input and bad command lines', () => {
  let good: Buffer;
  beforeAll(() => {
    good = readFileSync(FILE);
  });
  const file = (name: string, data: Uint8Array): string => {
    const p = join(tmp, name);
    writeFileSync(p, data);
    return p;
  };

  it('empty, random bytes, half a file, another format version, a missing file: one line, status 65', async () => {
    let x = 1;
    const random = new Uint8Array(4096).map(() => (x = (Math.imul(x, 48271) % 2147483647) >>> 0) & 0xff);
    const cases: [string, RegExp][] = [
      [file('empty.zst', new Uint8Array(0)), /empty file \(0 bytes\), not an hvsim trace/],
      [file('random.zst', random), /not a zstd file/],
      [file('half.zst', good.subarray(0, good.length >> 1)), /truncated: .*\(--allow-incomplete reads them\)\n/],
      [join(tmp, 'no-such-file.zst'), /no such file/],
    ];
    // Format version 2: frame 0 re-compressed with its version field (bytes 8-9) patched.
    const r0 = await TraceReader.open(FILE);
    const frame0 = r0.frameContent(0).slice();
    const rest = good.subarray(r0.frames[1].offset);
    r0.close();
    frame0[8] = 2;
    const zstd = await loadZstd();
    cases.push([file('v2.zst', Buffer.concat([zstd.compress(frame0, DEFAULT_ZSTD_LEVEL), rest])), /trace format version 2; this hvsim reads version 1 only/]);
    for (const [path, msg] of cases) {
      for (const cmd of [['show', path], ['stats', path], ['show', '--json', path]]) {
        const r = await trace(...cmd);
        expect(r.status, `${cmd.join(' ')}`).toBe(REPLAY_STATUS.BAD_INPUT);
        expect(r.stdout).toBe('');
        expectOneLine(r.stderr, new RegExp(`^hvsim trace: ${path.replace(/[.]/g, '\\.')}: `));
        expect(r.stderr).toMatch(msg);
        expect(r.stderr.split(path)).toHaveLength(2); // the file is named once, not twice
      }
    }
  });

  it('--allow-incomplete reads a truncated trace up to its last complete frame', async () => {
    const half = file('half2.zst', good.subarray(0, good.length >> 1));
    const r = await trace('show', half, '--allow-incomplete', '--json');
    expect(r.status).toBe(0);
    const lines = jsonLines(r.stdout);
    expect(lines[0].complete).toBe(false);
    const events = lines.slice(1);
    expect(events.length).toBeGreaterThan(50);
    expect(events.length).toBeLessThan(ALL.length);
    events.forEach((o, n) => expect(o).toEqual(expectedJson(n, ALL[n])));
    const text = await trace('show', half, '--allow-incomplete', '--header-only');
    expect(text.stdout).toMatch(/INCOMPLETE: no end event/);
    const s = JSON.parse((await trace('stats', half, '--allow-incomplete', '--json')).stdout) as { events: number; end: unknown; complete: boolean };
    expect(s).toMatchObject({ events: events.length, end: null, complete: false });
  });

  it('a corrupt frame in the middle: the events before it, then one line and status 65', async () => {
    const r0 = await TraceReader.open(FILE);
    const f = r0.frames[r0.frames.length - 3];
    r0.close();
    const bad = Buffer.from(good);
    bad[f.offset + (f.compressedSize >> 1)] ^= 0x55;
    const path = file('flipped.zst', bad);
    const r = await trace('show', path, '--json');
    expect(r.status).toBe(REPLAY_STATUS.BAD_INPUT);
    expectOneLine(r.stderr, /^hvsim trace: .*flipped\.zst: frame \d+.*(corrupt|CRC|decompress|truncated)/);
    const lines = jsonLines(r.stdout);
    expect(lines.length - 1).toBeLessThanOrEqual(f.firstEvent);
    // Asking only for events before the damaged frame reads none of it.
    for (const opts of [['--events', `..${f.firstEvent - 1}`], ['--limit', String(f.firstEvent)]]) {
      const ok = await trace('show', path, '--json', ...opts);
      expect(ok.status, opts.join(' ')).toBe(0);
      expect(jsonLines(ok.stdout)).toHaveLength(1 + f.firstEvent);
    }
  });

  it('a header with the wrong types in it (the JSON is the file\'s, so anything can be there): one line, status 65', async () => {
    const cmd = join(tmp, 'bad-cmd.zst');
    const w = await TraceWriter.create(cmd, { ...HEADER, commandLine: ['run', 5] as unknown as string[] });
    w.close(endOf([]));
    const r = await trace('show', cmd);
    expect(r.status).toBe(REPLAY_STATUS.BAD_INPUT);
    expectOneLine(r.stderr, /corrupt: the header's commandLine\[1\] is not a string/);
    // Image entries are written by the writer from real images, so frame 0 is built here
    // (docs/trace-format.md, "Record stream"): stream magic, u16 version 1, the header as a
    // string, frame-end (tag 31, u32 0 events, u32 CRC-32 of what precedes it). The event
    // frames follow; the index is left out, so the reader walks the frames.
    const reader = await TraceReader.open(FILE);
    const json = JSON.stringify({ ...reader.header, images: [{ ...reader.header.images[0], embedded: 'yes' }] });
    const events = reader.frames.filter((f) => f.eventCount > 0);
    const body = good.subarray(reader.frames[1].offset, events[events.length - 1].offset + events[events.length - 1].compressedSize);
    reader.close();
    const w0 = new ByteWriter();
    w0.ensure(10);
    w0.buf.set(STREAM_MAGIC, 0);
    w0.pos = 8;
    w0.u8(1);
    w0.u8(0);
    w0.str(json);
    const crc = crc32(w0.bytes()) >>> 0;
    w0.u8(31);
    w0.u32le(0);
    w0.u32le(crc);
    const zstd = await loadZstd();
    const path = file('bad-image.zst', Buffer.concat([zstd.compress(w0.bytes(), DEFAULT_ZSTD_LEVEL), body]));
    const r2 = await trace('show', path, '--header-only');
    expect(r2.status).toBe(REPLAY_STATUS.BAD_INPUT);
    expectOneLine(r2.stderr, /corrupt: the header's images\[0\] is not \{name, role, size, sha256, embedded\}/);
  });

  it('a trace cut right after its header, read with --allow-incomplete: no events, no end', async () => {
    const reader = await TraceReader.open(FILE);
    const cut = file('header-only.zst', good.subarray(0, reader.frames[1].offset));
    reader.close();
    const show = await trace('show', cut, '--allow-incomplete', '--json');
    expect(show.status).toBe(0);
    expect(jsonLines(show.stdout)).toHaveLength(1);
    const stats = JSON.parse((await trace('stats', cut, '--allow-incomplete', '--json')).stdout) as Record<string, unknown>;
    expect(stats).toMatchObject({ events: 0, end: null, instructions: 0, bytesPerMillionInstructions: null });
    expect((await trace('stats', cut, '--allow-incomplete')).status).toBe(0);
    const d = await trace('diff', FILE, cut, '--allow-incomplete', '--json');
    expect(d.status).toBe(1);
    expect(JSON.parse(d.stdout)).toMatchObject({ firstDifference: { event: 0, b: null }, b: { events: 0, end: null } });
  });

  it('stdout closed early (`| head`): output stops, no exception', async () => {
    class Broken extends Writable {
      writes = 0;
      override _write(_c: Buffer, _e: BufferEncoding, cb: (err?: Error) => void): void {
        this.writes++;
        cb(Object.assign(new Error('write EPIPE'), { code: 'EPIPE' }));
      }
    }
    const stdout = new Broken();
    const stderr = new Capture();
    const status = await traceCommand(['show', FILE, '--json'], { stdout, stderr });
    expect(status).toBe(0);
    expect(stdout.writes).toBe(1);
    expect(stderr.text).toBe('');
  });

  it('usage errors: one line with a hint, status 64', async () => {
    const cases: [string[], RegExp][] = [
      [[], /^hvsim trace: missing command/],
      [['frobnicate'], /^hvsim trace: unknown command 'frobnicate'/],
      [['show'], /^hvsim trace show: missing FILE/],
      [['show', FILE, FILE], /unexpected/],
      [['diff', FILE], /^hvsim trace diff: missing A B/],
      [['show', FILE, '--bogus'], /unknown option '--bogus'/],
      [['show', FILE, '--kind', 'iox'], /unknown event kind 'iox'/],
      [['show', FILE, '--events', '9..3'], /range is empty/],
      [['show', FILE, '--limit', 'ten'], /--limit 'ten': expected a non-negative integer/],
      [['show', FILE, '--vcpu'], /--vcpu needs a value/],
      [['stats', FILE, '--kind', 'io'], /unknown option '--kind'/],
    ];
    for (const [args, msg] of cases) {
      const r = await trace(...args);
      expect(r.status, args.join(' ')).toBe(REPLAY_STATUS.USAGE);
      expectOneLine(r.stderr, msg);
      expect(r.stderr).toContain("try 'hvsim trace --help'");
    }
    const help = await trace('--help');
    expect(help.status).toBe(0);
    expect(help.stdout).toContain('hvsim trace show FILE');
  });
});

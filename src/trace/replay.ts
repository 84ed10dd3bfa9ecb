// Replaying a trace: rebuild the machine from the header, re-run it with a TraceVerifier
// watching, and report identity or the first divergence with its context (guest RIP and mode,
// the last matching digest, the instructions just before).

import { TraceReader, type ImageInfo, type TraceHeader } from './container.js';
import { TraceFormatError } from './errors.js';
import type { TraceEvent } from './encoding.js';
import { TraceVerifier, type Divergence, type ReplayMode } from './replayer.js';
import { createSession, driveSession, sessionDigest, type MachineSetup, type Session, type SessionImages } from '../api/session.js';
import { ExitKind, type VmExit } from '../machine/exit.js';
import type { ByteSink } from '../devices/device.js';
import { Access, type Cpu } from '../machine/cpu/cpu.js';
import { createHash } from 'node:crypto';
import { statusOf, endReason } from '../api/exit-status.js';

/** What a recorded configuration must hold to rebuild the run (hvsim run's RunConfig has it). */
export interface RecordedSetup extends MachineSetup {
  kernel: string | null;
  initrd: string | null;
  modules: { path: string; string: string | null }[];
  maxInsns: number | null;
  digestEvery: number;
}

export interface ReplayOptions {
  mode?: ReplayMode;
  /** Bytes for images the trace holds only by hash, by role ('kernel', 'initrd', 'module:0'). */
  images?: Record<string, Uint8Array>;
  /** Where the guest's serial output goes (default: discarded). */
  console?: { com1?: ByteSink; com2?: ByteSink };
  /** Read a trace that did not finish (a killed run) up to its last complete frame. */
  allowIncomplete?: boolean;
  /** Called between slices with the icount reached and the trace's last known icount. */
  onProgress?(icount: number, total: number): void;
  /** How many instructions before a divergence to disassemble (default 8). */
  contextInstructions?: number;
}

export interface InstructionContext {
  rip: number;
  bytes: Uint8Array;
}

export interface DivergenceContext {
  rip: number;
  mode: string;
  cpl: number;
  /** The last instructions retired before the divergent event, oldest first. */
  lastInstructions: InstructionContext[];
}

export interface ReplayResult {
  header: TraceHeader;
  mode: ReplayMode;
  identical: boolean;
  /** The trace did not finish (allowIncomplete): identity holds up to its last event. */
  incomplete: boolean;
  divergence: Divergence | null;
  context: DivergenceContext | null;
  /** Events matched. */
  events: number;
  instructions: number;
  exit: VmExit;
}

/** A recorded configuration that does not make sense: the trace is not usable. */
function badHeader(why: string): never {
  throw new TraceFormatError('corrupt', `trace header: ${why}`);
}

function checkSetup(c: unknown): RecordedSetup {
  if (typeof c !== 'object' || c === null) badHeader('no machine configuration');
  const o = c as Record<string, unknown>;
  const num = (k: string): void => void (typeof o[k] !== 'number' && badHeader(`configuration field ${k} is not a number`));
  const bool = (k: string): void => void (typeof o[k] !== 'boolean' && badHeader(`configuration field ${k} is not a boolean`));
  const str = (k: string): void => void (typeof o[k] !== 'string' && badHeader(`configuration field ${k} is not a string`));
  str('vmname');
  num('vcpus');
  num('memoryBytes');
  num('rtcTime');
  num('digestEvery');
  str('append');
  bool('strictIo');
  bool('ignoreUnknownMsrs');
  bool('exitOnPause');
  if (!Array.isArray(o.hypervisors) || !o.hypervisors.every((h) => typeof h === 'string')) badHeader('configuration field hypervisors');
  if (!Array.isArray(o.kv)) badHeader('configuration field kv');
  if (!Array.isArray(o.modules)) badHeader('configuration field modules');
  if (o.maxInsns !== null && typeof o.maxInsns !== 'number') badHeader('configuration field maxInsns');
  // A replay never touches the recorded run's host files: disks are stand-ins of their recorded
  // sizes (older traces have none: no disks), their data comes from the trace.
  const sizes = o.blkSizes ?? {};
  if (typeof sizes !== 'object' || sizes === null || Array.isArray(sizes) || !Object.values(sizes).every((v) => Number.isSafeInteger(v) && (v as number) >= 0)) {
    badHeader('configuration field blkSizes');
  }
  return { ...(o as unknown as RecordedSetup), blkSizes: sizes as Record<string, number> };
}

function sha256(b: Uint8Array): string {
  return createHash('sha256').update(b).digest('hex');
}

/** Each image's bytes: from the trace, or given by the caller (checked against the hash). */
function collectImages(reader: TraceReader, given: Record<string, Uint8Array>): Map<string, Uint8Array> {
  const out = new Map<string, Uint8Array>();
  reader.header.images.forEach((info: ImageInfo, i) => {
    let bytes: Uint8Array | undefined;
    if (info.embedded) bytes = reader.image(i);
    else {
      bytes = given[info.role];
      if (bytes === undefined) {
        throw new ReplayInputError(`the trace holds only the hash of the ${info.role} image (${info.name}, sha256 ${info.sha256.slice(0, 16)}...): give the file with --image ${info.role}=PATH`);
      }
      if (sha256(bytes) !== info.sha256) throw new ReplayInputError(`the ${info.role} image given is not the recorded one (sha256 differs from ${info.sha256.slice(0, 16)}...)`);
    }
    out.set(info.role, bytes);
  });
  return out;
}

/** A missing or wrong input file for a replay (not a problem of the trace itself). */
export class ReplayInputError extends Error {}

function sessionImages(setup: RecordedSetup, images: Map<string, Uint8Array>): SessionImages {
  const kernel = images.get('kernel');
  if (kernel === undefined || setup.kernel === null) badHeader('no kernel image');
  const modules: SessionImages['modules'] = [];
  const initrd = images.get('initrd');
  if (setup.initrd !== null) {
    if (initrd === undefined) badHeader('the initrd image is missing');
    modules.push({ data: initrd, string: basenameOf(setup.initrd) });
  }
  setup.modules.forEach((m, i) => {
    const data = images.get(`module:${i}`);
    if (data === undefined) badHeader(`module ${i} is missing`);
    modules.push({ data, string: m.string ?? basenameOf(m.path) });
  });
  return { kernel, kernelName: setup.kernel, modules };
}

function basenameOf(p: string): string {
  const i = p.lastIndexOf('/');
  return i < 0 ? p : p.slice(i + 1);
}

export function cpuMode(c: Cpu): string {
  if (!c.protectedMode) return 'real mode';
  if (c.long) return c.codeSize === 3 ? '64-bit long mode' : `compatibility mode (${c.codeSize === 2 ? 32 : 16}-bit code)`;
  return `${c.codeSize === 2 ? 32 : 16}-bit protected mode`;
}

/** Up to 15 instruction bytes at the vCPU's RIP (fewer where the code is not readable). */
function bytesAtRip(c: Cpu): Uint8Array {
  const out: number[] = [];
  const base = (c.ripLo >>> 0) + (c.long && c.codeSize === 3 ? 0 : c.csBase >>> 0);
  for (let i = 0; i < 15; i++) {
    try {
      const lin = base + i;
      const pa = c.translate(lin % 4294967296 | 0, c.long && c.codeSize === 3 ? c.ripHi : 0, Access.EXEC, false);
      out.push(c.mem.physRead(pa, 1) & 0xff);
    } catch {
      break;
    }
  }
  return Uint8Array.from(out);
}

/**
 * Re-run the trace's machine (no observer: the run is deterministic) to `count` instruction
 * times before the divergence and step through the rest, noting each instruction.
 */
function instructionsBefore(setup: RecordedSetup, images: SessionImages, clockAt: number, count: number): InstructionContext[] {
  const s = createSession(setup, images, {});
  const out: InstructionContext[] = [];
  const start = Math.max(0, clockAt - count);
  if (start > 0) {
    for (;;) {
      const left = start - s.machine.clock.icount;
      if (left <= 0) break;
      const e = s.vmm.run(s.id, 0, { maxInsns: left });
      if (e.kind !== ExitKind.Limit) return out;
    }
  }
  const c = s.machine.cpus[0];
  while (s.machine.clock.icount < clockAt) {
    const before = c.insns;
    const rip = (c.ripHi >>> 0) * 4294967296 + (c.ripLo >>> 0);
    const bytes = bytesAtRip(c);
    const e = s.vmm.run(s.id, 0, { maxInsns: 1 });
    if (c.insns !== before) out.push({ rip, bytes });
    if (e.kind !== ExitKind.Limit) break;
  }
  return out;
}

/** Re-run a trace and check every event. Throws TraceFormatError (bad file) or ReplayInputError. */
export async function replayTrace(path: string, opts: ReplayOptions = {}): Promise<ReplayResult> {
  const reader = await TraceReader.open(path, { allowIncomplete: opts.allowIncomplete ?? false });
  try {
    return replayReader(reader, opts);
  } finally {
    reader.close();
  }
}

/** Re-run an open trace and check every event (the caller closes the reader). */
export function replayReader(reader: TraceReader, opts: ReplayOptions = {}): ReplayResult {
  const header = reader.header;
  const setup = checkSetup(header.config);
  const images = sessionImages(setup, collectImages(reader, opts.images ?? {}));
  const mode = opts.mode ?? 'verify';
  const session: Session = createSession(setup, images, opts.console ?? {});
  const m = session.machine;
  const verifier = new TraceVerifier(reader.cursor(), m, mode);
  m.observer = verifier;
  const lastFrame = reader.frames[reader.frames.length - 1];
  const total = lastFrame !== undefined && lastFrame.icounts.length > 0 ? lastFrame.icounts[0] : 0;
  const exit = driveSession(session, {
    maxInsns: setup.maxInsns,
    digestEvery: setup.digestEvery,
    onDigest: (icount, d) => void verifier.check({ vcpu: 0, icount, kind: 'digest', hash: d.hash, parts: d.parts }),
    onSlice: (icount) => opts.onProgress?.(icount, total),
  });
  m.observer = null;
  const cpu = m.cpus[0];
  if (verifier.divergence === null) {
    verifier.check(endEvent(session, exit, cpu.insns));
    verifier.finish();
  }
  let d = verifier.divergence;
  const incomplete = !reader.complete;
  // An incomplete trace runs out of events before the re-run ends: identity up to there.
  if (d !== null && incomplete && d.expected === null) d = null;
  let context: DivergenceContext | null = null;
  if (d !== null) {
    context = {
      rip: (cpu.ripHi >>> 0) * 4294967296 + (cpu.ripLo >>> 0),
      mode: cpuMode(cpu),
      cpl: cpu.cpl,
      lastInstructions: instructionsBefore(setup, images, m.clock.icount, opts.contextInstructions ?? 8),
    };
  }
  return { header, mode, identical: d === null, incomplete, divergence: d, context, events: verifier.eventNumber, instructions: cpu.insns, exit };
}

/** The end event a run produces (the same shape `hvsim run --record` writes). */
function endEvent(s: Session, exit: VmExit, icount: number): TraceEvent {
  return { vcpu: 0, icount, kind: 'end', reason: endReason(exit), exitStatus: statusOf(exit), digest: sessionDigest(s).hash };
}


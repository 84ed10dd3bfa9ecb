// `hvsim run`: build a VM from bhyve-style options, load the kernel, run it to its end and
// turn that end into an exit status (see exit-status.ts). With --record, every event of the
// run goes into a trace that `hvsim replay` re-runs.

import { readFileSync, openSync, writeSync, closeSync } from 'node:fs';
import { basename } from 'node:path';
import chalk from 'chalk';
import { parseRunArgs, helpText, UsageError, type RunConfig } from './args.js';
import { STATUS, statusOf, endReason } from '../api/exit-status.js';
import { ExitKind, type VmExit } from '../machine/exit.js';
import { LoaderError } from '../loaders/index.js';
import { VmmError } from '../api/vmm.js';
import { PlatformError } from '../machine/pci-platform.js';
import { createSession, driveSession, sessionDigest, type Session, type SessionImages } from '../api/session.js';
import type { ByteSink } from '../devices/device.js';
import { loadTraceCodec, TraceWriter, type TraceImage } from '../trace/index.js';
import { TraceRecorder } from '../trace/recorder.js';
import { HVSIM_VERSION } from '../version.js';

export interface RunOutcome {
  status: number;
  exit: VmExit | null;
  instructions: number;
}

type Io = { stdout: NodeJS.WritableStream; stderr: NodeJS.WritableStream };

export async function runCommand(argv: string[], io: Io = process): Promise<number> {
  let cfg: RunConfig;
  try {
    cfg = parseRunArgs(argv);
  } catch (e) {
    if (e instanceof UsageError) {
      io.stderr.write(`hvsim run: ${e.message}\n`);
      return STATUS.USAGE;
    }
    throw e;
  }
  if (cfg.help !== null) {
    io.stdout.write(helpText(cfg.help) + '\n');
    return 0;
  }
  if (cfg.record !== null) await loadTraceCodec();
  const r = runVm(cfg, io, argv);
  return r.status;
}

function fail(io: { stderr: NodeJS.WritableStream }, msg: string, status: number): RunOutcome {
  io.stderr.write(`hvsim run: ${msg}\n`);
  return { status, exit: null, instructions: 0 };
}

/** The guest images of a run, read from the files the configuration names. */
export interface RunImages {
  session: SessionImages;
  /** The same bytes with their roles, for a trace header. */
  trace: TraceImage[];
}

/** Read the kernel, initrd and modules; a string is the one-line error. */
export function readRunImages(cfg: RunConfig): RunImages | string {
  if (cfg.kernel === null) return '--kernel FILE is required (hvsim has no firmware to boot from disk yet)';
  const embed = cfg.recordImages !== 'hash';
  const trace: TraceImage[] = [];
  const modules: { data: Uint8Array; string?: string }[] = [];
  let reading = cfg.kernel;
  try {
    const kernel = new Uint8Array(readFileSync(cfg.kernel));
    trace.push({ name: cfg.kernel, role: 'kernel', bytes: kernel, embed });
    if (cfg.initrd !== null) {
      reading = cfg.initrd;
      const data = new Uint8Array(readFileSync(cfg.initrd));
      modules.push({ data, string: basename(cfg.initrd) });
      trace.push({ name: cfg.initrd, role: 'initrd', bytes: data, embed });
    }
    cfg.modules.forEach((m, i) => {
      reading = m.path;
      const data = new Uint8Array(readFileSync(m.path));
      modules.push({ data, string: m.string ?? basename(m.path) });
      trace.push({ name: m.path, role: `module:${i}`, bytes: data, embed });
    });
    return { session: { kernel, kernelName: cfg.kernel, modules }, trace };
  } catch (e) {
    // EISDIR comes from read(2), after open(2) succeeded: Node gives no path then, so name the
    // file being read ourselves.
    const err = e as NodeJS.ErrnoException;
    const why = err.code === 'ENOENT' ? 'no such file' : err.code === 'EISDIR' ? 'is a directory' : err.code === 'EACCES' ? 'permission denied' : err.code ?? err.message;
    return `${reading}: ${why}`;
  }
}

/** Devices the command line may name that the machine cannot build yet (one line, or null). */
export function unsupportedSetup(cfg: RunConfig): string | null {
  for (const s of cfg.serial) {
    if (s.port !== 'com1' && s.port !== 'com2') return `-l ${s.port}: only com1 and com2 exist on this machine`;
  }
  return null;
}

/** Run a parsed configuration to its end (synchronous: the guest is deterministic). */
export function runVm(cfg: RunConfig, io: Io, argv: readonly string[] = []): RunOutcome {
  const bad = unsupportedSetup(cfg);
  if (bad !== null) return fail(io, bad, STATUS.USAGE);
  const images = readRunImages(cfg);
  if (typeof images === 'string') return fail(io, images, cfg.kernel === null ? STATUS.USAGE : STATUS.BAD_INPUT);

  // Serial backends: -l comN,stdio | -l comN,/path; COM1 goes to stdout when no -l is given.
  // Every file opened here is closed on every way out of the run (the `finally` below).
  const serial = new SerialOutputs();
  try {
    return runWithSerial(cfg, io, images, serial, argv);
  } finally {
    serial.close();
  }
}

/** The serial sinks of one run: line-buffered, flushed at the end, files closed. */
class SerialOutputs {
  readonly sinks: { com1?: ByteSink; com2?: ByteSink } = {};
  private readonly flushers: Array<() => void> = [];
  private readonly files: number[] = [];

  add(port: 'com1' | 'com2', write: ((chunk: Uint8Array) => void) | null): void {
    if (write === null) {
      this.sinks[port] = () => {};
      return;
    }
    const { sink, flush } = lineBufferedSink(write);
    this.flushers.push(flush);
    this.sinks[port] = sink;
  }

  openFile(path: string): number {
    const fd = openSync(path, 'w');
    this.files.push(fd);
    return fd;
  }

  flush(): void {
    for (const f of this.flushers) f();
  }

  close(): void {
    this.flush();
    for (const fd of this.files.splice(0)) closeSync(fd);
  }
}

function runWithSerial(cfg: RunConfig, io: Io, images: RunImages, serial: SerialOutputs, argv: readonly string[]): RunOutcome {
  const serials = cfg.serial.length > 0 ? cfg.serial : [{ port: 'com1' as const, backend: { kind: 'stdio' as const } }];
  for (const s of serials) {
    const port = s.port as 'com1' | 'com2';
    if (s.backend.kind === 'stdio') {
      serial.add(port, (chunk) => io.stdout.write(chunk));
    } else if (s.backend.kind === 'path') {
      let fd: number;
      try {
        fd = serial.openFile(s.backend.path);
      } catch (e) {
        return fail(io, `-l ${s.port},${s.backend.path}: cannot open (${(e as NodeJS.ErrnoException).code})`, STATUS.BAD_INPUT);
      }
      serial.add(port, (chunk) => writeSync(fd, chunk));
    } else serial.add(port, null);
  }

  let session: Session;
  try {
    session = createSession(cfg, images.session, serial.sinks);
  } catch (e) {
    if (e instanceof VmmError || e instanceof PlatformError) return fail(io, e.message, STATUS.USAGE);
    if (e instanceof LoaderError) return fail(io, `${cfg.kernel}: ${e.message}`, STATUS.BAD_INPUT);
    throw e;
  }

  let writer: TraceWriter | null = null;
  if (cfg.record !== null) {
    try {
      writer = TraceWriter.createSync(cfg.record, traceHeader(cfg, argv, session.devices.platform.blkSizes()), images.trace);
    } catch (e) {
      session.devices.platform.close();
      return fail(io, `--record ${cfg.record}: cannot write the trace (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, STATUS.CANT_CREATE);
    }
    session.machine.observer = new TraceRecorder(writer);
  }

  const m = session.machine;
  const cpu = m.cpus[0];
  let exit: VmExit;
  try {
    exit = driveSession(session, {
      maxInsns: cfg.maxInsns,
      digestEvery: writer === null ? 0 : cfg.digestEvery,
      onDigest: (icount, d) => writer!.append({ vcpu: 0, icount, kind: 'digest', hash: d.hash, parts: d.parts }),
    });
  } catch (e) {
    serial.flush();
    // The trace stays as <file>.tmp, readable up to its last complete frame.
    writer?.abandon();
    session.devices.platform.close();
    io.stderr.write(`hvsim run: internal error at rip 0x${(cpu.ripLo >>> 0).toString(16)}: ${(e as Error).stack ?? e}\n`);
    return { status: STATUS.INTERNAL_ERROR, exit: null, instructions: cpu.insns };
  }
  serial.flush();
  const status = statusOf(exit);
  if (writer !== null) {
    writer.close({ vcpu: 0, icount: cpu.insns, kind: 'end', reason: endReason(exit), exitStatus: status, digest: sessionDigest(session).hash });
  }
  session.devices.platform.close(); // disk images: flushed and closed
  if (!cfg.quiet) {
    const traced = writer === null ? '' : `; trace ${cfg.record} (${writer.eventCount} events, ${writer.bytesWritten} bytes)`;
    const retired = m.cpus.reduce((n, c) => n + c.insns, 0);
    io.stderr.write(chalk.dim(`hvsim: ${describeExit(exit)} after ${retired} instructions (${m.clock.nowNs()} virtual ns); status ${status}${traced}\n`));
    // What the guest left in the information store: each key it wrote, with its final value.
    const written = [...new Set(m.kv.writes.map((w) => w.key))].sort();
    for (const key of written) io.stderr.write(chalk.dim(`hvsim: the guest set ${key}=${JSON.stringify(m.kv.get(key) ?? '')}\n`));
  }
  return { status, exit, instructions: cpu.insns };
}

/** The header of a trace of this run: enough to rebuild the machine with no other file. */
/**
 * The trace header of a run: the configuration as parsed, plus what a replay needs that the
 * command line does not say (each virtio-blk disk's size, so a replay runs without the image).
 */
export function traceHeader(
  cfg: RunConfig,
  argv: readonly string[],
  blkSizes: Record<string, number> = {},
): { hvsimVersion: string; commandLine: string[]; config: RunConfig & { blkSizes: Record<string, number> }; seed: string } {
  return { hvsimVersion: HVSIM_VERSION, commandLine: ['run', ...argv], config: { ...cfg, blkSizes }, seed: String(cfg.seed) };
}

export function describeExit(e: VmExit): string {
  switch (e.kind) {
    case ExitKind.DebugExit: return `debug-exit with value 0x${e.code.toString(16)}`;
    case ExitKind.Shutdown: return e.reason === 'triple-fault' ? 'triple fault' : 'halted with interrupts off';
    case ExitKind.Io: return `unhandled I/O ${e.write ? 'write to' : 'read from'} port 0x${e.port.toString(16)} (size ${e.size})`;
    case ExitKind.Limit: return 'instruction limit reached';
    case ExitKind.Hlt: return 'halted with nothing left to wake it';
    case ExitKind.Reset: return 'reset';
    case ExitKind.PowerOff: return 'power-off';
    default: return e.kind;
  }
}

/** A ByteSink that writes whole lines (and the rest when flushed) instead of one byte per call. */
function lineBufferedSink(write: (chunk: Uint8Array) => void): { sink: ByteSink; flush: () => void } {
  let buf = new Uint8Array(256);
  let n = 0;
  const flush = (): void => {
    if (n > 0) write(buf.slice(0, n));
    n = 0;
  };
  const sink = (byte: number): void => {
    if (n === buf.length) {
      const nb = new Uint8Array(buf.length * 2);
      nb.set(buf);
      buf = nb;
    }
    buf[n++] = byte;
    if (byte === 10) flush();
  };
  return { sink, flush };
}

// `hvsim run`: build a VM from bhyve-style options, load the kernel, run it to its end and
// turn that end into an exit status (see exit-status.ts).

import { readFileSync, openSync, writeSync, closeSync } from 'node:fs';
import { basename } from 'node:path';
import chalk from 'chalk';
import { parseRunArgs, helpText, UsageError, type RunConfig } from './args.js';
import { STATUS, debugExitStatus } from './exit-status.js';
import { Vmm } from '../api/vmm.js';
import { ExitKind, type VmExit } from '../machine/exit.js';
import { LoaderError } from '../loaders/index.js';
import { bootKernel } from '../api/boot.js';
import type { ByteSink } from '../devices/device.js';

/** Instructions per slice between returns to the host event loop (stdin, signals). */
const SLICE = 50_000_000;

export interface RunOutcome {
  status: number;
  exit: VmExit | null;
  instructions: number;
}

export async function runCommand(argv: string[], io: { stdout: NodeJS.WritableStream; stderr: NodeJS.WritableStream } = process): Promise<number> {
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
  const r = runVm(cfg, io);
  return r.status;
}

function fail(io: { stderr: NodeJS.WritableStream }, msg: string, status: number): RunOutcome {
  io.stderr.write(`hvsim run: ${msg}\n`);
  return { status, exit: null, instructions: 0 };
}

/** Run a parsed configuration to its end (synchronous: the guest is deterministic). */
export function runVm(cfg: RunConfig, io: { stdout: NodeJS.WritableStream; stderr: NodeJS.WritableStream }): RunOutcome {
  for (const s of cfg.pciSlots) {
    if (s.emulation !== 'hostbridge' && s.emulation !== 'amd_hostbridge' && s.emulation !== 'lpc') {
      return fail(io, `-s ${s.arg}: the ${s.emulation} device is not implemented yet`, STATUS.USAGE);
    }
  }
  if (cfg.kernel === null) return fail(io, '--kernel FILE is required (hvsim has no firmware to boot from disk yet)', STATUS.USAGE);
  let kernel: Uint8Array;
  const modules: { data: Uint8Array; string?: string }[] = [];
  let reading = cfg.kernel;
  try {
    kernel = new Uint8Array(readFileSync(cfg.kernel));
    if (cfg.initrd !== null) {
      reading = cfg.initrd;
      modules.push({ data: new Uint8Array(readFileSync(cfg.initrd)), string: basename(cfg.initrd) });
    }
    for (const m of cfg.modules) {
      reading = m.path;
      modules.push({ data: new Uint8Array(readFileSync(m.path)), string: m.string ?? basename(m.path) });
    }
  } catch (e) {
    // EISDIR comes from read(2), after open(2) succeeded: Node gives no path then, so name the
    // file being read ourselves.
    const err = e as NodeJS.ErrnoException;
    const why = err.code === 'ENOENT' ? 'no such file' : err.code === 'EISDIR' ? 'is a directory' : err.code === 'EACCES' ? 'permission denied' : err.code ?? err.message;
    return fail(io, `${reading}: ${why}`, STATUS.BAD_INPUT);
  }

  // Serial backends: -l comN,stdio | -l comN,/path; COM1 goes to stdout when no -l is given.
  // Every file opened here is closed on every way out of the run (the `finally` below).
  const serial = new SerialOutputs();
  try {
    return runWithSerial(cfg, cfg.kernel, io, kernel, modules, serial);
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

function runWithSerial(
  cfg: RunConfig,
  kernelPath: string,
  io: { stdout: NodeJS.WritableStream; stderr: NodeJS.WritableStream },
  kernel: Uint8Array,
  modules: { data: Uint8Array; string?: string }[],
  serial: SerialOutputs,
): RunOutcome {
  const serials = cfg.serial.length > 0 ? cfg.serial : [{ port: 'com1' as const, backend: { kind: 'stdio' as const } }];
  for (const s of serials) {
    if (s.port !== 'com1' && s.port !== 'com2') return fail(io, `-l ${s.port}: only com1 and com2 exist on this machine`, STATUS.USAGE);
    if (s.backend.kind === 'stdio') {
      serial.add(s.port, (chunk) => io.stdout.write(chunk));
    } else if (s.backend.kind === 'path') {
      let fd: number;
      try {
        fd = serial.openFile(s.backend.path);
      } catch (e) {
        return fail(io, `-l ${s.port},${s.backend.path}: cannot open (${(e as NodeJS.ErrnoException).code})`, STATUS.BAD_INPUT);
      }
      serial.add(s.port, (chunk) => writeSync(fd, chunk));
    } else serial.add(s.port, null);
  }
  const sinks = serial.sinks;

  const vmm = new Vmm();
  let id: number;
  try {
    id = vmm.create({
      name: cfg.vmname,
      vcpus: cfg.vcpus,
      memoryBytes: cfg.memoryBytes,
      hypervisors: cfg.hypervisors,
      unhandledIo: cfg.strictIo ? 'exit' : 'ignore',
      ignoreUnknownMsrs: cfg.ignoreUnknownMsrs,
      exitOnPause: cfg.exitOnPause,
      pc: { ...sinks, rtcTime: cfg.rtcTime, cmdline: cfg.append },
    });
  } catch (e) {
    return fail(io, (e as Error).message, STATUS.USAGE);
  }
  const m = vmm.machine(id);
  try {
    bootKernel(m, { bytes: kernel, name: kernelPath, append: cfg.append, modules });
  } catch (e) {
    if (e instanceof LoaderError) return fail(io, `${kernelPath}: ${e.message}`, STATUS.BAD_INPUT);
    throw e;
  }

  const limit = cfg.maxInsns ?? Infinity;
  let exit: VmExit;
  const cpu = m.cpus[0];
  try {
    for (;;) {
      // --max-insns counts virtual time in instruction units (retired + idle while halted).
      const left = limit - m.clock.icount;
      exit = vmm.run(id, 0, { maxInsns: Math.max(1, Math.min(SLICE, left)) });
      if (exit.kind === ExitKind.Limit && m.clock.icount < limit) continue;
      break;
    }
  } catch (e) {
    serial.flush();
    io.stderr.write(`hvsim run: internal error at rip 0x${(cpu.ripLo >>> 0).toString(16)}: ${(e as Error).stack ?? e}\n`);
    return { status: STATUS.INTERNAL_ERROR, exit: null, instructions: cpu.insns };
  }
  serial.flush();
  const status = statusOf(exit);
  if (!cfg.quiet) {
    io.stderr.write(chalk.dim(`hvsim: ${describeExit(exit)} after ${cpu.insns} instructions (${m.clock.nowNs()} virtual ns); status ${status}\n`));
  }
  return { status, exit, instructions: cpu.insns };
}

function statusOf(e: VmExit): number {
  switch (e.kind) {
    case ExitKind.DebugExit: return debugExitStatus(e.code);
    case ExitKind.PowerOff: return STATUS.POWER_OFF;
    case ExitKind.Reset: return STATUS.REBOOT;
    case ExitKind.Shutdown: return e.reason === 'triple-fault' ? STATUS.TRIPLE_FAULT : STATUS.HALTED;
    case ExitKind.Limit: return STATUS.INSN_LIMIT;
    case ExitKind.Io: return STATUS.UNHANDLED_IO;
    case ExitKind.Hlt: return STATUS.IDLE_FOREVER;
    case ExitKind.Pause: return STATUS.PAUSE;
    default: return STATUS.INTERNAL_ERROR;
  }
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

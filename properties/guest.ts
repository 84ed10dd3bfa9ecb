// Guest runs for properties, always recorded: what `hvsim run --record` does, in-process, with
// the serial console captured. The recorder keeps the path of its last trace, so a failing
// case re-run after shrinking leaves exactly its own trace behind.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseRunArgs } from '../src/cli/args.js';
import { readRunImages, runVm, traceHeader } from '../src/cli/run.js';
import { createSession, sessionDigest, type Session } from '../src/api/session.js';
import { endReason, statusOf } from '../src/api/exit-status.js';
import type { VmExit } from '../src/machine/exit.js';
import { TraceWriter } from '../src/trace/index.js';
import { TraceRecorder } from '../src/trace/recorder.js';

const here = dirname(fileURLToPath(import.meta.url));

/** The repository root, from the source tree or from its compiled copy (dist/conform/properties). */
function findRoot(): string {
  const fromSource = resolve(here, '..');
  return fromSource.endsWith(join('dist', 'conform')) ? resolve(fromSource, '..', '..') : fromSource;
}
export const ROOT = findRoot();

/** A committed guest fixture's image (fixtures/guests/README.md). */
export const fixture = (name: string): string => join(ROOT, 'fixtures', 'guests', name, `${name}.elf`);

export interface GuestRun {
  /** The process exit status `hvsim run` would give (debug-exit v: (v << 1) | 1). */
  status: number;
  /** What the guest wrote to COM1. */
  serial: string;
  /** The trace file (overwritten by the next run with the same label). */
  trace: string;
  /** Anything hvsim run printed to stderr (an internal error, a usage error). */
  stderr: string;
}

/** A text sink shaped like the stream runVm writes to (writes are synchronous). */
class TextSink {
  text = '';
  write(chunk: Uint8Array | string): boolean {
    this.text += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('latin1');
    return true;
  }
}

export class GuestRecorder {
  /** The last trace recorded (null after forget()). */
  last: string | null = null;
  readonly dir: string;
  private owned: boolean;

  constructor(dir?: string) {
    this.owned = dir === undefined;
    this.dir = dir ?? mkdtempSync(join(tmpdir(), 'hvsim-conform-'));
  }

  forget(): void {
    this.last = null;
  }

  /**
   * `hvsim run ARGS --record DIR/LABEL.trace.zst --quiet vm`, COM1 captured. The trace codec must
   * be loaded (loadTraceCodec) before the first call.
   */
  record(args: readonly string[], label = 'case'): GuestRun {
    const trace = join(this.dir, `${label}.trace.zst`);
    const argv = [...args, '--record', trace, '--quiet', 'vm'];
    const cfg = parseRunArgs(argv);
    const stdout = new TextSink();
    const stderr = new TextSink();
    const r = runVm(cfg, { stdout: stdout as unknown as NodeJS.WritableStream, stderr: stderr as unknown as NodeJS.WritableStream }, argv);
    this.last = trace;
    return { status: r.status, serial: stdout.text, trace, stderr: stderr.text };
  }

  /**
   * The same run, driven by the property instead of to its end in one go: `drive` runs the
   * session (small slices, host-side reads of guest memory between them: nothing the guest can
   * see) and returns the exit that ended it. No mid-run digests (--digest-every 0), so the trace
   * replays with `hvsim replay` whatever slices the property took.
   */
  drive(args: readonly string[], label: string, drive: (s: Session) => VmExit): GuestRun {
    const trace = join(this.dir, `${label}.trace.zst`);
    const argv = [...args, '--digest-every', '0', '--record', trace, '--quiet', 'vm'];
    const cfg = parseRunArgs(argv);
    const images = readRunImages(cfg);
    if (typeof images === 'string') throw new Error(images);
    let serial = '';
    const session = createSession(cfg, images.session, { com1: (b) => void (serial += String.fromCharCode(b)) });
    const writer = TraceWriter.createSync(trace, traceHeader(cfg, argv), images.trace);
    session.machine.observer = new TraceRecorder(writer);
    this.last = trace;
    let exit: VmExit;
    try {
      exit = drive(session);
    } catch (e) {
      writer.abandon();
      throw e;
    }
    session.machine.observer = null;
    const status = statusOf(exit);
    writer.close({ vcpu: 0, icount: session.machine.cpus[0].insns, kind: 'end', reason: endReason(exit), exitStatus: status, digest: sessionDigest(session).hash });
    return { status, serial, trace, stderr: '' };
  }

  dispose(): void {
    if (this.owned) rmSync(this.dir, { recursive: true, force: true });
  }
}

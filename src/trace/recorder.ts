// Recording: a MachineObserver that turns each event of a run into a trace record.
//
// The machine stamps every call with the vCPU and its retired-instruction count; the recorder
// only translates to the trace's event shapes and appends. Periodic state digests and the end
// event come from the run driver (src/api/session.ts), which decides when they are taken.

import type { MachineObserver, InterruptOrigin } from '../machine/observer.js';
import { ExitKind, type VmExit } from '../machine/exit.js';
import type { TraceWriter } from './container.js';
import type { TraceEvent, U64 } from './encoding.js';

/** The trace event for an exit the machine returned, or null for exits that are not events. */
export function exitEvent(vcpu: number, icount: number, e: VmExit): TraceEvent | null {
  switch (e.kind) {
    case ExitKind.DebugExit:
      return { vcpu, icount, kind: 'debug-exit', code: e.code >>> 0 };
    case ExitKind.Shutdown:
      return { vcpu, icount, kind: 'shutdown', reason: e.reason };
    case ExitKind.Reset:
      return { vcpu, icount, kind: 'reset' };
    case ExitKind.PowerOff:
      return { vcpu, icount, kind: 'poweroff' };
    case ExitKind.Pause:
      return { vcpu, icount, kind: 'pause' };
    default:
      return null; // limits, internal errors: the end event says how the run ended
  }
}

function pairs(a: Int32Array, n: number): U64[] {
  const out: U64[] = [];
  for (let i = 0; i < n; i++) out.push([a[2 * i] >>> 0, a[2 * i + 1] >>> 0]);
  return out;
}

/**
 * Builds the trace event of each observer call. Shared by the recorder (which appends it) and
 * the replayer (which compares it with the recorded one), so both see the same shapes.
 */
export class EventShaper implements MachineObserver {
  constructor(private readonly sink: (e: TraceEvent) => void) {}

  ioRead(vcpu: number, icount: number, port: number, size: number, value: number): number {
    this.sink({ vcpu, icount, kind: 'io', port, size: size as 1 | 2 | 4, write: false, value });
    return value;
  }

  ioWrite(vcpu: number, icount: number, port: number, size: number, value: number): void {
    this.sink({ vcpu, icount, kind: 'io', port, size: size as 1 | 2 | 4, write: true, value });
  }

  mmioRead(vcpu: number, icount: number, gpa: number, size: number, value: number): number {
    this.sink({ vcpu, icount, kind: 'mmio', gpa, size: size as 1 | 2 | 4 | 8, write: false, value });
    return value;
  }

  mmioWrite(vcpu: number, icount: number, gpa: number, size: number, value: number): void {
    this.sink({ vcpu, icount, kind: 'mmio', gpa, size: size as 1 | 2 | 4 | 8, write: true, value });
  }

  cpuid(vcpu: number, icount: number, leaf: number, subleaf: number, r: Int32Array): void {
    this.sink({ vcpu, icount, kind: 'cpuid', leaf, subleaf, result: [r[0] >>> 0, r[1] >>> 0, r[2] >>> 0, r[3] >>> 0] });
  }

  msr(vcpu: number, icount: number, write: boolean, msr: number, lo: number, hi: number, gp: boolean): void {
    this.sink({ vcpu, icount, kind: write ? 'wrmsr' : 'rdmsr', msr, value: [lo >>> 0, hi >>> 0], gp });
  }

  hypercall(vcpu: number, icount: number, insn: 'vmcall' | 'vmmcall', args: Int32Array, result: Int32Array, handled: boolean): void {
    const e: TraceEvent = { vcpu, icount, kind: 'hypercall', insn, args: pairs(args, 9), result: [result[0] >>> 0, result[1] >>> 0] };
    if (!handled) e.ud = true;
    this.sink(e);
  }

  hlt(vcpu: number, icount: number): void {
    this.sink({ vcpu, icount, kind: 'hlt' });
  }

  interrupt(vcpu: number, icount: number, vector: number, origin: InterruptOrigin): void {
    this.sink({ vcpu, icount, kind: 'interrupt', vector, source: origin });
  }

  exit(vcpu: number, icount: number, exit: VmExit): void {
    const e = exitEvent(vcpu, icount, exit);
    if (e !== null) this.sink(e);
  }

  kvWrite(vcpu: number, icount: number, key: string, value: string): void {
    this.sink({ vcpu, icount, kind: 'kv-write', key, value });
  }

  hostInput(vcpu: number, icount: number, device: string, data: Uint8Array): Uint8Array {
    this.sink({ vcpu, icount, kind: 'host-input', device, data });
    return data;
  }

  hostOutput(vcpu: number, icount: number, device: string, data: Uint8Array): void {
    this.sink({ vcpu, icount, kind: 'host-output', device, data });
  }
}

/**
 * Appends every event of a run to a trace. The frequent exits (port I/O, CPUID, MSRs) go
 * straight to the writer's encoder: building an event object for each costs more than the
 * record itself on an exit-heavy guest (bench/trace.mjs, bench-io).
 */
export class TraceRecorder extends EventShaper {
  constructor(readonly writer: TraceWriter) {
    super((e) => writer.append(e));
  }

  override ioRead(vcpu: number, icount: number, port: number, size: number, value: number): number {
    this.writer.appendIo(vcpu, icount, port, size, false, value);
    return value;
  }

  override ioWrite(vcpu: number, icount: number, port: number, size: number, value: number): void {
    this.writer.appendIo(vcpu, icount, port, size, true, value);
  }

  override cpuid(vcpu: number, icount: number, leaf: number, subleaf: number, r: Int32Array): void {
    this.writer.appendCpuid(vcpu, icount, leaf, subleaf, r);
  }

  override msr(vcpu: number, icount: number, write: boolean, msr: number, lo: number, hi: number, gp: boolean): void {
    this.writer.appendMsr(vcpu, icount, write, msr, lo, hi, gp);
  }
}

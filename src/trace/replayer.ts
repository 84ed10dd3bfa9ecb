// Replay checking: a MachineObserver that compares each event the re-run produces with the
// next recorded one, and stops the machine at the first difference.
//
// Two modes (docs/trace-format.md, "Replay"):
//  - verify: devices run for real; every produced event must equal the recorded one.
//  - standalone: port and MMIO reads are answered from the trace (so a device model that changed, or
//    a host input that is not available, does not derail the run); everything else is still
//    compared.

import { ExitKind } from '../machine/exit.js';
import type { Machine } from '../machine/machine.js';
import type { TraceEvent } from './encoding.js';
import { EventShaper } from './recorder.js';
import { differingFields, sameEvent } from './compare.js';

export type ReplayMode = 'verify' | 'standalone';

export interface Divergence {
  /** Number of the first event that differs (events count from 0 across the trace). */
  event: number;
  /** The recorded event (null: the re-run produced more events than the trace has). */
  expected: TraceEvent | null;
  /** The produced event (null: the re-run ended before this recorded event). */
  actual: TraceEvent | null;
  /** Names of the fields that differ (empty when one side is missing). */
  fields: string[];
  /** The last digest event that matched, if any. */
  lastDigest: { event: number; icount: number; hash: Uint8Array } | null;
}

export class TraceVerifier extends EventShaper {
  /** Number of the next recorded event. */
  eventNumber = 0;
  divergence: Divergence | null = null;
  private lastDigest: Divergence['lastDigest'] = null;
  private peeked: TraceEvent | null = null;
  private exhausted = false;

  constructor(
    /** The recorded events in order, null after the last (TraceReader.cursor()). */
    private readonly recorded: { next(): TraceEvent | null },
    private readonly machine: Machine,
    readonly mode: ReplayMode = 'verify',
  ) {
    super((e) => this.check(e));
  }

  private peek(): TraceEvent | null {
    if (this.peeked === null && !this.exhausted) {
      this.peeked = this.recorded.next();
      if (this.peeked === null) this.exhausted = true;
    }
    return this.peeked;
  }

  /** Compare a produced event with the next recorded one; false (and the machine stopped) on a difference. */
  check(actual: TraceEvent): boolean {
    if (this.divergence !== null) return false;
    const expected = this.peek();
    if (expected === null || !sameEvent(expected, actual)) {
      const fields = expected === null ? [] : differingFields(expected, actual);
      this.divergence = { event: this.eventNumber, expected, actual, fields, lastDigest: this.lastDigest };
      this.machine.stopWith({ kind: ExitKind.InternalError, message: 'replay diverged' });
      return false;
    }
    if (expected.kind === 'digest') this.lastDigest = { event: this.eventNumber, icount: expected.icount, hash: expected.hash };
    this.peeked = null;
    this.eventNumber++;
    return true;
  }

  /** The run ended: any recorded event left over is a divergence (the re-run ended early). */
  finish(): void {
    if (this.divergence !== null) return;
    const expected = this.peek();
    if (expected !== null) this.divergence = { event: this.eventNumber, expected, actual: null, fields: [], lastDigest: this.lastDigest };
  }

  // The frequent exits are checked against the recorded event directly, without building the
  // produced event; only a mismatch goes through the general path (which builds it and reports).

  /** The next recorded event if it is of this kind at this stamp, else null. */
  private expect(kind: TraceEvent['kind'], vcpu: number, icount: number): TraceEvent | null {
    if (this.divergence !== null) return null;
    const e = this.peek();
    return e !== null && e.kind === kind && e.vcpu === vcpu && e.icount === icount ? e : null;
  }

  private accept(): void {
    this.peeked = null;
    this.eventNumber++;
  }

  override ioRead(vcpu: number, icount: number, port: number, size: number, value: number): number {
    const e = this.expect('io', vcpu, icount);
    if (e !== null && e.kind === 'io' && !e.write && e.port === port && e.size === size) {
      if (this.mode === 'standalone') value = e.value;
      if (e.value === value) {
        this.accept();
        return value;
      }
    }
    return super.ioRead(vcpu, icount, port, size, value);
  }

  override ioWrite(vcpu: number, icount: number, port: number, size: number, value: number): void {
    const e = this.expect('io', vcpu, icount);
    if (e !== null && e.kind === 'io' && e.write && e.port === port && e.size === size && e.value === value) this.accept();
    else super.ioWrite(vcpu, icount, port, size, value);
  }

  override mmioRead(vcpu: number, icount: number, gpa: number, size: number, value: number): number {
    const e = this.expect('mmio', vcpu, icount);
    if (this.mode === 'standalone' && e !== null && e.kind === 'mmio' && !e.write && e.gpa === gpa && e.size === size) value = e.value;
    return super.mmioRead(vcpu, icount, gpa, size, value);
  }

  /** Host input comes from the trace in both modes: the host file or peer need not exist on replay. */
  override hostInput(vcpu: number, icount: number, device: string, data: Uint8Array): Uint8Array {
    const e = this.expect('host-input', vcpu, icount);
    if (e !== null && e.kind === 'host-input' && e.device === device && e.data.length === data.length) {
      this.accept();
      return e.data;
    }
    return super.hostInput(vcpu, icount, device, data);
  }

  override cpuid(vcpu: number, icount: number, leaf: number, subleaf: number, r: Int32Array): void {
    const e = this.expect('cpuid', vcpu, icount);
    if (e !== null && e.kind === 'cpuid' && e.leaf === leaf && e.subleaf === subleaf && e.result[0] === r[0] >>> 0 && e.result[1] === r[1] >>> 0 && e.result[2] === r[2] >>> 0 && e.result[3] === r[3] >>> 0) {
      this.accept();
    } else super.cpuid(vcpu, icount, leaf, subleaf, r);
  }

  override msr(vcpu: number, icount: number, write: boolean, msr: number, lo: number, hi: number, gp: boolean): void {
    const e = this.expect(write ? 'wrmsr' : 'rdmsr', vcpu, icount);
    if (e !== null && (e.kind === 'rdmsr' || e.kind === 'wrmsr') && e.msr === msr && e.gp === gp && e.value[0] === lo >>> 0 && e.value[1] === hi >>> 0) this.accept();
    else super.msr(vcpu, icount, write, msr, lo, hi, gp);
  }
}

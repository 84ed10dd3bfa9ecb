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
    private readonly recorded: Iterator<TraceEvent>,
    private readonly machine: Machine,
    readonly mode: ReplayMode = 'verify',
  ) {
    super((e) => this.check(e));
  }

  private peek(): TraceEvent | null {
    if (this.peeked === null && !this.exhausted) {
      const r = this.recorded.next();
      if (r.done === true) this.exhausted = true;
      else this.peeked = r.value;
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

  override ioRead(vcpu: number, icount: number, port: number, size: number, value: number): number {
    if (this.mode === 'standalone') {
      const e = this.peek();
      if (e !== null && e.kind === 'io' && !e.write && e.port === port && e.size === size && e.vcpu === vcpu && e.icount === icount) value = e.value;
    }
    return super.ioRead(vcpu, icount, port, size, value);
  }

  override mmioRead(vcpu: number, icount: number, gpa: number, size: number, value: number): number {
    if (this.mode === 'standalone') {
      const e = this.peek();
      if (e !== null && e.kind === 'mmio' && !e.write && e.gpa === gpa && e.size === size && e.vcpu === vcpu && e.icount === icount) value = e.value;
    }
    return super.mmioRead(vcpu, icount, gpa, size, value);
  }
}

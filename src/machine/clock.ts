// The virtual clock. Time is a pure function of the retired-instruction count (icount).
//
// Model: every retired instruction takes exactly `nsPerInsn` virtual nanoseconds (default 1,
// i.e. a 1 GHz "instruction clock"). Every time source (TSC, pvclocks, PIT, HPET, APIC timer,
// RTC, PM timer) derives from virtual nanoseconds with exact integer arithmetic done on
// doubles that stay below 2^53 (no BigInt, no host time).
//
// Timers are events on a deterministic queue ordered by (deadline icount, insertion order).

export interface ClockConfig {
  /** Virtual nanoseconds per retired instruction (positive integer). */
  nsPerInsn: number;
  /** TSC frequency in kHz (as KVM expresses it). */
  tscKHz: number;
}

export const DEFAULT_CLOCK: ClockConfig = { nsPerInsn: 1, tscKHz: 2_000_000 };

const NS_PER_MS = 1_000_000;

/** floor(a * b / c) for non-negative integers with a*b possibly above 2^53, c <= 2^26. */
export function mulDivFloor(a: number, b: number, c: number): number {
  const q = Math.floor(a / c);
  const r = a - q * c;
  return q * b + Math.floor((r * b) / c);
}

export interface TimerEvent {
  id: number;
  deadline: number; // icount at which it fires
  seq: number;
  callback: () => void;
}

export class VirtualClock {
  /** Instructions retired so far by the whole machine (updated by the CPU loop). */
  icount = 0;
  nsPerInsn: number;
  tscKHz: number;
  /** TSC offset so that TSC = tscAt(ns) + tscOffset (guest writes to IA32_TSC set this). */
  tscOffset = 0;
  private queue: TimerEvent[] = [];
  /** icount at which the CPU batch now running ends; -Infinity while none runs. */
  batchEnd = -Infinity;
  /** Called when a timer is scheduled before batchEnd (a device armed it mid-batch): the
   *  machine ends the batch after the current instruction, so the timer fires on time. */
  onEarlierDeadline: (() => void) | null = null;
  private nextId = 1;
  private seq = 0;

  constructor(cfg: ClockConfig = DEFAULT_CLOCK) {
    if (!Number.isInteger(cfg.nsPerInsn) || cfg.nsPerInsn <= 0) throw new RangeError('nsPerInsn must be a positive integer');
    if (!Number.isInteger(cfg.tscKHz) || cfg.tscKHz <= 0) throw new RangeError('tscKHz must be a positive integer');
    this.nsPerInsn = cfg.nsPerInsn;
    this.tscKHz = cfg.tscKHz;
  }

  /** Virtual nanoseconds since power-on. */
  nowNs(): number {
    return this.icount * this.nsPerInsn;
  }

  /** TSC value (a non-negative integer < 2^53) at the current icount. */
  tsc(): number {
    return mulDivFloor(this.nowNs(), this.tscKHz, NS_PER_MS) + this.tscOffset;
  }

  /** Number of instructions until `ns` virtual nanoseconds from now have passed (at least 1). */
  insnsForNs(ns: number): number {
    return Math.max(1, Math.ceil(ns / this.nsPerInsn));
  }

  /** Schedule `callback` at absolute icount `deadline`. Returns an id for cancel(). */
  schedule(deadline: number, callback: () => void): number {
    const ev: TimerEvent = { id: this.nextId++, deadline: Math.max(deadline, this.icount), seq: this.seq++, callback };
    // Insertion into a sorted array: timers are few; order is (deadline, seq).
    const q = this.queue;
    let i = q.length;
    while (i > 0 && (q[i - 1].deadline > ev.deadline || (q[i - 1].deadline === ev.deadline && q[i - 1].seq > ev.seq))) i--;
    q.splice(i, 0, ev);
    if (ev.deadline < this.batchEnd) this.onEarlierDeadline?.();
    return ev.id;
  }

  cancel(id: number): void {
    const q = this.queue;
    for (let i = 0; i < q.length; i++) {
      if (q[i].id === id) {
        q.splice(i, 1);
        return;
      }
    }
  }

  /** icount of the next timer, or +Infinity. */
  nextDeadline(): number {
    return this.queue.length === 0 ? Infinity : this.queue[0].deadline;
  }

  /** Fire every timer whose deadline has been reached, in order. */
  fireDue(): void {
    while (this.queue.length > 0 && this.queue[0].deadline <= this.icount) {
      const ev = this.queue.shift()!;
      ev.callback();
    }
  }

  /** Skip idle time: advance icount to the next deadline (HLT with -H). Returns false if none. */
  skipToNextDeadline(limit: number): boolean {
    const d = this.nextDeadline();
    if (d === Infinity) return false;
    this.icount = Math.min(Math.max(d, this.icount), limit);
    return true;
  }
}

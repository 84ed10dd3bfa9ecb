// A DeviceClock for unit tests: virtual time moves only when the test says so, and due
// timers fire in (deadline, insertion) order with nowNs() equal to their exact deadline.

import type { DeviceClock } from './device.js';

interface Pending {
  id: number;
  at: number;
  seq: number;
  cb: () => void;
}

export class FakeClock implements DeviceClock {
  private now = 0;
  private nextId = 1;
  private seq = 0;
  private pending: Pending[] = [];

  constructor(startNs = 0) {
    this.now = startNs;
  }

  nowNs(): number {
    return this.now;
  }

  after(ns: number, cb: () => void): number {
    const id = this.nextId++;
    this.pending.push({ id, at: this.now + Math.max(0, ns), seq: this.seq++, cb });
    return id;
  }

  cancel(id: number): void {
    this.pending = this.pending.filter((p) => p.id !== id);
  }

  /** Number of armed timers. */
  get armed(): number {
    return this.pending.length;
  }

  /** Deadline of the earliest armed timer, or Infinity. */
  nextDeadline(): number {
    let best = Infinity;
    for (const p of this.pending) best = Math.min(best, p.at);
    return best;
  }

  /** Advance to `t`, firing every timer due on the way at its own deadline. */
  advanceTo(t: number): void {
    for (;;) {
      let best: Pending | null = null;
      for (const p of this.pending) if (p.at <= t && (!best || p.at < best.at || (p.at === best.at && p.seq < best.seq))) best = p;
      if (!best) break;
      this.pending = this.pending.filter((p) => p !== best);
      this.now = Math.max(this.now, best.at);
      best.cb();
    }
    this.now = Math.max(this.now, t);
  }

  advanceBy(ns: number): void {
    this.advanceTo(this.now + ns);
  }
}

/** An IrqLine that records every level change with the time it happened. */
export class RecordingLine {
  level = false;
  readonly changes: { ns: number; level: boolean }[] = [];
  constructor(private readonly clock?: { nowNs(): number }) {}
  set(level: boolean): void {
    this.level = level;
    this.changes.push({ ns: this.clock ? this.clock.nowNs() : 0, level });
  }
  /** Times of rising edges. */
  rises(): number[] {
    const out: number[] = [];
    let prev = false;
    for (const c of this.changes) {
      if (c.level && !prev) out.push(c.ns);
      prev = c.level;
    }
    return out;
  }
}

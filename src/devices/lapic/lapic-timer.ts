// The local APIC timer (Intel SDM vol. 3A, 11.5.4): one-shot, periodic and TSC-deadline modes
// on the virtual clock.
//
// Counting is computed, never accumulated: the timer remembers when it was (re)started
// (baseNs) and the count it had then (baseCount), and every read of the current count is
// derived exactly from clock.nowNs() with integer arithmetic. Ticks of the timer input clock
// (LAPIC_TIMER_HZ, before the divider) by elapsed time e ns are floor(e * HZ / 10^9); the
// count goes down once per `divisor` input ticks. An interrupt is due when the count reaches
// zero; the DeviceClock callback is armed for that exact tick.

import type { DeviceClock, DeviceState } from '../device.js';
import { floorDiv, mulDivCeil, mulDivFloor } from '../exact-math.js';
import { stateBool, stateNum } from '../state.js';
import { TimerMode, timerDivisor } from './lapic-registers.js';

/**
 * The timer input clock. It must equal LAPIC_TIMER_HZ in src/machine/platform-layout.ts (a
 * test checks it); devices do not import the machine, so the value is repeated here.
 */
export const APIC_TIMER_HZ = 1_000_000_000;
const NS_PER_S = 1_000_000_000;

function gcd(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b];
  return a;
}
const G = gcd(APIC_TIMER_HZ, NS_PER_S);
/** Input ticks = ns * TICK_NUM / TICK_DEN (reduced, so the products stay below 2^53). */
const TICK_NUM = APIC_TIMER_HZ / G;
const TICK_DEN = NS_PER_S / G;

/** Deadlines at or beyond 2^53 TSC cycles (52 days at 2 GHz) are never reached here. */
const TWO_POW_21 = 0x20_0000;
const TWO_POW_32 = 0x1_0000_0000;

export interface ApicTimerHost {
  clock: DeviceClock;
  tsc(): number;
  tscKHz(): number;
  /** The count reached zero / the deadline passed: deliver the LVT timer interrupt. */
  expired(): void;
}

export class ApicTimer {
  private mode: TimerMode = TimerMode.OneShot;
  /** Initial-count register. */
  private initial = 0;
  /** Divide configuration register (bits 0, 1, 3). */
  private dcr = 0;
  /** Counting (one-shot or periodic with a non-zero initial count was written). */
  private running = false;
  /** Virtual time and count at the last (re)start. */
  private baseNs = 0;
  private baseCount = 0;
  /** IA32_TSC_DEADLINE as two unsigned halves (0 = disarmed). */
  private deadlineLo = 0;
  private deadlineHi = 0;
  private timerId = -1;
  /** Bumped whenever the armed callback is replaced, so a stale one does nothing. */
  private gen = 0;

  constructor(private readonly host: ApicTimerHost) {}

  /** Power-on/INIT state: stopped, initial count 0, divide by 2, one-shot, no deadline. */
  reset(): void {
    this.disarm();
    this.mode = TimerMode.OneShot;
    this.initial = 0;
    this.dcr = 0;
  }

  get initialCount(): number {
    return this.initial;
  }

  get divideConfig(): number {
    return this.dcr;
  }

  /** The LVT timer mode field was written. A change of mode disarms the timer (11.5.4.1). */
  setMode(mode: TimerMode): void {
    if (mode === this.mode) return;
    this.mode = mode;
    this.disarm();
  }

  private disarm(): void {
    this.cancel();
    this.running = false;
    this.initial = 0;
    this.baseCount = 0;
    this.deadlineLo = 0;
    this.deadlineHi = 0;
  }

  private cancel(): void {
    if (this.timerId >= 0) this.host.clock.cancel(this.timerId);
    this.timerId = -1;
    this.gen++;
  }

  /** Initial-count write (11.5.4): restarts the count; 0 stops it; ignored in TSC-deadline mode. */
  writeInitial(value: number): void {
    if (this.mode === TimerMode.TscDeadline) return;
    this.cancel();
    this.initial = value >>> 0;
    this.baseNs = this.host.clock.nowNs();
    this.baseCount = this.initial;
    this.running = this.initial !== 0 && this.mode !== TimerMode.Reserved;
    this.arm();
  }

  /** Divide-configuration write: the count continues from its present value at the new rate. */
  writeDivide(value: number): void {
    const v = value & 0xb;
    if (v === this.dcr) return;
    if (this.running) {
      const now = this.host.clock.nowNs();
      const e = this.elapsedTicks(now);
      if (this.mode === TimerMode.OneShot && e >= this.baseCount) {
        this.running = false; // already expired and reported
      } else {
        this.baseCount = this.countAfter(e);
        this.baseNs = now;
      }
    }
    this.dcr = v;
    this.cancel();
    this.arm();
  }

  /** Current-count register: exact from virtual time (0 in TSC-deadline mode and when stopped). */
  currentCount(): number {
    if (!this.running) return 0;
    const e = this.elapsedTicks(this.host.clock.nowNs());
    if (this.mode === TimerMode.OneShot && e >= this.baseCount) return 0;
    return this.countAfter(e);
  }

  /** Count after e divided ticks since the base (periodic: reloads from the initial count). */
  private countAfter(e: number): number {
    if (e < this.baseCount) return this.baseCount - e;
    if (this.mode !== TimerMode.Periodic) return 0;
    return this.initial - floorModNonNeg(e - this.baseCount, this.initial);
  }

  /** Divided ticks since baseNs. */
  private elapsedTicks(now: number): number {
    const dt = now - this.baseNs;
    if (dt <= 0) return 0;
    return floorDiv(mulDivFloor(dt, TICK_NUM, TICK_DEN), timerDivisor(this.dcr));
  }

  /** Virtual ns at which `e` divided ticks have passed since the base. */
  private nsOfTicks(e: number): number {
    return this.baseNs + mulDivCeil(e * timerDivisor(this.dcr), TICK_DEN, TICK_NUM);
  }

  private arm(): void {
    if (!this.running) return;
    const now = this.host.clock.nowNs();
    const e = this.elapsedTicks(now);
    let due: number;
    if (e < this.baseCount) due = this.baseCount;
    else if (this.mode === TimerMode.Periodic) due = this.baseCount + (floorDiv(e - this.baseCount, this.initial) + 1) * this.initial;
    else return; // one-shot already expired
    const at = this.nsOfTicks(due);
    const gen = this.gen;
    this.timerId = this.host.clock.after(at > now ? at - now : 0, () => this.onCountExpired(gen));
  }

  private onCountExpired(gen: number): void {
    if (gen !== this.gen) return;
    this.timerId = -1;
    this.gen++;
    // One interrupt per callback: a late callback covering several periods delivers one (the
    // IRR bit would coalesce them anyway), and the next one is armed at its own exact tick.
    this.host.expired();
    if (gen + 1 === this.gen) this.arm(); // unless expired() re-programmed the timer
  }

  // ---- TSC-deadline mode (11.5.4.1) ----

  /** IA32_TSC_DEADLINE read: the armed deadline, 0 outside TSC-deadline mode. */
  readDeadline(out: Int32Array): void {
    const inMode = this.mode === TimerMode.TscDeadline;
    out[0] = inMode ? this.deadlineLo | 0 : 0;
    out[1] = inMode ? this.deadlineHi | 0 : 0;
  }

  /** IA32_TSC_DEADLINE write: arms at that TSC value (0 disarms; ignored outside the mode). */
  writeDeadline(lo: number, hi: number): void {
    if (this.mode !== TimerMode.TscDeadline) return;
    this.cancel();
    this.deadlineLo = lo >>> 0;
    this.deadlineHi = hi >>> 0;
    this.armDeadline(true);
  }

  /** `now`: a deadline already passed expires synchronously (else from a 0 ns callback). */
  private armDeadline(now: boolean): void {
    if (this.deadlineLo === 0 && this.deadlineHi === 0) return;
    if (this.deadlineHi >= TWO_POW_21) return; // beyond 2^53 cycles: never in this model
    const deadline = this.deadlineHi * TWO_POW_32 + this.deadlineLo;
    const tsc = this.host.tsc();
    const khz = this.host.tscKHz();
    if (deadline <= tsc) {
      if (now) this.deadlineExpired();
      else this.scheduleDeadline(0);
      return;
    }
    if (!(Number.isInteger(khz) && khz > 0 && khz < 1e9)) return;
    const delta = deadline - tsc;
    if (delta > (Number.MAX_SAFE_INTEGER / 1e6) * khz) return; // later than 2^53 ns
    // The first ns at which TSC = tsc + floor(dt * kHz / 10^6) reaches the deadline.
    this.scheduleDeadline(mulDivCeil(delta, 1_000_000, khz));
  }

  private scheduleDeadline(ns: number): void {
    const gen = this.gen;
    this.timerId = this.host.clock.after(ns, () => {
      if (gen !== this.gen) return;
      this.timerId = -1;
      this.gen++;
      // The machine's TSC may round differently (offsets, scaling): wait until it really
      // reached the deadline; each retry is at least 1 ns later, so this ends.
      const deadline = this.deadlineHi * TWO_POW_32 + this.deadlineLo;
      if (this.host.tsc() < deadline) this.armDeadline(false);
      else this.deadlineExpired();
    });
  }

  /** The timer fires and disarms: IA32_TSC_DEADLINE reads 0 afterwards (11.5.4.1). */
  private deadlineExpired(): void {
    this.deadlineLo = 0;
    this.deadlineHi = 0;
    this.host.expired();
  }

  // ---- state ----

  saveState(): DeviceState {
    return {
      mode: this.mode,
      initial: this.initial,
      dcr: this.dcr,
      running: this.running,
      baseNs: this.baseNs,
      baseCount: this.baseCount,
      deadlineLo: this.deadlineLo,
      deadlineHi: this.deadlineHi,
    };
  }

  /** Restores the counter and re-arms its callback from the clock's present time. */
  loadState(s: DeviceState): void {
    this.cancel();
    this.mode = (stateNum(s, 'mode') & 3) as TimerMode;
    this.initial = stateNum(s, 'initial') >>> 0;
    this.dcr = stateNum(s, 'dcr') & 0xb;
    this.running = stateBool(s, 'running') && this.initial !== 0;
    this.baseNs = stateNum(s, 'baseNs');
    this.baseCount = Math.min(stateNum(s, 'baseCount') >>> 0, this.initial);
    this.deadlineLo = stateNum(s, 'deadlineLo') >>> 0;
    this.deadlineHi = stateNum(s, 'deadlineHi') >>> 0;
    if (this.mode === TimerMode.TscDeadline) {
      this.running = false;
      this.armDeadline(false);
    } else {
      this.arm();
    }
  }
}

/** a mod b for a >= 0, b > 0 (both exact integers). */
function floorModNonNeg(a: number, b: number): number {
  return a - floorDiv(a, b) * b;
}

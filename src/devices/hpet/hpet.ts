// High Precision Event Timer after the IA-PC HPET specification 1.0a (October 2004): one
// 64-bit main counter at 10 MHz and HPET_TIMER_COUNT comparators, on the virtual clock.
//
// Register block (spec 2.3.1, table 3), 64-bit registers at 8-byte aligned offsets:
//   0x000 GCAP_ID   0x010 GEN_CONF   0x020 GINTR_STA   0x0f0 MAIN_CNT
//   0x100 + 0x20n Tn_CONF_CAP, 0x108 + 0x20n Tn_COMPARATOR, 0x110 + 0x20n Tn_FSB_ROUTE
// A 4-byte access reaches the low (offset & 4 = 0) or high half; 1/2-byte accesses see byte
// lanes of that half. A size-8 access carries the value as one number (exact below 2^53):
// the machine's CPU splits 64-bit accesses into two 4-byte ones, so it is there for completeness.
//
// Time: the main counter advances one tick per 100 virtual ns, at the multiples of 100 ns
// (counter = value when enabled + floor(now/100) - floor(enable time/100)). A comparator
// match at counter value c happens exactly at the virtual time of that tick; a DeviceClock
// timer is armed for the next match of each timer, and a late callback delivers once and
// catches the periodic comparator up (the ticks of missed periods are not replayed).
//
// Interrupt routing (2.3.8, 2.3.5): timers route to IOAPIC GSIs 24-31 (Tn_INT_ROUTE_CAP =
// 0xff000000), above the ISA (0-15) and PCI INTx (16-23) inputs, so no line is shared. With
// LEG_RT_CNF, timer 0 drives ISA IRQ 0 and timer 1 ISA IRQ 8 through `legacy` (the machine maps
// IRQ 0 to IOAPIC pin 2). Tn_FSB_EN_CNF is not supported (Tn_FSB_INT_DEL_CAP = 0).

import type { IrqRouter } from '../../machine/irq.js';
import type { DeviceClock, DeviceState, MmioDevice } from '../device.js';
import { stateNum, stateObjs } from '../state.js';
import { HPET_PERIOD_FS, TWO32, U64, diff64, hpetTicksAt, HPET_TICK_NS } from './hpet-math.js';

/** Comparators (as platform-layout.ts HPET_TIMERS). */
export const HPET_TIMER_COUNT = 3;
/** GSIs a timer may be routed to (bit n = GSI n). */
export const HPET_ROUTE_CAP = 0xff000000;

// GCAP_ID low dword (2.3.4).
const REV_ID = 0x01;
const COUNT_SIZE_CAP = 1 << 13;
const LEG_RT_CAP = 1 << 15;
const VENDOR_ID = 0x8086;
const GCAP_LO = (VENDOR_ID << 16) | LEG_RT_CAP | COUNT_SIZE_CAP | ((HPET_TIMER_COUNT - 1) << 8) | REV_ID;

// GEN_CONF (2.3.5).
const ENABLE_CNF = 1 << 0;
const LEG_RT_CNF = 1 << 1;

// Tn_CONF_CAP low dword (2.3.8).
const TN_INT_TYPE_CNF = 1 << 1; // 1 = level
const TN_INT_ENB_CNF = 1 << 2;
const TN_TYPE_CNF = 1 << 3; // 1 = periodic
const TN_PER_INT_CAP = 1 << 4;
const TN_SIZE_CAP = 1 << 5;
const TN_VAL_SET_CNF = 1 << 6;
const TN_32MODE_CNF = 1 << 8;
const TN_INT_ROUTE_SHIFT = 9;
const TN_INT_ROUTE_MASK = 0x1f << TN_INT_ROUTE_SHIFT;

// Register offsets.
const R_GCAP_ID = 0x000;
const R_GEN_CONF = 0x010;
const R_GINTR_STA = 0x020;
const R_MAIN_CNT = 0x0f0;
const R_TIMER0 = 0x100;
const TIMER_STRIDE = 0x20;

/** Longest wait armed at once (2^32 ticks, ~7 minutes): longer waits are re-armed in steps. */
const MAX_WAIT_TICKS = TWO32;
/** `driven` codes: -1 nothing, 0-31 an IOAPIC GSI, LEGACY + irq an ISA IRQ. */
const NONE = -1;
const LEGACY = 100;

export interface HpetOptions {
  clock: DeviceClock;
  /** IOAPIC inputs (GSIs) for Tn_INT_ROUTE_CNF. */
  ioapic: IrqRouter;
  /** ISA IRQs for LegacyReplacement (timer 0 -> IRQ 0, timer 1 -> IRQ 8). */
  legacy: IrqRouter;
}

class HpetTimer {
  /** Writable Tn_CONF_CAP bits (capability bits are added on read). */
  conf = 0;
  cmp = new U64();
  /** The last value written to the comparator in periodic mode (2.3.9.2.2). */
  period = new U64();
  timerId = -1;
  gen = 0;
  /** Line currently held asserted by this timer's level interrupt (NONE, GSI or LEGACY + irq). */
  driven = NONE;
}

export class Hpet implements MmioDevice {
  readonly name = 'hpet';
  private readonly clock: DeviceClock;
  private readonly ioapic: IrqRouter;
  private readonly legacy: IrqRouter;
  private genConf = 0;
  private intSts = 0;
  /** Counter value at `startTick` while enabled; the frozen value while halted. */
  private readonly base = new U64();
  private startTick = 0;
  private readonly timers: HpetTimer[] = [];
  /** Scratch for register reads and comparisons (no allocation per access). */
  private readonly cur = new U64();
  private readonly scratch = new U64();

  constructor(opts: HpetOptions) {
    this.clock = opts.clock;
    this.ioapic = opts.ioapic;
    this.legacy = opts.legacy;
    for (let i = 0; i < HPET_TIMER_COUNT; i++) this.timers.push(new HpetTimer());
    this.reset();
  }

  /** LEG_RT_CNF is set: the machine should silence the PIT's IRQ 0 and the RTC's IRQ 8 (2.3.5). */
  get legacyReplacement(): boolean {
    return (this.genConf & LEG_RT_CNF) !== 0;
  }

  // ---- Device ----

  reset(): void {
    this.genConf = 0;
    this.intSts = 0;
    this.base.set(0, 0);
    this.startTick = 0;
    for (let n = 0; n < HPET_TIMER_COUNT; n++) {
      const t = this.timers[n];
      this.cancel(t);
      t.conf = 0;
      t.cmp.set(0xffffffff, 0xffffffff); // comparators reset to all ones
      t.period.set(0, 0);
      this.drive(t, NONE);
    }
  }

  saveState(): DeviceState {
    return {
      genConf: this.genConf,
      intSts: this.intSts,
      baseHi: this.base.hi,
      baseLo: this.base.lo,
      startTick: this.startTick,
      timers: this.timers.map((t) => ({ conf: t.conf, cmpHi: t.cmp.hi, cmpLo: t.cmp.lo, perHi: t.period.hi, perLo: t.period.lo, driven: t.driven })),
    };
  }

  /** Restores registers and line levels as saved (without re-driving the lines) and re-arms. */
  loadState(s: DeviceState): void {
    const ts = stateObjs(s, 'timers', HPET_TIMER_COUNT);
    this.genConf = stateNum(s, 'genConf') & (ENABLE_CNF | LEG_RT_CNF);
    this.intSts = stateNum(s, 'intSts') & ((1 << HPET_TIMER_COUNT) - 1);
    this.base.set(stateNum(s, 'baseHi'), stateNum(s, 'baseLo'));
    this.startTick = stateNum(s, 'startTick');
    for (let n = 0; n < HPET_TIMER_COUNT; n++) {
      const t = this.timers[n];
      this.cancel(t);
      t.conf = stateNum(ts[n], 'conf') & this.writableConf(n);
      t.cmp.set(stateNum(ts[n], 'cmpHi'), stateNum(ts[n], 'cmpLo'));
      t.period.set(stateNum(ts[n], 'perHi'), stateNum(ts[n], 'perLo'));
      const driven = stateNum(ts[n], 'driven');
      t.driven = driven === LEGACY + 0 || driven === LEGACY + 8 || (driven >= 0 && driven < 32 && Number.isInteger(driven)) ? driven : NONE;
    }
    for (let n = 0; n < HPET_TIMER_COUNT; n++) this.arm(n);
  }

  // ---- MmioHandler ----

  mmioRead(offset: number, size: number): number {
    if (!(offset >= 0 && offset < 0x400)) return 0;
    const r = this.readReg(offset - (offset & 7));
    if (size >= 8 && (offset & 7) === 0) return r.hi * TWO32 + r.lo;
    const dword = offset & 4 ? r.hi : r.lo;
    return laneRead(dword, offset & 3, size);
  }

  mmioWrite(offset: number, size: number, value: number): void {
    if (!(offset >= 0 && offset < 0x400)) return;
    const reg = offset - (offset & 7);
    const r = this.readReg(reg);
    let hi = r.hi;
    let lo = r.lo;
    let which: 1 | 2 | 3; // bit 0: low half written, bit 1: high half written
    if (size >= 8 && (offset & 7) === 0) {
      const v = Number.isFinite(value) && value >= 0 ? Math.floor(value) : 0;
      lo = v % TWO32;
      hi = ((v - lo) / TWO32) % TWO32;
      which = 3;
    } else if (offset & 4) {
      hi = laneMerge(hi, offset & 3, size, value);
      which = 2;
    } else {
      lo = laneMerge(lo, offset & 3, size, value);
      which = 1;
    }
    this.writeReg(reg, which, hi, lo);
  }

  // ---- registers ----

  private readReg(reg: number): U64 {
    const r = this.cur;
    if (reg === R_GCAP_ID) return r.set(HPET_PERIOD_FS, GCAP_LO);
    if (reg === R_GEN_CONF) return r.set(0, this.genConf);
    if (reg === R_GINTR_STA) return r.set(0, this.intSts);
    if (reg === R_MAIN_CNT) return this.counterNow(r);
    if (reg >= R_TIMER0 && reg < R_TIMER0 + HPET_TIMER_COUNT * TIMER_STRIDE) {
      const n = (reg - R_TIMER0) >> 5;
      const t = this.timers[n];
      const sub = reg & 0x1f;
      if (sub === 0) return r.set(HPET_ROUTE_CAP, t.conf | TN_SIZE_CAP | (n === 0 ? TN_PER_INT_CAP : 0));
      if (sub === 8) return r.set(t.cmp.hi, t.cmp.lo);
      return r.set(0, 0); // Tn_FSB_INT_ROUTE: FSB delivery not supported
    }
    return r.set(0, 0); // reserved
  }

  private writeReg(reg: number, which: 1 | 2 | 3, hi: number, lo: number): void {
    if (reg === R_GEN_CONF) {
      if (which & 1) this.writeGenConf(lo);
    } else if (reg === R_GINTR_STA) {
      // 2.3.6: write 1 to clear; writes of 0 have no effect.
      if (which & 1) {
        this.intSts &= ~lo;
        for (let n = 0; n < HPET_TIMER_COUNT; n++) this.updateLevel(n);
      }
    } else if (reg === R_MAIN_CNT) {
      // 2.3.7: software writes the main counter only while it is halted.
      if ((this.genConf & ENABLE_CNF) === 0) {
        this.base.set(hi, lo);
        for (let n = 0; n < HPET_TIMER_COUNT; n++) this.arm(n);
      }
    } else if (reg >= R_TIMER0 && reg < R_TIMER0 + HPET_TIMER_COUNT * TIMER_STRIDE) {
      const n = (reg - R_TIMER0) >> 5;
      const sub = reg & 0x1f;
      if (sub === 0 && which & 1) this.writeTimerConf(n, lo);
      else if (sub === 8) this.writeComparator(n, which, hi, lo);
    }
  }

  private writeGenConf(v: number): void {
    const old = this.genConf;
    const now = v & (ENABLE_CNF | LEG_RT_CNF);
    if ((old ^ now) & ENABLE_CNF) {
      const tick = hpetTicksAt(this.clock.nowNs());
      if (now & ENABLE_CNF) {
        this.startTick = tick; // counting resumes from the frozen value
      } else {
        this.counterNow(this.scratch);
        this.base.set(this.scratch.hi, this.scratch.lo);
      }
    }
    this.genConf = now;
    // Taking IRQ 0 and 8 in legacy replacement disconnects the 8254 and the RTC (2.3.5): the
    // lines start low, so the first comparator match is an edge.
    if ((now & ~old & LEG_RT_CNF) !== 0) {
      this.legacy.setIrq(0, false);
      this.legacy.setIrq(8, false);
    }
    for (let n = 0; n < HPET_TIMER_COUNT; n++) {
      this.arm(n);
      this.updateLevel(n);
    }
  }

  private writableConf(n: number): number {
    return TN_INT_TYPE_CNF | TN_INT_ENB_CNF | (n === 0 ? TN_TYPE_CNF | TN_VAL_SET_CNF : 0) | TN_32MODE_CNF | TN_INT_ROUTE_MASK;
  }

  private writeTimerConf(n: number, v: number): void {
    const t = this.timers[n];
    let conf = v & this.writableConf(n);
    // 2.3.8: a route the timer cannot use is not taken (reads back differently).
    const route = (conf & TN_INT_ROUTE_MASK) >>> TN_INT_ROUTE_SHIFT;
    if (((HPET_ROUTE_CAP >>> route) & 1) === 0) conf = (conf & ~TN_INT_ROUTE_MASK) | (t.conf & TN_INT_ROUTE_MASK);
    t.conf = conf;
    if (conf & TN_32MODE_CNF) {
      // 32-bit mode: the comparator's upper half is 0 and the accumulator wraps at 2^32.
      t.cmp.hi = 0;
      t.period.hi = 0;
    }
    this.arm(n);
    this.updateLevel(n);
  }

  /** 2.3.9.2.2: in periodic mode a write sets the period (and the comparator only with Tn_VAL_SET_CNF). */
  private writeComparator(n: number, which: 1 | 2 | 3, hi: number, lo: number): void {
    const t = this.timers[n];
    const periodic = (t.conf & TN_TYPE_CNF) !== 0;
    const mode32 = (t.conf & TN_32MODE_CNF) !== 0;
    if (mode32) hi = 0;
    if (!periodic || t.conf & TN_VAL_SET_CNF) t.cmp.set(hi, lo);
    // `hi:lo` is the comparator with the written half replaced; the period takes that half only.
    if (periodic) t.period.set(which & 2 ? hi : t.period.hi, which & 1 ? lo : t.period.lo);
    t.conf &= ~TN_VAL_SET_CNF; // cleared by the comparator write
    this.arm(n);
  }

  // ---- counter and comparators ----

  /** The main counter now, into `out`. */
  private counterNow(out: U64): U64 {
    out.set(this.base.hi, this.base.lo);
    if (this.genConf & ENABLE_CNF) out.addNumber(hpetTicksAt(this.clock.nowNs()) - this.startTick);
    return out;
  }

  private cancel(t: HpetTimer): void {
    if (t.timerId >= 0) this.clock.cancel(t.timerId);
    t.timerId = -1;
    t.gen++;
  }

  /** Arm timer n's DeviceClock callback for its next comparator match (or an intermediate step). */
  private arm(n: number): void {
    const t = this.timers[n];
    this.cancel(t);
    if ((this.genConf & ENABLE_CNF) === 0) return;
    const c = this.counterNow(this.scratch);
    let d: number;
    if (t.conf & TN_32MODE_CNF) {
      d = (t.cmp.lo - c.lo) >>> 0;
      if (d === 0) d = TWO32; // equal now: the next match is after the 32-bit wrap
    } else {
      d = diff64(t.cmp.hi, t.cmp.lo, c.hi, c.lo);
      if (d <= 0) return; // already reached, or 2^53 ticks away
    }
    const matches = d <= MAX_WAIT_TICKS;
    const nowNs = this.clock.nowNs();
    const dueTick = hpetTicksAt(nowNs) + (matches ? d : MAX_WAIT_TICKS);
    const gen = t.gen;
    t.timerId = this.clock.after(dueTick * HPET_TICK_NS - nowNs, () => this.onTimer(n, gen, matches, dueTick));
  }

  private onTimer(n: number, gen: number, matches: boolean, dueTick: number): void {
    const t = this.timers[n];
    if (gen !== t.gen) return;
    t.timerId = -1;
    if (matches) this.fire(n, dueTick);
    this.arm(n);
  }

  /** The comparator of timer n matched at tick `dueTick` (2.3.9.2). */
  private fire(n: number, dueTick: number): void {
    const t = this.timers[n];
    if (t.conf & TN_TYPE_CNF) {
      // Periodic: add the period once per match; a late callback skips the matches it missed.
      let steps = 1;
      const per = t.conf & TN_32MODE_CNF ? t.period.lo : diff64(t.period.hi, t.period.lo, 0, 0);
      const late = hpetTicksAt(this.clock.nowNs()) - dueTick;
      if (per > 0 && late >= per) steps += Math.floor(late / per);
      if (steps === 1 || per < 0) t.cmp.add(t.period.hi, t.period.lo);
      else t.cmp.addNumber(steps * per);
      if (t.conf & TN_32MODE_CNF) t.cmp.hi = 0;
    }
    if (t.conf & TN_INT_TYPE_CNF) {
      this.intSts |= 1 << n; // level: status set whether or not the interrupt is enabled (2.3.6)
      this.updateLevel(n);
    } else if (this.genConf & ENABLE_CNF && t.conf & TN_INT_ENB_CNF) {
      const line = this.route(n);
      if (line !== NONE && line !== t.driven) {
        this.setLine(line, true);
        this.setLine(line, false);
      }
    }
  }

  // ---- interrupt lines ----

  /** Where timer n's interrupt goes now. */
  private route(n: number): number {
    if (this.genConf & LEG_RT_CNF) {
      if (n === 0) return LEGACY + 0;
      if (n === 1) return LEGACY + 8;
    }
    const gsi = (this.timers[n].conf & TN_INT_ROUTE_MASK) >>> TN_INT_ROUTE_SHIFT;
    return (HPET_ROUTE_CAP >>> gsi) & 1 ? gsi : NONE;
  }

  /** A level-mode timer holds its line while its status bit is set and it is enabled. */
  private updateLevel(n: number): void {
    const t = this.timers[n];
    const active = (t.conf & (TN_INT_TYPE_CNF | TN_INT_ENB_CNF)) === (TN_INT_TYPE_CNF | TN_INT_ENB_CNF) && (this.genConf & ENABLE_CNF) !== 0 && ((this.intSts >> n) & 1) !== 0;
    this.drive(t, active ? this.route(n) : NONE);
  }

  private drive(t: HpetTimer, line: number): void {
    if (line === t.driven) return;
    const old = t.driven;
    t.driven = line;
    if (old !== NONE) this.setLine(old, false);
    if (line !== NONE) this.setLine(line, true);
  }

  private setLine(line: number, level: boolean): void {
    if (line >= LEGACY) this.legacy.setIrq(line - LEGACY, level);
    else this.ioapic.setIrq(line, level);
  }
}

function laneRead(v: number, lane: number, size: number): number {
  const shifted = v >>> (8 * lane);
  const bytes = Math.min(size >= 4 ? 4 : size === 2 ? 2 : 1, 4 - lane);
  return bytes === 4 ? shifted >>> 0 : shifted & ((1 << (8 * bytes)) - 1);
}

function laneMerge(old: number, lane: number, size: number, value: number): number {
  const bytes = Math.min(size >= 4 ? 4 : size === 2 ? 2 : 1, 4 - lane);
  const mask = bytes === 4 ? 0xffffffff : ((1 << (8 * bytes)) - 1) << (8 * lane);
  return ((old & ~mask) | ((value << (8 * lane)) & mask)) >>> 0;
}

// The LAPIC timer (Intel SDM vol. 3A, 11.5.4) on a fake clock. The input clock is
// LAPIC_TIMER_HZ = 1 GHz: one tick per virtual ns before the divider.

import { describe, expect, it } from 'vitest';
import { makeApic } from './test-harness.js';

const LVT = 0x320;
const INITIAL = 0x380;
const CURRENT = 0x390;
const DIVIDE = 0x3e0;
const ONE_SHOT = 0;
const PERIODIC = 1 << 17;
const TSC_DEADLINE = 2 << 17;
const DIV_BY_1 = 0xb;

describe('LAPIC timer: one-shot', () => {
  it('interrupts once when the count reaches 0; the current count then reads 0', () => {
    const { apic, clock, rd, wr, serviceOne } = makeApic();
    wr(DIVIDE, DIV_BY_1);
    wr(LVT, ONE_SHOT | 0x40);
    clock.advanceTo(100);
    wr(INITIAL, 1000);
    expect(rd(INITIAL)).toBe(1000);
    expect(rd(CURRENT)).toBe(1000);
    clock.advanceTo(100 + 999);
    expect(rd(CURRENT)).toBe(1);
    expect(apic.hasInterrupt()).toBe(false);
    clock.advanceTo(100 + 1000);
    expect(apic.hasInterrupt()).toBe(true);
    expect(rd(CURRENT)).toBe(0);
    expect(serviceOne()).toBe(0x40);
    clock.advanceTo(1_000_000);
    expect(apic.hasInterrupt()).toBe(false);
    expect(rd(CURRENT)).toBe(0);
    expect(clock.armed).toBe(0);
  });

  it('counts down once per divisor input ticks, for every divide value (figure 11-10)', () => {
    // Divide configuration bits 3,1,0 -> divisor.
    const table: Array<[number, number]> = [
      [0x0, 2], [0x1, 4], [0x2, 8], [0x3, 16], [0x8, 32], [0x9, 64], [0xa, 128], [0xb, 1],
    ];
    for (const [dcr, div] of table) {
      for (const withBit2 of [0, 4]) {
        const { apic, clock, rd, wr } = makeApic();
        wr(DIVIDE, dcr | withBit2);
        expect(rd(DIVIDE)).toBe(dcr); // bit 2 is reserved
        wr(LVT, 0x41);
        wr(INITIAL, 10);
        clock.advanceTo(div * 3 - 1);
        expect(rd(CURRENT), `dcr ${dcr}`).toBe(8);
        clock.advanceTo(div * 3);
        expect(rd(CURRENT)).toBe(7);
        clock.advanceTo(10 * div - 1);
        expect(apic.hasInterrupt()).toBe(false);
        clock.advanceTo(10 * div);
        expect(apic.hasInterrupt(), `dcr ${dcr}`).toBe(true);
      }
    }
  });

  it('reads the current count exactly at large times (no accumulated error)', () => {
    const { clock, rd, wr } = makeApic();
    wr(DIVIDE, 0xa); // 128
    wr(LVT, 0x10040); // masked: counts without interrupting
    wr(INITIAL, 0xffffffff);
    for (const t of [1, 127, 128, 123_456_789, 98_765_432_101]) {
      clock.advanceTo(t);
      expect(rd(CURRENT)).toBe(0xffffffff - Math.floor(t / 128));
    }
  });

  it('a masked LVT timer counts but does not interrupt', () => {
    const { apic, clock, rd, wr } = makeApic();
    wr(DIVIDE, DIV_BY_1);
    wr(LVT, 0x10040);
    wr(INITIAL, 50);
    clock.advanceTo(50);
    expect(rd(CURRENT)).toBe(0);
    expect(apic.hasInterrupt()).toBe(false);
  });

  it('writing initial count 0 stops the timer', () => {
    const { apic, clock, rd, wr } = makeApic();
    wr(LVT, 0x40);
    wr(INITIAL, 100);
    clock.advanceTo(50);
    wr(INITIAL, 0);
    expect(rd(CURRENT)).toBe(0);
    expect(clock.armed).toBe(0);
    clock.advanceTo(10_000);
    expect(apic.hasInterrupt()).toBe(false);
  });

  it('rewriting the initial count restarts the count', () => {
    const { apic, clock, rd, wr } = makeApic();
    wr(DIVIDE, DIV_BY_1);
    wr(LVT, 0x40);
    wr(INITIAL, 100);
    clock.advanceTo(90);
    wr(INITIAL, 100);
    clock.advanceTo(150);
    expect(rd(CURRENT)).toBe(40);
    expect(apic.hasInterrupt()).toBe(false);
    clock.advanceTo(190);
    expect(apic.hasInterrupt()).toBe(true);
  });

  it('a divide change continues from the present count at the new rate', () => {
    const { apic, clock, rd, wr } = makeApic();
    wr(DIVIDE, DIV_BY_1);
    wr(LVT, 0x40);
    wr(INITIAL, 100);
    clock.advanceTo(40);
    wr(DIVIDE, 0x0); // by 2
    expect(rd(CURRENT)).toBe(60);
    clock.advanceTo(40 + 2 * 59);
    expect(rd(CURRENT)).toBe(1);
    expect(apic.hasInterrupt()).toBe(false);
    clock.advanceTo(40 + 2 * 60);
    expect(apic.hasInterrupt()).toBe(true);
  });
});

describe('LAPIC timer: periodic', () => {
  it('interrupts every initial x divisor ns, reloading; the count is initial - (elapsed mod initial)', () => {
    const { apic, clock, rd, wr, serviceOne } = makeApic();
    wr(DIVIDE, 0x1); // by 4
    wr(LVT, PERIODIC | 0x50);
    wr(INITIAL, 100); // period 400 ns
    expect(rd(CURRENT)).toBe(100);
    clock.advanceTo(4);
    expect(rd(CURRENT)).toBe(99);
    clock.advanceTo(399);
    expect(rd(CURRENT)).toBe(1);
    expect(apic.hasInterrupt()).toBe(false);
    for (let k = 1; k <= 5; k++) {
      clock.advanceTo(400 * k - 1);
      expect(apic.hasInterrupt()).toBe(false);
      clock.advanceTo(400 * k);
      expect(rd(CURRENT)).toBe(100);
      expect(serviceOne()).toBe(0x50);
    }
    clock.advanceTo(2000 + 4 * 37 + 3);
    expect(rd(CURRENT)).toBe(63);
  });

  it('a late clock callback still delivers one interrupt and keeps the period phase', () => {
    const { apic, clock, rd, wr, serviceOne } = makeApic();
    wr(DIVIDE, DIV_BY_1);
    wr(LVT, PERIODIC | 0x50);
    wr(INITIAL, 10);
    clock.advanceTo(35); // callbacks at 10, 20, 30 run in order
    expect(serviceOne()).toBe(0x50);
    expect(apic.hasInterrupt()).toBe(false);
    expect(rd(CURRENT)).toBe(5);
    clock.advanceTo(40);
    expect(apic.hasInterrupt()).toBe(true);
  });

  it('changing the timer mode disarms the timer (11.5.4.1)', () => {
    const { apic, clock, rd, wr } = makeApic();
    wr(LVT, PERIODIC | 0x50);
    wr(INITIAL, 10);
    wr(LVT, ONE_SHOT | 0x50);
    expect(rd(INITIAL)).toBe(0);
    expect(rd(CURRENT)).toBe(0);
    clock.advanceTo(1000);
    expect(apic.hasInterrupt()).toBe(false);
  });
});

describe('LAPIC timer: TSC-deadline (11.5.4.1)', () => {
  const DEADLINE = 0x6e0;

  it('interrupts when the TSC reaches IA32_TSC_DEADLINE, then disarms and reads 0', () => {
    const { apic, clock, rd, wr, rdmsr } = makeApic();
    wr(LVT, TSC_DEADLINE | 0x60);
    clock.advanceTo(1000); // TSC 2000
    expect(apic.wrmsr(DEADLINE, 2000 + 5001, 0)).toBe('ok'); // 2500.5 ns later -> at 3501 ns
    expect(rdmsr(DEADLINE)).toEqual({ r: 'ok', lo: 7001, hi: 0 });
    clock.advanceTo(3500);
    expect(apic.hasInterrupt()).toBe(false);
    clock.advanceTo(3501);
    expect(apic.hasInterrupt()).toBe(true);
    expect(apic.acknowledge()).toBe(0x60);
    expect(rdmsr(DEADLINE).lo).toBe(0);
    expect(rd(CURRENT)).toBe(0);
  });

  it('a deadline already passed interrupts at once; 0 disarms', () => {
    const { apic, clock, wr } = makeApic();
    wr(LVT, TSC_DEADLINE | 0x60);
    clock.advanceTo(100);
    apic.wrmsr(DEADLINE, 50, 0);
    expect(apic.hasInterrupt()).toBe(true);
    apic.acknowledge();
    wr(0xb0, 0);
    apic.wrmsr(DEADLINE, 1000, 0);
    apic.wrmsr(DEADLINE, 0, 0);
    clock.advanceTo(10_000);
    expect(apic.hasInterrupt()).toBe(false);
  });

  it('handles deadlines above 2^32 exactly', () => {
    const { apic, clock, wr, rdmsr } = makeApic();
    wr(LVT, TSC_DEADLINE | 0x60);
    apic.wrmsr(DEADLINE, 0x10, 0x2); // 2 * 2^32 + 16 cycles = 4294967304 ns at 2 GHz
    expect(rdmsr(DEADLINE)).toEqual({ r: 'ok', lo: 0x10, hi: 2 });
    clock.advanceTo(4294967303);
    expect(apic.hasInterrupt()).toBe(false);
    clock.advanceTo(4294967304);
    expect(apic.hasInterrupt()).toBe(true);
  });

  it('a deadline beyond 2^53 cycles never fires and arms nothing', () => {
    const { apic, clock, wr } = makeApic();
    wr(LVT, TSC_DEADLINE | 0x60);
    apic.wrmsr(DEADLINE, 0xffffffff, 0xffffffff);
    expect(clock.armed).toBe(0);
    expect(apic.hasInterrupt()).toBe(false);
  });

  it('outside TSC-deadline mode the MSR ignores writes and reads 0; initial-count writes are ignored inside', () => {
    const { apic, clock, rd, wr, rdmsr } = makeApic();
    wr(LVT, ONE_SHOT | 0x60);
    apic.wrmsr(DEADLINE, 10, 0);
    expect(rdmsr(DEADLINE).lo).toBe(0);
    clock.advanceTo(100);
    expect(apic.hasInterrupt()).toBe(false);
    wr(LVT, TSC_DEADLINE | 0x60);
    wr(INITIAL, 5);
    expect(rd(INITIAL)).toBe(0);
    clock.advanceTo(200);
    expect(apic.hasInterrupt()).toBe(false);
  });

  it('re-checks the TSC when the callback runs (a TSC that runs behind the estimate)', () => {
    // A TSC at 1 GHz while tscKHz claims 2 GHz: the deadline is reached later than computed.
    const h = makeApic({ tsc: () => slow.nowNs(), tscKHz: () => 2_000_000 });
    const slow = h.clock;
    h.wr(LVT, TSC_DEADLINE | 0x60);
    h.apic.wrmsr(DEADLINE, 1000, 0);
    h.clock.advanceTo(999);
    expect(h.apic.hasInterrupt()).toBe(false);
    h.clock.advanceTo(1000);
    expect(h.apic.hasInterrupt()).toBe(true);
  });
});

describe('LAPIC timer: state', () => {
  it('saveState/loadState continues the count and the interrupts exactly', () => {
    const a = makeApic();
    a.wr(DIVIDE, 0x1);
    a.wr(LVT, PERIODIC | 0x50);
    a.wr(INITIAL, 100);
    a.clock.advanceTo(1234);
    const s = JSON.parse(JSON.stringify(a.apic.saveState()));
    const b = makeApic();
    b.clock.advanceTo(1234);
    b.apic.loadState(s);
    expect(b.rd(CURRENT)).toBe(a.rd(CURRENT));
    expect(b.apic.saveState()).toEqual(a.apic.saveState());
    for (const t of [1599, 1600, 2000, 2399]) {
      a.clock.advanceTo(t);
      b.clock.advanceTo(t);
      expect(b.apic.hasInterrupt()).toBe(a.apic.hasInterrupt());
      expect(b.rd(CURRENT)).toBe(a.rd(CURRENT));
    }
    expect(b.clock.armed).toBe(1);
  });

  it('loadState re-arms a TSC deadline', () => {
    const a = makeApic();
    a.wr(LVT, TSC_DEADLINE | 0x60);
    a.apic.wrmsr(0x6e0, 5000, 0);
    const b = makeApic();
    b.apic.loadState(a.apic.saveState());
    b.clock.advanceTo(2499);
    expect(b.apic.hasInterrupt()).toBe(false);
    b.clock.advanceTo(2500);
    expect(b.apic.hasInterrupt()).toBe(true);
  });
});

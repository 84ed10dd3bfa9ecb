// HPET checks against the IA-PC HPET specification 1.0a (sections cited per test).

import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { FakeClock } from '../fake-clock.js';
import { Hpet, HPET_ROUTE_CAP } from './hpet.js';
import { hpetTicksAt, TWO32 } from './hpet-math.js';

class RecordingRouter {
  readonly events: { irq: number; level: boolean; ns: number }[] = [];
  readonly levels = new Map<number, boolean>();
  constructor(private readonly clock: FakeClock) {}
  setIrq(irq: number, level: boolean): void {
    this.events.push({ irq, level, ns: this.clock.nowNs() });
    this.levels.set(irq, level);
  }
  rises(irq: number): number[] {
    return this.events.filter((e) => e.irq === irq && e.level).map((e) => e.ns);
  }
}

function make(startNs = 0) {
  const clock = new FakeClock(startNs);
  const ioapic = new RecordingRouter(clock);
  const legacy = new RecordingRouter(clock);
  const hpet = new Hpet({ clock, ioapic, legacy });
  const rd = (off: number) => hpet.mmioRead(off, 4) >>> 0;
  const wr = (off: number, v: number) => hpet.mmioWrite(off, 4, v);
  const counter = () => rd(0xf4) * TWO32 + rd(0xf0);
  return { clock, ioapic, legacy, hpet, rd, wr, counter };
}

// Register offsets (2.3.1 table 3) and bits (2.3.5, 2.3.8).
const GEN_CONF = 0x10;
const GINTR_STA = 0x20;
const CONF = (n: number) => 0x100 + 0x20 * n;
const CMP = (n: number) => 0x108 + 0x20 * n;
const ENABLE = 1;
const LEG_RT = 2;
const LEVEL = 1 << 1;
const INT_ENB = 1 << 2;
const PERIODIC = 1 << 3;
const VAL_SET = 1 << 6;
const MODE32 = 1 << 8;
const route = (gsi: number) => gsi << 9;

describe('HPET capabilities and configuration (2.3.4, 2.3.5, 2.3.8)', () => {
  it('GCAP_ID: rev 1, 3 timers, 64-bit counter, legacy capable, vendor 8086h, 100 ns period', () => {
    const { rd, hpet } = make();
    const lo = rd(0x00);
    expect(lo & 0xff).toBe(1); // REV_ID
    expect((lo >> 8) & 0x1f).toBe(2); // NUM_TIM_CAP = last timer index
    expect((lo >> 13) & 1).toBe(1); // COUNT_SIZE_CAP
    expect((lo >> 15) & 1).toBe(1); // LEG_RT_CAP
    expect(lo >>> 16).toBe(0x8086);
    expect(rd(0x04)).toBe(100_000_000); // COUNTER_CLK_PERIOD in fs: 10 MHz
    expect(hpet.mmioRead(0, 8)).toBe(100_000_000 * TWO32 + lo);
    hpet.mmioWrite(0, 4, 0); // read-only
    expect(rd(0x00)).toBe(lo);
  });

  it('Tn_CONF_CAP: periodic capable on timer 0 only, 64-bit, route capability GSIs 24-31', () => {
    const { rd, wr } = make();
    expect(rd(CONF(0)) & 0x30).toBe(0x30); // Tn_PER_INT_CAP | Tn_SIZE_CAP
    expect(rd(CONF(1)) & 0x30).toBe(0x20);
    for (let n = 0; n < 3; n++) expect(rd(CONF(n) + 4)).toBe(HPET_ROUTE_CAP >>> 0);
    wr(CONF(1), PERIODIC | (1 << 14) | (1 << 15)); // no periodic, no FSB on timer 1
    expect(rd(CONF(1)) & (PERIODIC | (1 << 14) | (1 << 15))).toBe(0);
    wr(CONF(2), route(26));
    expect((rd(CONF(2)) >> 9) & 0x1f).toBe(26);
    wr(CONF(2), route(5)); // not in Tn_INT_ROUTE_CAP: not taken
    expect((rd(CONF(2)) >> 9) & 0x1f).toBe(26);
  });

  it('comparators reset to all ones; reserved registers read 0', () => {
    const { rd } = make();
    expect(rd(CMP(0))).toBe(0xffffffff);
    expect(rd(CMP(0) + 4)).toBe(0xffffffff);
    expect(rd(0x08)).toBe(0);
    expect(rd(0x110)).toBe(0); // FSB route
    expect(rd(0x3f8)).toBe(0);
  });
});

describe('HPET main counter (2.3.7)', () => {
  it('counts 10 MHz ticks of virtual time exactly while enabled, frozen while halted', () => {
    fc.assert(
      fc.property(fc.nat(2 ** 40), fc.nat(2 ** 40), fc.nat(2 ** 30), (t0, dt, dt2) => {
        const { clock, wr, counter } = make(t0);
        expect(counter()).toBe(0);
        wr(GEN_CONF, ENABLE);
        clock.advanceBy(dt);
        const expected = Math.floor((t0 + dt) / 100) - Math.floor(t0 / 100);
        expect(counter()).toBe(expected);
        wr(GEN_CONF, 0);
        clock.advanceBy(dt2);
        expect(counter()).toBe(expected);
      }),
      { numRuns: 200 },
    );
  });

  it('is writable only while halted, and carries into the high half', () => {
    const { clock, wr, rd, counter } = make();
    wr(0xf0, 0xfffffff0);
    wr(0xf4, 7);
    expect(counter()).toBe(7 * TWO32 + 0xfffffff0);
    wr(GEN_CONF, ENABLE);
    wr(0xf0, 0); // ignored while running
    clock.advanceBy(100 * 0x20);
    expect(rd(0xf4)).toBe(8);
    expect(rd(0xf0)).toBe(0x10);
  });

  it('hpetTicksAt is floor(ns / 100) up to 2^53', () => {
    fc.assert(fc.property(fc.nat(Number.MAX_SAFE_INTEGER), (ns) => {
      const t = hpetTicksAt(ns);
      expect(t * 100 <= ns && (t + 1) * 100 > ns).toBe(true);
    }));
  });
});

describe('HPET comparators (2.3.9)', () => {
  it('one-shot, edge: one pulse on the routed GSI exactly when the counter reaches the comparator', () => {
    const { clock, ioapic, wr } = make(50);
    wr(CONF(2), INT_ENB | route(24));
    wr(CMP(2), 1000);
    wr(CMP(2) + 4, 0);
    wr(GEN_CONF, ENABLE); // counter 0 at tick 0 (50 ns)
    clock.advanceTo(1_000_000);
    // tick 1000 after the enable tick 0 is at 100000 ns
    expect(ioapic.events).toEqual([
      { irq: 24, level: true, ns: 100_000 },
      { irq: 24, level: false, ns: 100_000 },
    ]);
    clock.advanceTo(10_000_000_000);
    expect(ioapic.events.length).toBe(2); // 64-bit one-shot: no further match
  });

  it('disabled interrupts (Tn_INT_ENB_CNF = 0) and a halted counter do not deliver', () => {
    const { clock, ioapic, wr } = make();
    wr(CONF(2), route(24));
    wr(CMP(2), 10);
    wr(CMP(2) + 4, 0);
    wr(GEN_CONF, ENABLE);
    clock.advanceTo(100_000);
    expect(ioapic.events.length).toBe(0);
    wr(CONF(2), INT_ENB | route(24));
    wr(GEN_CONF, 0);
    wr(0xf0, 0);
    clock.advanceTo(200_000);
    expect(ioapic.events.length).toBe(0);
  });

  it('periodic: Tn_VAL_SET_CNF sets the comparator, then it advances by the last value written (2.3.9.2.2)', () => {
    const { clock, ioapic, wr, rd } = make();
    // Each comparator half needs Tn_VAL_SET_CNF (cleared by every comparator write).
    wr(CONF(0), INT_ENB | PERIODIC | VAL_SET | route(25));
    wr(CMP(0) + 4, 0);
    expect(rd(CONF(0)) & VAL_SET).toBe(0);
    wr(CONF(0), INT_ENB | PERIODIC | VAL_SET | route(25));
    wr(CMP(0), 500); // comparator and period
    wr(CMP(0), 200); // period only
    expect(rd(CMP(0))).toBe(500);
    wr(GEN_CONF, ENABLE);
    clock.advanceTo(100 * 1100);
    expect(ioapic.rises(25)).toEqual([50_000, 70_000, 90_000, 110_000]);
    expect(rd(CMP(0))).toBe(1300); // next match
  });

  it('periodic with a late clock callback delivers once and skips the missed periods', () => {
    // A clock that runs every callback 25 us (250 ticks) after its deadline.
    class LateClock extends FakeClock {
      override after(ns: number, cb: () => void): number {
        return super.after(ns + 25_000, cb);
      }
    }
    const clock = new LateClock();
    const ioapic = new RecordingRouter(clock);
    const hpet = new Hpet({ clock, ioapic, legacy: new RecordingRouter(clock) });
    const wr = (off: number, v: number) => hpet.mmioWrite(off, 4, v);
    wr(CONF(0), INT_ENB | PERIODIC | VAL_SET | route(25));
    wr(CMP(0) + 4, 0);
    wr(CONF(0), INT_ENB | PERIODIC | VAL_SET | route(25));
    wr(CMP(0), 100);
    wr(GEN_CONF, ENABLE);
    clock.advanceTo(70_000);
    // due at tick 100, run at tick 350: matches 100, 200, 300 passed, next 400 (due 40 us, run 65 us)
    expect(ioapic.rises(25)).toEqual([35_000, 65_000]);
    expect(hpet.mmioRead(CMP(0), 4)).toBe(700);
  });

  it('level mode: status bit set, line held until software writes 1 to it (2.3.6)', () => {
    const { clock, ioapic, wr, rd } = make();
    wr(CONF(1), INT_ENB | LEVEL | route(28));
    wr(CMP(1), 10);
    wr(CMP(1) + 4, 0);
    wr(GEN_CONF, ENABLE);
    clock.advanceTo(5_000);
    expect(rd(GINTR_STA)).toBe(2);
    expect(ioapic.levels.get(28)).toBe(true);
    wr(GINTR_STA, 0); // writes of 0 have no effect
    expect(rd(GINTR_STA)).toBe(2);
    wr(GINTR_STA, 2);
    expect(rd(GINTR_STA)).toBe(0);
    expect(ioapic.levels.get(28)).toBe(false);
    expect(ioapic.rises(28)).toEqual([1_000]);
  });

  it('level mode sets the status bit even with the interrupt disabled (2.3.8 Tn_INT_ENB_CNF)', () => {
    const { clock, ioapic, wr, rd } = make();
    wr(CONF(2), LEVEL | route(24));
    wr(CMP(2), 3);
    wr(CMP(2) + 4, 0);
    wr(GEN_CONF, ENABLE);
    clock.advanceTo(1_000);
    expect(rd(GINTR_STA)).toBe(4);
    expect(ioapic.events.length).toBe(0);
  });

  it('legacy replacement: timer 0 to ISA IRQ 0, timer 1 to ISA IRQ 8 (2.3.5 table 4)', () => {
    const { clock, ioapic, legacy, wr, hpet } = make();
    wr(CONF(0), INT_ENB | route(24));
    wr(CMP(0), 10);
    wr(CMP(0) + 4, 0);
    wr(CONF(1), INT_ENB | route(24));
    wr(CMP(1), 20);
    wr(CMP(1) + 4, 0);
    wr(GEN_CONF, ENABLE | LEG_RT);
    expect(hpet.legacyReplacement).toBe(true);
    clock.advanceTo(10_000);
    expect(legacy.rises(0)).toEqual([1_000]);
    expect(legacy.rises(8)).toEqual([2_000]);
    expect(ioapic.events.length).toBe(0);
  });

  it('32-bit mode: upper comparator half reads 0, matches the low 32 bits, again after the wrap', () => {
    const { clock, ioapic, wr, rd } = make();
    wr(0xf0, 0xfffffff0);
    wr(0xf4, 3);
    wr(CONF(2), INT_ENB | MODE32 | route(30));
    expect(rd(CMP(2) + 4)).toBe(0);
    wr(CMP(2), 0x10);
    wr(CMP(2) + 4, 5); // ignored in 32-bit mode
    expect(rd(CMP(2) + 4)).toBe(0);
    wr(GEN_CONF, ENABLE);
    clock.advanceTo(100 * 0x20);
    expect(ioapic.rises(30)).toEqual([100 * 0x20]); // 0xfffffff0 -> 0x1_0000_0010: 0x20 ticks
    clock.advanceTo(100 * (0x20 + TWO32));
    expect(ioapic.rises(30)).toEqual([100 * 0x20, 100 * (0x20 + TWO32)]);
  });

  it('32-bit periodic accumulator wraps through 0', () => {
    const { clock, ioapic, wr, rd } = make();
    wr(0xf0, 0xffffff00);
    wr(CONF(0), INT_ENB | PERIODIC | VAL_SET | MODE32 | route(31));
    wr(CMP(0), 0xffffff80);
    wr(CMP(0), 0x100);
    wr(GEN_CONF, ENABLE);
    clock.advanceTo(100 * 0x300);
    expect(ioapic.rises(31)).toEqual([100 * 0x80, 100 * 0x180, 100 * 0x280]);
    expect(rd(CMP(0))).toBe(0x280);
  });
});

describe('HPET state and hostile input', () => {
  it('saveState/loadState round-trips, reset returns to power-on values', () => {
    const a = make();
    a.wr(CONF(1), INT_ENB | LEVEL | route(27));
    a.wr(CMP(1), 5);
    a.wr(CMP(1) + 4, 0);
    a.wr(GEN_CONF, ENABLE);
    a.clock.advanceTo(2_000);
    const s = JSON.parse(JSON.stringify(a.hpet.saveState()));
    const b = make(2_000);
    b.hpet.loadState(s);
    expect(b.hpet.saveState()).toEqual(s);
    expect(b.counter()).toBe(a.counter());
    a.hpet.reset();
    expect(a.ioapic.levels.get(27)).toBe(false);
    expect(a.counter()).toBe(0);
    expect(() => a.hpet.loadState({})).toThrow(TypeError);
  });

  it('never throws on any offset, size or value; never arms a zero-period loop', () => {
    const { hpet, clock } = make();
    const num = fc.oneof(fc.integer({ min: -(2 ** 40), max: 2 ** 40 }), fc.constantFrom(NaN, Infinity, -1, 0.5, 2 ** 53, 0xffffffff));
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.boolean(), fc.integer({ min: -8, max: 0x410 }), fc.constantFrom(1, 2, 4, 8, 3, 0, 16), num), { maxLength: 80 }), (ops) => {
        for (const [w, off, size, v] of ops) {
          if (w) hpet.mmioWrite(off, size, v);
          else expect(Number.isFinite(hpet.mmioRead(off, size))).toBe(true);
        }
        clock.advanceBy(10_000);
        expect(clock.armed).toBeLessThanOrEqual(3);
      }),
    );
  });
});

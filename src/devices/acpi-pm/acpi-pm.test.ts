// ACPI fixed hardware checks against ACPI 6.5 chapter 4.8 (sections cited per test).

import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { PortIoBus } from '../../machine/io-bus.js';
import { FakeClock, RecordingLine } from '../fake-clock.js';
import { AcpiPm } from './acpi-pm.js';
import { pmNsOfTick, pmTicksAt, pmTimerValue } from './pm-timer.js';

function make(startNs = 0) {
  const clock = new FakeClock(startNs);
  const sci = new RecordingLine(clock);
  let offs = 0;
  const pm = new AcpiPm({ clock, sci, powerOff: () => offs++ });
  const inw = (p: number) => pm.ioRead(p, 2);
  const outw = (p: number, v: number) => pm.ioWrite(p, 2, v);
  return { clock, sci, pm, inw, outw, offs: () => offs };
}

/** floor(ns * 3579545 / 10^9) with BigInt, as the reference (tests only). */
function refTicks(ns: number): number {
  return Number((BigInt(ns) * 3579545n) / 1_000_000_000n);
}

describe('PM timer (ACPI 6.5 4.8.3.3)', () => {
  it('PM_TMR = floor(ns * 3.579545 MHz) mod 2^24 at any virtual time', () => {
    fc.assert(
      fc.property(fc.nat(Number.MAX_SAFE_INTEGER), (ns) => {
        const clock = new FakeClock(ns);
        const pm = new AcpiPm({ clock, sci: { set() {} }, powerOff() {} });
        const v = pm.ioRead(0x408, 4);
        expect(v).toBe(refTicks(ns) % 2 ** 24);
        expect(pmTimerValue(ns)).toBe(v);
        // byte reads see the same value's bytes; bits 31:24 are 0 (24-bit timer, TMR_VAL_EXT = 0)
        expect(pm.ioRead(0x408, 1) | (pm.ioRead(0x409, 1) << 8) | (pm.ioRead(0x40a, 1) << 16)).toBe(v);
        expect(pm.ioRead(0x40b, 1)).toBe(0);
      }),
      { numRuns: 500 },
    );
  });

  it('counts 3579545 ticks per second; pmNsOfTick is the first ns of each tick', () => {
    expect(pmTicksAt(1e9)).toBe(3579545);
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2 ** 44 }), (t) => { // ns of tick t stays below 2^53
        const ns = pmNsOfTick(t);
        expect(pmTicksAt(ns)).toBe(t);
        expect(pmTicksAt(ns - 1)).toBe(t - 1);
      }),
    );
  });

  it('writes to PM_TMR are ignored', () => {
    const { clock, pm } = make(123_456_789);
    pm.ioWrite(0x408, 4, 0);
    expect(pm.ioRead(0x408, 4)).toBe(refTicks(clock.nowNs()) % 2 ** 24);
  });
});

describe('PM1 event block (4.8.4.1) and the SCI', () => {
  const toggleNs = (k: number) => pmNsOfTick(k * 2 ** 23); // bit 23 changes every 2^23 ticks

  it('TMR_STS is set when bit 23 changes and cleared by writing 1', () => {
    const { clock, inw, outw } = make();
    clock.advanceTo(toggleNs(1) - 1);
    expect(inw(0x400) & 1).toBe(0);
    clock.advanceTo(toggleNs(1));
    expect(inw(0x400) & 1).toBe(1);
    outw(0x400, 0); // writing 0 has no effect
    expect(inw(0x400) & 1).toBe(1);
    outw(0x400, 1);
    expect(inw(0x400) & 1).toBe(0);
    clock.advanceTo(toggleNs(2));
    expect(inw(0x400) & 1).toBe(1);
  });

  it('SCI follows TMR_STS & TMR_EN only while SCI_EN is set (ACPI_ENABLE via SMI_CMD)', () => {
    const { clock, sci, pm, inw, outw } = make();
    outw(0x402, 1); // TMR_EN
    expect(inw(0x402)).toBe(1);
    clock.advanceTo(toggleNs(1));
    expect(sci.level).toBe(false); // SCI_EN clear: legacy (SMI) mode
    expect(inw(0x404) & 1).toBe(0);
    pm.ioWrite(0xb2, 1, 0xa0); // ACPI_ENABLE
    expect(inw(0x404) & 1).toBe(1);
    expect(sci.level).toBe(true);
    outw(0x400, 1);
    expect(sci.level).toBe(false);
    clock.advanceTo(toggleNs(2) + 5);
    expect(sci.rises()).toEqual([toggleNs(1), toggleNs(2)]);
    outw(0x402, 0); // TMR_EN off: level drops
    expect(sci.level).toBe(false);
    pm.ioWrite(0xb2, 1, 0xa1); // ACPI_DISABLE
    expect(inw(0x404) & 1).toBe(0);
  });

  it('the OS cannot write SCI_EN through PM1_CNT; BM_RLD and SLP_TYP read back', () => {
    const { inw, outw } = make();
    outw(0x404, 0x0003 | (3 << 10));
    expect(inw(0x404)).toBe(0x0002 | (3 << 10));
  });

  it('power button status raises the SCI when PWRBTN_EN is set', () => {
    const { sci, pm, inw, outw } = make();
    pm.ioWrite(0xb2, 1, 0xa0);
    outw(0x402, 1 << 8);
    pm.pressPowerButton();
    expect(inw(0x400) & (1 << 8)).toBe(1 << 8);
    expect(sci.level).toBe(true);
    outw(0x400, 1 << 8);
    expect(sci.level).toBe(false);
  });
});

describe('sleep control (4.8.4.2.1)', () => {
  it('SLP_EN with SLP_TYP = 5 (S5) powers off; other types do not; SLP_EN reads 0', () => {
    const { inw, outw, offs } = make();
    outw(0x404, (1 << 13) | (1 << 10));
    expect(offs()).toBe(0);
    expect(inw(0x404) & (1 << 13)).toBe(0);
    outw(0x404, 5 << 10); // type without SLP_EN
    expect(offs()).toBe(0);
    outw(0x404, (1 << 13) | (5 << 10));
    expect(offs()).toBe(1);
  });
});

describe('AcpiPm device contract', () => {
  it('attaches at the platform ports', () => {
    const bus = new PortIoBus();
    const { pm } = make();
    pm.attach(bus);
    expect(pm.ports.map((p) => [p.first, p.count])).toEqual([[0x400, 4], [0x404, 2], [0x408, 4], [0xb2, 1]]);
  });

  it('saveState/loadState round-trip; reset clears enables', () => {
    const a = make();
    a.pm.ioWrite(0xb2, 1, 0xa0);
    a.outw(0x402, 1);
    a.clock.advanceTo(pmNsOfTick(2 ** 23));
    const s = JSON.parse(JSON.stringify(a.pm.saveState()));
    const b = make(a.clock.nowNs());
    b.pm.loadState(s);
    expect(b.pm.saveState()).toEqual(s);
    expect(b.inw(0x400) & 1).toBe(1);
    a.pm.reset();
    expect(a.inw(0x402)).toBe(0);
    expect(a.sci.level).toBe(false);
    expect(() => a.pm.loadState({})).toThrow(TypeError);
  });

  it('never throws on any port, size or value', () => {
    const { pm, clock } = make();
    const num = fc.oneof(fc.integer({ min: -(2 ** 40), max: 2 ** 40 }), fc.constantFrom(NaN, Infinity, -1, 0.5));
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.boolean(), fc.integer({ min: 0x3f0, max: 0x410 }), fc.constantFrom(0, 1, 2, 3, 4, 8), num), { maxLength: 60 }), (ops) => {
        for (const [w, port, size, v] of ops) {
          if (w) pm.ioWrite(port === 0x3f0 ? 0xb2 : port, size, v);
          else expect(Number.isInteger(pm.ioRead(port, size))).toBe(true);
        }
        clock.advanceBy(1_000_000_000);
      }),
    );
  });
});

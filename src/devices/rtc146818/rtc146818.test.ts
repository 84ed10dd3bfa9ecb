import { describe, expect, it } from 'vitest';
import { PortIoBus } from '../../machine/io-bus.js';
import { FakeClock, RecordingLine } from '../fake-clock.js';
import { Rtc146818, cmosMemoryBytes, periodicCycles, splitRam } from './rtc146818.js';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
// 2024-02-29 13:45:56 UTC, a Thursday (Python: calendar.timegm)
const BOOT = 1709214356;

function make(bootTime = BOOT, ramSize = 128 * MiB, startNs = 0) {
  const clock = new FakeClock(startNs);
  const irq = new RecordingLine(clock);
  const rtc = new Rtc146818({ clock, irq, bootTime, ramSize });
  const rd = (i: number) => {
    rtc.ioWrite(0x70, 1, i);
    return rtc.ioRead(0x71, 1);
  };
  const wr = (i: number, v: number) => {
    rtc.ioWrite(0x70, 1, i);
    rtc.ioWrite(0x71, 1, v);
  };
  const time = () => [0x32, 9, 8, 7, 6, 4, 2, 0].map(rd);
  return { clock, irq, rtc, rd, wr, time };
}

describe('RTC time registers', () => {
  it('shows the boot time in BCD, 24-hour mode (power-on B = 0x02)', () => {
    const { time, rd } = make();
    // century, year, month, day, weekday (Thursday = 5, Sunday = 1), hour, minute, second
    expect(time()).toEqual([0x20, 0x24, 0x02, 0x29, 0x05, 0x13, 0x45, 0x56]);
    expect(rd(0x0a)).toBe(0x26);
    expect(rd(0x0b)).toBe(0x02);
    expect(rd(0x0d)).toBe(0x80);
  });

  it('advances with virtual time, updating on whole virtual seconds', () => {
    const { clock, rd } = make();
    clock.advanceTo(3_999_999_999);
    expect(rd(0)).toBe(0x59);
    clock.advanceTo(4_000_000_000);
    expect(rd(0)).toBe(0x00);
    expect(rd(2)).toBe(0x46);
  });

  it('rolls over a century boundary', () => {
    // 1999-12-31 23:59:58 UTC, a Friday
    const { clock, time } = make(946684798);
    expect(time()).toEqual([0x19, 0x99, 0x12, 0x31, 0x06, 0x23, 0x59, 0x58]);
    clock.advanceTo(2e9);
    expect(time()).toEqual([0x20, 0x00, 0x01, 0x01, 0x07, 0x00, 0x00, 0x00]); // Saturday
  });

  it('uses binary and 12-hour encodings per register B', () => {
    const { wr, time, rd } = make();
    wr(0x0b, 0x06); // binary, 24h
    expect(time()).toEqual([20, 24, 2, 29, 5, 13, 45, 56]);
    wr(0x0b, 0x04); // binary, 12h: 13h = 1 PM
    expect(rd(4)).toBe(0x81);
    wr(0x0b, 0x00); // BCD, 12h
    expect(rd(4)).toBe(0x81);
  });

  it('encodes midnight and noon in 12-hour mode as 12 AM / 12 PM', () => {
    const midnight = make(946684800); // 2000-01-01 00:00:00
    midnight.wr(0x0b, 0x00);
    expect(midnight.rd(4)).toBe(0x12);
    const noon = make(946684800 + 12 * 3600);
    noon.wr(0x0b, 0x00);
    expect(noon.rd(4)).toBe(0x92);
  });

  it('lets the guest set the time under SET, one byte at a time', () => {
    // Linux writes year, month, day, hour, minute, second with SET = 1. Going from
    // Jan 31 to Feb 15 must not be disturbed by the transient "Feb 31".
    const { wr, rd, time, clock } = make(949276800); // 2000-01-31 00:00:00
    wr(0x0b, 0x82);
    wr(9, 0x00);
    wr(8, 0x02);
    wr(7, 0x15);
    wr(4, 0x10);
    wr(2, 0x20);
    wr(0, 0x30);
    expect(time()).toEqual([0x20, 0x00, 0x02, 0x15, 0x02, 0x10, 0x20, 0x30]); // weekday byte untouched yet
    clock.advanceBy(5e9);
    expect(rd(0)).toBe(0x30); // frozen while SET
    wr(0x0b, 0x02);
    clock.advanceBy(1e9);
    expect(rd(0)).toBe(0x31);
    expect(rd(7)).toBe(0x15);
  });

  it('keeps a guest-written weekday and advances it at midnight', () => {
    const { wr, rd, clock } = make(946684800 - 10); // 1999-12-31 23:59:50, Friday (6)
    wr(6, 0x03); // guest says Tuesday
    expect(rd(6)).toBe(0x03);
    clock.advanceTo(11e9);
    expect(rd(6)).toBe(0x04);
  });

  it('writes a single field while running and keeps counting', () => {
    const { wr, rd, clock } = make();
    clock.advanceTo(500_000_000);
    wr(2, 0x10); // minutes = 10
    expect([rd(4), rd(2), rd(0)]).toEqual([0x13, 0x10, 0x56]);
    clock.advanceTo(1_000_000_000);
    expect(rd(0)).toBe(0x57); // the sub-second phase is kept
  });
});

describe('RTC register A: UIP and the divider', () => {
  it('sets UIP during the 244 us (8 cycles of 32.768 kHz) before each update', () => {
    const { clock, rd } = make();
    clock.advanceTo(500_000_000);
    expect(rd(0x0a) & 0x80).toBe(0);
    clock.advanceTo(999_755_859); // 32760 cycles = 999755859.375 ns
    expect(rd(0x0a) & 0x80).toBe(0);
    clock.advanceTo(999_755_860);
    expect(rd(0x0a) & 0x80).toBe(0x80);
    expect(rd(0)).toBe(0x56); // not updated yet
    clock.advanceTo(1_000_000_000);
    expect(rd(0x0a) & 0x80).toBe(0);
    expect(rd(0)).toBe(0x57);
  });

  it('stops the clock while the divider is in reset; the first update comes 500 ms after release', () => {
    const { clock, rd, wr } = make();
    clock.advanceTo(200_000_000);
    wr(0x0a, 0x66); // DV = 110: reset
    clock.advanceTo(10e9);
    expect(rd(0)).toBe(0x56);
    expect(rd(0x0a) & 0x80).toBe(0);
    wr(0x0a, 0x26);
    clock.advanceTo(10.5e9 - 1);
    expect(rd(0)).toBe(0x56);
    clock.advanceTo(10.5e9);
    expect(rd(0)).toBe(0x57);
  });
});

describe('RTC register C and IRQ8', () => {
  it('sets UF and PF even with interrupts disabled; reading C clears them', () => {
    const { clock, rd, wr, irq } = make();
    expect(rd(0x0c)).toBe(0x00);
    clock.advanceTo(976_563); // first 1024 Hz period (power-on RS = 6)
    expect(rd(0x0c)).toBe(0x40);
    wr(0x0a, 0x20); // RS = 0: no periodic flag
    clock.advanceTo(1e9);
    expect(rd(0x0c)).toBe(0x10);
    expect(rd(0x0c)).toBe(0x00);
    expect(irq.changes).toEqual([]);
  });

  it('raises IRQ8 at the update with UIE, until register C is read', () => {
    const { clock, rd, wr, irq } = make();
    clock.advanceTo(300_000_000);
    wr(0x0a, 0x20); // no periodic flag
    rd(0x0c); // drop the PF gathered so far
    wr(0x0b, 0x12); // UIE
    clock.advanceTo(5e9);
    expect(irq.changes[0]).toEqual({ ns: 1e9, level: true });
    expect(irq.changes.length).toBe(1); // held until C is read
    expect(rd(0x0c)).toBe(0x90);
    expect(irq.level).toBe(false);
    clock.advanceTo(6e9);
    expect(irq.rises()).toEqual([1e9, 6e9]);
  });

  it('generates periodic interrupts at the Table 5 rate (RS = 6: 1024 Hz)', () => {
    const { clock, rd, wr, irq } = make();
    wr(0x0b, 0x42); // PIE
    // a handler that acknowledges each interrupt by reading C
    const seen: number[] = [];
    for (let i = 0; i < 10; i++) {
      clock.advanceTo(clock.nextDeadline());
      seen.push(clock.nowNs());
      expect(rd(0x0c) & 0xc0).toBe(0xc0);
    }
    // 32 cycles of 32.768 kHz = 976562.5 ns
    expect(seen).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10].map((k) => Math.ceil(k * 976562.5)));
    expect(irq.rises().length).toBe(10);
  });

  it('maps RS to periods per Table 5', () => {
    expect(periodicCycles(0)).toBe(0);
    expect(periodicCycles(1)).toBe(128); // 3.90625 ms
    expect(periodicCycles(2)).toBe(256); // 7.8125 ms
    expect(periodicCycles(3)).toBe(4); // 122.070 us
    expect(periodicCycles(6)).toBe(32); // 976.562 us
    expect(periodicCycles(15)).toBe(16384); // 500 ms
  });

  it('fires the alarm when the time matches, with 0xC0-0xFF as "don\'t care"', () => {
    const { clock, rd, wr, irq } = make();
    wr(0x0a, 0x20);
    wr(0x01, 0x05); // second 05
    wr(0x03, 0x46); // minute 46
    wr(0x05, 0xc0); // any hour
    wr(0x0b, 0x22); // AIE
    clock.advanceTo(60e9);
    // 13:45:56 + 9 s = 13:46:05
    expect(irq.rises()).toEqual([9e9]);
    expect(rd(0x0c)).toBe(0xb0); // IRQF | AF | UF
  });

  it('sets AF lazily even with AIE off', () => {
    const { clock, rd, wr } = make();
    wr(0x0a, 0x20);
    wr(0x01, 0xff);
    wr(0x03, 0xff);
    wr(0x05, 0xff); // every second
    clock.advanceTo(1e9);
    expect(rd(0x0c)).toBe(0x30);
  });

  it('does not fire an alarm that cannot match', () => {
    const { clock, wr, irq } = make();
    wr(0x01, 0x75); // not a valid BCD second, below 0xC0
    wr(0x0b, 0x22);
    clock.advanceTo(200e9);
    expect(irq.changes).toEqual([]);
    expect(clock.armed).toBe(0);
  });

  it('reset() (the /RESET pin) clears interrupt enables and flags, keeps the time', () => {
    const { clock, rd, wr, irq, rtc } = make();
    wr(0x0b, 0x72);
    clock.advanceTo(1.5e9);
    expect(irq.level).toBe(true);
    rtc.reset();
    expect(irq.level).toBe(false);
    expect(rd(0x0b)).toBe(0x02);
    expect(rd(0x0c)).toBe(0);
    expect(rd(0)).toBe(0x57);
  });
});

describe('CMOS memory', () => {
  it('fills the memory-size bytes as QEMU/SeaBIOS expect (128 MiB)', () => {
    const { rd } = make(BOOT, 128 * MiB);
    expect([rd(0x15), rd(0x16)]).toEqual([0x80, 0x02]); // 640 KiB
    expect([rd(0x17), rd(0x18), rd(0x30), rd(0x31)]).toEqual([0xff, 0xff, 0xff, 0xff]); // 127 MiB in KiB, capped at 65535
    expect([rd(0x34), rd(0x35)]).toEqual([0x00, 0x07]); // (128-16) MiB / 64 KiB = 1792
    expect([rd(0x5b), rd(0x5c), rd(0x5d)]).toEqual([0, 0, 0]);
  });

  it('computes small and large layouts', () => {
    expect(cmosMemoryBytes({ below4g: 32 * MiB, above4g: 0 })).toEqual([
      [0x15, 0x80],
      [0x16, 0x02],
      [0x17, 0x00],
      [0x18, 0x7c], // 31 MiB = 31744 KiB = 0x7c00
      [0x30, 0x00],
      [0x31, 0x7c],
      [0x34, 0x00],
      [0x35, 0x01], // 16 MiB / 64 KiB = 256
      [0x5b, 0],
      [0x5c, 0],
      [0x5d, 0],
    ]);
    const big = splitRam(6 * GiB);
    expect(big).toEqual({ below4g: 3 * GiB, above4g: 3 * GiB });
    const bytes = new Map(cmosMemoryBytes(big));
    expect([bytes.get(0x34), bytes.get(0x35)]).toEqual([0x00, 0xbf]); // (3 GiB - 16 MiB) / 64 KiB = 0xbf00
    expect([bytes.get(0x5b), bytes.get(0x5c), bytes.get(0x5d)]).toEqual([0x00, 0xc0, 0x00]); // 3 GiB / 64 KiB = 0xc000
    expect(splitRam(3 * GiB)).toEqual({ below4g: 3 * GiB, above4g: 0 });
  });

  it('stores RAM bytes, keeps registers C and D read-only, and reads 0xff from port 0x70', () => {
    const { rd, wr, rtc } = make();
    wr(0x40, 0x5a);
    expect(rd(0x40)).toBe(0x5a);
    wr(0x0d, 0x00);
    expect(rd(0x0d)).toBe(0x80);
    wr(0x0c, 0xff);
    expect(rd(0x0c)).toBe(0x00);
    expect(rtc.ioRead(0x70, 1)).toBe(0xff);
  });

  it('takes the NMI mask from bit 7 of the index and masks the index to 7 bits', () => {
    const { rtc, rd } = make();
    rtc.ioWrite(0x70, 1, 0x80 | 0x15);
    expect(rtc.nmiMasked).toBe(true);
    expect(rtc.ioRead(0x71, 1)).toBe(0x80);
    rtc.ioWrite(0x70, 1, 0x15);
    expect(rtc.nmiMasked).toBe(false);
    expect(rd(0x80 | 0x16)).toBe(0x02);
  });

  it('accepts index and data in one 16-bit OUT to 0x70', () => {
    const { rtc, rd } = make();
    rtc.ioWrite(0x70, 2, 0x77 << 8 | 0x41);
    expect(rd(0x41)).toBe(0x77);
  });
});

describe('RTC plumbing', () => {
  it('attaches 0x70-0x71', () => {
    const bus = new PortIoBus();
    const { rtc } = make();
    rtc.attach(bus);
    expect([bus.nameOf(0x70), bus.nameOf(0x71), bus.nameOf(0x72)]).toEqual(['rtc', 'rtc', null]);
  });

  it('saves and restores, timers included', () => {
    const a = make();
    a.wr(0x0b, 0x52); // PIE | UIE
    a.wr(0x0a, 0x2f); // 2 Hz periodic
    a.wr(0x50, 0x99);
    a.clock.advanceTo(2_300_000_000);
    const state = JSON.parse(JSON.stringify(a.rtc.saveState()));
    const b = make(0, MiB, 2_300_000_000);
    b.rtc.loadState(state);
    a.irq.changes.length = 0;
    b.irq.changes.length = 0;
    for (const x of [a, b]) {
      for (let i = 0; i < 6; i++) {
        x.rd(0x0c); // acknowledge, which re-arms the timer
        x.clock.advanceTo(x.clock.nextDeadline());
      }
    }
    expect(a.clock.nowNs()).toBeLessThan(6e9);
    expect(b.irq.changes).toEqual(a.irq.changes);
    expect(b.time()).toEqual(a.time());
    expect(b.rd(0x50)).toBe(0x99);
  });
});

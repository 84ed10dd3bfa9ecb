import { describe, expect, it } from 'vitest';
import { PortIoBus } from '../../machine/io-bus.js';
import { FakeClock, RecordingLine } from '../fake-clock.js';
import { Pit8254, pitNsOfTick, pitTicksAt } from './pit8254.js';

function make(startNs = 0) {
  const clock = new FakeClock(startNs);
  const irq = new RecordingLine(clock);
  const pit = new Pit8254({ clock, irq });
  const outb = (p: number, v: number) => pit.ioWrite(p, 1, v);
  const inb = (p: number) => pit.ioRead(p, 1);
  return { clock, irq, pit, outb, inb };
}

/** Program counter `ch` with LSB/MSB access: control word then the two count bytes. */
function program(outb: (p: number, v: number) => void, ch: number, mode: number, count: number, bcd = false) {
  outb(0x43, (ch << 6) | 0x30 | (mode << 1) | (bcd ? 1 : 0));
  outb(0x40 + ch, count & 0xff);
  outb(0x40 + ch, (count >> 8) & 0xff);
}

function read16(inb: (p: number) => number, ch: number): number {
  const lo = inb(0x40 + ch);
  return lo | (inb(0x40 + ch) << 8);
}

describe('PIT time base', () => {
  it('counts 1193182 pulses per virtual second, exactly', () => {
    expect(pitTicksAt(1e9)).toBe(1193182);
    expect(pitTicksAt(838)).toBe(0); // one pulse is 838.095 ns
    expect(pitTicksAt(839)).toBe(1);
    expect(pitNsOfTick(1)).toBe(839);
    expect(pitNsOfTick(1193182)).toBe(1e9);
    for (const t of [1, 2, 1000, 1193181, 123456789, 2 ** 40]) {
      expect(pitTicksAt(pitNsOfTick(t))).toBe(t);
      expect(pitTicksAt(pitNsOfTick(t) - 1)).toBe(t - 1);
    }
  });
});

describe('PIT mode 0 (Linux TSC calibration on counter 2)', () => {
  it('raises OUT2 in port 0x61 exactly N+1 pulses after the count is written', () => {
    const { clock, pit, outb, inb } = make();
    clock.advanceTo(1_000_000);
    const latch = 11931; // Linux CAL_LATCH for 10 ms
    outb(0x61, (inb(0x61) & ~0x02) | 0x01); // gate 2 on, speaker off
    outb(0x43, 0xb0); // counter 2, LSB/MSB, mode 0, binary
    outb(0x42, latch & 0xff);
    outb(0x42, latch >> 8);
    const t0 = pitTicksAt(clock.nowNs());
    expect(inb(0x61) & 0x20).toBe(0);
    const high = pitNsOfTick(t0 + latch + 1);
    clock.advanceTo(high - 1);
    expect(inb(0x61) & 0x20).toBe(0);
    clock.advanceTo(high);
    expect(inb(0x61) & 0x20).toBe(0x20);
    expect(pit.out(2)).toBe(true);
  });

  it('counts down one per pulse after the load pulse and wraps after 0', () => {
    const { clock, outb, inb } = make();
    outb(0x61, 0x01);
    program(outb, 2, 0, 100);
    const t0 = pitTicksAt(clock.nowNs());
    clock.advanceTo(pitNsOfTick(t0 + 1));
    expect(read16(inb, 2)).toBe(100); // loaded, not yet decremented
    clock.advanceTo(pitNsOfTick(t0 + 1 + 37));
    expect(read16(inb, 2)).toBe(63);
    clock.advanceTo(pitNsOfTick(t0 + 1 + 101));
    expect(read16(inb, 2)).toBe(0xffff);
  });

  it('suspends counting while GATE is low', () => {
    const { clock, outb, inb } = make();
    outb(0x61, 0x01);
    program(outb, 2, 0, 1000);
    const t0 = pitTicksAt(clock.nowNs());
    clock.advanceTo(pitNsOfTick(t0 + 11));
    expect(read16(inb, 2)).toBe(990);
    outb(0x61, 0x00);
    clock.advanceTo(pitNsOfTick(t0 + 500));
    expect(read16(inb, 2)).toBe(990);
    outb(0x61, 0x01);
    clock.advanceTo(pitNsOfTick(t0 + 510));
    expect(read16(inb, 2)).toBe(980);
  });
});

describe('PIT periodic IRQ0', () => {
  it('mode 2 (Linux HZ=1000, LATCH 1193): rising edges every N pulses', () => {
    const { clock, irq, outb } = make();
    clock.advanceTo(5_000_000);
    irq.changes.length = 0;
    const n = 1193;
    program(outb, 0, 2, n);
    const t0 = pitTicksAt(clock.nowNs());
    clock.advanceTo(5_000_000 + 1e9);
    const rises = irq.rises();
    // load at t0+1, CE reaches 1 at t0+n (OUT low), reload at t0+n+1 (OUT high)
    const expected: number[] = [];
    for (let k = 1; pitNsOfTick(t0 + 1 + k * n) <= clock.nowNs(); k++) expected.push(pitNsOfTick(t0 + 1 + k * n));
    expect(rises).toEqual(expected);
    expect(rises.length).toBe(1000);
    // and each low pulse lasts exactly one CLK period
    const falls = irq.changes.filter((c) => !c.level).map((c) => c.ns);
    expect(falls[0]).toBe(pitNsOfTick(t0 + n));
  });

  it('mode 2 reads N, N-1, ..., 1 then N again', () => {
    const { clock, outb, inb } = make();
    program(outb, 0, 2, 1000);
    const t0 = pitTicksAt(clock.nowNs());
    clock.advanceTo(pitNsOfTick(t0 + 1 + 250));
    outb(0x43, 0x00); // counter latch
    clock.advanceBy(100_000); // the latch holds
    expect(read16(inb, 0)).toBe(750);
    clock.advanceTo(pitNsOfTick(t0 + 1 + 999));
    expect(read16(inb, 0)).toBe(1);
    clock.advanceTo(pitNsOfTick(t0 + 1 + 1000));
    expect(read16(inb, 0)).toBe(1000);
  });

  it.each([
    [4, 2, 2],
    [5, 3, 2],
    [7, 4, 3],
  ])('mode 3 with N=%d: OUT high %d pulses, low %d pulses', (n, high, low) => {
    const { clock, irq, outb } = make();
    irq.changes.length = 0;
    program(outb, 0, 3, n);
    const t0 = pitTicksAt(clock.nowNs());
    clock.advanceTo(pitNsOfTick(t0 + 1 + 3 * n));
    const times = irq.changes.map((c) => c.ns);
    const expected: number[] = [];
    for (let c = 0; c < 3; c++) expected.push(pitNsOfTick(t0 + 1 + c * n + high), pitNsOfTick(t0 + 1 + (c + 1) * n));
    expect(times).toEqual(expected);
    expect(irq.changes.map((c) => c.level)).toEqual([false, true, false, true, false, true]);
    expect(high + low).toBe(n);
    expect(irq.changes[1].ns - irq.changes[0].ns).toBe(pitNsOfTick(t0 + 1 + n) - pitNsOfTick(t0 + 1 + high)); // the low half
  });

  it('mode 3 reads N, N-2, ... in each half (even N)', () => {
    const { clock, outb, inb } = make();
    program(outb, 0, 3, 10);
    const t0 = pitTicksAt(clock.nowNs());
    const seen: number[] = [];
    for (let i = 1; i <= 11; i++) {
      clock.advanceTo(pitNsOfTick(t0 + i));
      seen.push(read16(inb, 0));
    }
    expect(seen).toEqual([10, 8, 6, 4, 2, 10, 8, 6, 4, 2, 10]);
  });

  it('mode 4 (Linux one-shot): one strobe N+1 pulses after the write, then silence', () => {
    const { clock, irq, outb } = make();
    outb(0x43, 0x38); // counter 0, LSB/MSB, mode 4
    irq.changes.length = 0;
    outb(0x40, 100);
    outb(0x40, 0);
    const t0 = pitTicksAt(clock.nowNs());
    clock.advanceBy(10_000_000);
    expect(irq.changes).toEqual([
      { ns: pitNsOfTick(t0 + 101), level: false },
      { ns: pitNsOfTick(t0 + 102), level: true },
    ]);
    expect(clock.armed).toBe(0);
  });

  it('power-on state runs counter 0 in mode 3 at 18.2 Hz (QEMU)', () => {
    const { clock, irq } = make();
    clock.advanceTo(1e9);
    const rises = irq.rises();
    // OUT goes high with the power-on control word (a rise at 0), then once per 65536 pulses
    expect(rises.length).toBe(1 + 18);
    expect(rises[0]).toBe(0);
    expect(rises[1]).toBe(pitNsOfTick(1 + 65536));
    expect(rises[18]).toBe(pitNsOfTick(1 + 18 * 65536));
  });

  it('delivers every edge even when the clock calls back late', () => {
    // A coarse clock that runs callbacks only on 10 us boundaries.
    class CoarseClock extends FakeClock {
      override after(ns: number, cb: () => void): number {
        const at = this.nowNs() + ns;
        return super.after(Math.ceil(at / 10_000) * 10_000 - this.nowNs(), cb);
      }
    }
    const clock = new CoarseClock();
    const irq = new RecordingLine(clock);
    const pit = new Pit8254({ clock, irq });
    pit.ioWrite(0x43, 1, 0x34);
    pit.ioWrite(0x40, 1, 3);
    pit.ioWrite(0x40, 1, 0);
    irq.changes.length = 0;
    const t0 = pitTicksAt(clock.nowNs());
    clock.advanceTo(1_000_000);
    const edges = Math.floor((pitTicksAt(clock.nowNs()) - t0 - 1) / 3);
    expect(irq.rises().length).toBe(edges);
  });
});

describe('PIT latches, read-back and access modes', () => {
  it('read-back latches status then count; status shows OUT, NULL COUNT, RW, mode, BCD', () => {
    const { clock, outb, inb } = make();
    outb(0x43, 0x34); // counter 0, LSB/MSB, mode 2
    outb(0x43, 0xe2); // read-back status of counter 0
    expect(inb(0x40)).toBe(0x80 | 0x40 | 0x30 | 0x04); // OUT high, null count
    outb(0x40, 0x00);
    outb(0x40, 0x10); // 0x1000
    const t0 = pitTicksAt(clock.nowNs());
    outb(0x43, 0xe2);
    expect(inb(0x40)).toBe(0xf4); // still null until the load pulse
    clock.advanceTo(pitNsOfTick(t0 + 1 + 0x10));
    outb(0x43, 0xc2); // latch count and status
    outb(0x43, 0xc2); // ignored: both already latched
    clock.advanceBy(50_000);
    expect(inb(0x40)).toBe(0xb4);
    expect(read16(inb, 0)).toBe(0x0ff0);
  });

  it('ignores a second counter latch until the first is read', () => {
    const { clock, outb, inb } = make();
    program(outb, 0, 2, 5000);
    const t0 = pitTicksAt(clock.nowNs());
    clock.advanceTo(pitNsOfTick(t0 + 101));
    outb(0x43, 0x00);
    clock.advanceTo(pitNsOfTick(t0 + 201));
    outb(0x43, 0x00);
    expect(read16(inb, 0)).toBe(4900);
    expect(read16(inb, 0)).toBe(4800); // live again
  });

  it('honours LSB-only and MSB-only access', () => {
    const { clock, outb, inb } = make();
    outb(0x43, 0x10); // counter 0, LSB only, mode 0
    outb(0x40, 0x50);
    const t0 = pitTicksAt(clock.nowNs());
    clock.advanceTo(pitNsOfTick(t0 + 1 + 0x10));
    expect(inb(0x40)).toBe(0x40);
    outb(0x43, 0x20); // counter 0, MSB only, mode 0
    outb(0x40, 0x02);
    const t1 = pitTicksAt(clock.nowNs());
    clock.advanceTo(pitNsOfTick(t1 + 1));
    expect(inb(0x40)).toBe(0x02);
    clock.advanceTo(pitNsOfTick(t1 + 2));
    expect(inb(0x40)).toBe(0x01); // 0x1ff
  });

  it('counts in BCD', () => {
    const { clock, outb, inb } = make();
    program(outb, 0, 0, 0x1000, true); // 1000 decimal
    const t0 = pitTicksAt(clock.nowNs());
    clock.advanceTo(pitNsOfTick(t0 + 1 + 10));
    expect(read16(inb, 0)).toBe(0x0990);
    clock.advanceTo(pitNsOfTick(t0 + 1 + 1001));
    expect(read16(inb, 0)).toBe(0x9999); // wraps to 9999 in BCD
  });
});

describe('PIT gate-triggered modes on counter 2', () => {
  it('mode 1: OUT low from the pulse after the trigger for N pulses, retriggerable', () => {
    const { clock, outb, pit } = make();
    program(outb, 2, 1, 50);
    expect(pit.out(2)).toBe(true);
    clock.advanceBy(100_000);
    expect(pit.out(2)).toBe(true); // no trigger yet
    outb(0x61, 0x01);
    const t0 = pitTicksAt(clock.nowNs());
    clock.advanceTo(pitNsOfTick(t0 + 1));
    expect(pit.out(2)).toBe(false);
    clock.advanceTo(pitNsOfTick(t0 + 50));
    expect(pit.out(2)).toBe(false);
    clock.advanceTo(pitNsOfTick(t0 + 51));
    expect(pit.out(2)).toBe(true);
  });

  it('mode 5: one strobe N pulses after the trigger load', () => {
    const { clock, outb, pit } = make();
    program(outb, 2, 5, 20);
    outb(0x61, 0x01);
    const t0 = pitTicksAt(clock.nowNs());
    clock.advanceTo(pitNsOfTick(t0 + 20));
    expect(pit.out(2)).toBe(true);
    clock.advanceTo(pitNsOfTick(t0 + 21));
    expect(pit.out(2)).toBe(false);
    clock.advanceTo(pitNsOfTick(t0 + 22));
    expect(pit.out(2)).toBe(true);
  });

  it('mode 2 with GATE low holds OUT high and restarts on the rising edge', () => {
    const { clock, outb, inb, pit } = make();
    outb(0x61, 0x01);
    program(outb, 2, 2, 10);
    const t0 = pitTicksAt(clock.nowNs());
    clock.advanceTo(pitNsOfTick(t0 + 1 + 9)); // CE = 1: OUT low
    expect(pit.out(2)).toBe(false);
    outb(0x61, 0x00);
    expect(pit.out(2)).toBe(true);
    clock.advanceBy(1_000_000);
    expect(read16(inb, 2)).toBe(1);
    outb(0x61, 0x01);
    const t1 = pitTicksAt(clock.nowNs());
    clock.advanceTo(pitNsOfTick(t1 + 1));
    expect(read16(inb, 2)).toBe(10);
  });
});

describe('port 0x61', () => {
  it('keeps bits 0-3, toggles refresh every 15.085 us and shows OUT2', () => {
    const { clock, outb, inb, pit } = make();
    outb(0x61, 0xff);
    expect(inb(0x61) & 0x0f).toBe(0x0f);
    expect(inb(0x61) & 0xc0).toBe(0);
    expect(pit.speakerOn).toBe(true);
    expect(inb(0x61) & 0x10).toBe(0);
    clock.advanceTo(15085);
    expect(inb(0x61) & 0x10).toBe(0x10);
    clock.advanceTo(30170);
    expect(inb(0x61) & 0x10).toBe(0);
    // counter 2 is in mode 3 at power-on; OUT2 high right after its load
    expect(inb(0x61) & 0x20).toBe(0x20);
  });
});

describe('PIT plumbing', () => {
  it('attaches 0x40-0x43 and 0x61', () => {
    const bus = new PortIoBus();
    const { pit } = make();
    pit.attach(bus);
    expect([0x40, 0x43, 0x61].map((p) => bus.nameOf(p))).toEqual(['pit', 'pit', 'port61']);
    expect(bus.nameOf(0x44)).toBe(null);
  });

  it('saves and restores mid-run and continues identically', () => {
    const a = make();
    program(a.outb, 0, 2, 777);
    program(a.outb, 2, 0, 5000);
    a.outb(0x61, 0x01);
    a.clock.advanceTo(3_333_333);
    a.outb(0x43, 0x80); // latch counter 2, left unread
    const state = JSON.parse(JSON.stringify(a.pit.saveState()));
    const b = make(3_333_333);
    b.pit.loadState(state);
    a.irq.changes.length = 0;
    b.irq.changes.length = 0;
    a.clock.advanceTo(9_000_000);
    b.clock.advanceTo(9_000_000);
    expect(b.irq.changes).toEqual(a.irq.changes);
    expect(b.irq.changes.length).toBeGreaterThan(8);
    expect(read16(b.inb, 2)).toBe(read16(a.inb, 2));
    expect(read16(b.inb, 0)).toBe(read16(a.inb, 0));
  });

  it('reads 0xff from the write-only control port', () => {
    const { inb } = make();
    expect(inb(0x43)).toBe(0xff);
  });
});

// All the basic devices together on one port bus, as a PC wires them, under a hostile guest.

import { describe, expect, it } from 'vitest';
import { PortIoBus } from '../machine/io-bus.js';
import { irqLine } from '../machine/irq.js';
import { FakeClock } from './fake-clock.js';
import { COM1, COM2, FwCfg, IsaDebugExit, PcTestDev, PicPair, Pit8254, PostPort, Rtc146818, Uart16550, type AttachablePortDevice } from './index.js';

function pc() {
  const clock = new FakeClock();
  const pic = new PicPair();
  const out: number[] = [];
  const exits: number[] = [];
  const devices: AttachablePortDevice[] = [
    pic,
    new Pit8254({ clock, irq: irqLine(pic, 0) }),
    new Rtc146818({ clock, irq: irqLine(pic, 8), bootTime: 1_700_000_000, ramSize: 64 << 20 }),
    new Uart16550({ name: 'com1', base: COM1.base, irq: irqLine(pic, COM1.irq), sink: (b) => out.push(b) }),
    new Uart16550({ name: 'com2', base: COM2.base, irq: irqLine(pic, COM2.irq), sink: (b) => out.push(b) }),
    new IsaDebugExit({ onExit: (v) => exits.push(v) }),
    new PostPort(),
    new FwCfg({ ramSize: 64 << 20, nbCpus: 1 }),
    new PcTestDev({ irq: pic }),
  ];
  const bus = new PortIoBus();
  for (const d of devices) d.attach(bus);
  return { clock, bus, devices, out, exits, pic };
}

function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s;
  };
}

/** Random accesses to every port the devices decode (and a little around them). */
function hammer(m: ReturnType<typeof pc>, seed: number, n: number): number[] {
  const rnd = lcg(seed);
  const ports: number[] = [];
  for (const d of m.devices) for (const s of d.ports) for (let p = s.first - 1; p <= s.first + s.count; p++) ports.push(p & 0xffff);
  const sizes = [1, 2, 4, 1, 1, 3, 0, 8];
  const reads: number[] = [];
  for (let i = 0; i < n; i++) {
    const port = ports[rnd() % ports.length];
    const size = sizes[rnd() % sizes.length];
    const h = m.bus.handlerFor(port);
    if (rnd() & 1) {
      const v = h ? h.ioRead(port, size) : -1;
      reads.push(v);
    } else {
      h?.ioWrite(port, size, rnd());
    }
    if (i % 7 === 0) m.clock.advanceBy(rnd() % 200_000);
    if (i % 11 === 0 && m.pic.hasInterrupt()) reads.push(m.pic.acknowledge());
  }
  return reads;
}

describe('PC basic devices together', () => {
  it('attach without port conflicts', () => {
    const { bus } = pc();
    expect(bus.ranges.map((r) => r.name)).toEqual([
      'pic-master',
      'pic-slave',
      'pic-elcr',
      'pit',
      'port61',
      'rtc',
      'com1',
      'com2',
      'isa-debug-exit',
      'post',
      'fw_cfg',
      'pc-testdev-ioport',
      'pc-testdev-flush-page',
      'pc-testdev-ioport-byte',
      'pc-testdev-irq-line',
    ]);
  });

  it('never throw, always answer an unsigned 32-bit number, and stay JSON-serialisable', () => {
    const m = pc();
    const reads = hammer(m, 99, 20000);
    for (const v of reads) {
      expect(Number.isInteger(v)).toBe(true);
      expect(v >= -1 && v <= 0xffffffff).toBe(true);
    }
    for (const d of m.devices) {
      const s = d.saveState();
      expect(JSON.parse(JSON.stringify(s))).toEqual(s);
    }
  });

  it('are deterministic: the same accesses give the same answers and states', () => {
    const a = pc();
    const b = pc();
    expect(hammer(b, 5, 5000)).toEqual(hammer(a, 5, 5000));
    expect(b.devices.map((d) => d.saveState())).toEqual(a.devices.map((d) => d.saveState()));
    expect(b.out).toEqual(a.out);
    expect(b.exits).toEqual(a.exits);
  });

  it('restore into fresh devices and continue identically', () => {
    const a = pc();
    hammer(a, 17, 3000);
    const t = a.clock.nowNs();
    const b = pc();
    b.clock.advanceTo(t);
    // restoring replaces whatever the fresh devices did on the way
    const states = JSON.parse(JSON.stringify(a.devices.map((d) => d.saveState())));
    b.devices.forEach((d, i) => d.loadState(states[i]));
    expect(hammer(b, 18, 3000)).toEqual(hammer(a, 18, 3000));
  });
});

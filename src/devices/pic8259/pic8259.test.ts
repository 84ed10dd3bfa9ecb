import { describe, expect, it } from 'vitest';
import { PortIoBus } from '../../machine/io-bus.js';
import { RecordingLine } from '../fake-clock.js';
import { PicPair } from './pic8259.js';

/** Linux's init_8259A: ICW1 0x11, vectors 0x20/0x28, cascade on IR2, 8086 mode. */
function linuxPic(opts: { aeoi?: boolean } = {}) {
  const intr = new RecordingLine();
  const pic = new PicPair({ intr });
  const out = (p: number, v: number) => pic.ioWrite(p, 1, v);
  const inb = (p: number) => pic.ioRead(p, 1);
  out(0x21, 0xff);
  out(0xa1, 0xff);
  out(0x20, 0x11);
  out(0x21, 0x20);
  out(0x21, 0x04);
  out(0x21, opts.aeoi ? 0x03 : 0x01);
  out(0xa0, 0x11);
  out(0xa1, 0x28);
  out(0xa1, 0x02);
  out(0xa1, opts.aeoi ? 0x03 : 0x01);
  out(0x21, 0x00);
  out(0xa1, 0x00);
  return { pic, out, inb, intr };
}

const EOI = 0x20;

describe('8259A pair: initialisation and delivery', () => {
  it('delivers an edge IRQ once, with ISR set until EOI', () => {
    const { pic, out } = linuxPic();
    expect(pic.hasInterrupt()).toBe(false);
    pic.setIrq(0, true);
    pic.setIrq(0, false); // a pulse is latched
    expect(pic.hasInterrupt()).toBe(true);
    expect(pic.acknowledge()).toBe(0x20);
    expect(pic.isr).toBe(0x0001);
    expect(pic.irr).toBe(0);
    pic.setIrq(0, true);
    expect(pic.hasInterrupt()).toBe(false); // same level in service
    out(0x20, EOI);
    expect(pic.isr).toBe(0);
    expect(pic.acknowledge()).toBe(0x20);
  });

  it('needs a new rising edge for the next edge-triggered request', () => {
    const { pic, out } = linuxPic();
    pic.setIrq(4, true);
    expect(pic.acknowledge()).toBe(0x24);
    out(0x20, EOI);
    pic.setIrq(4, true); // still high: no edge
    expect(pic.hasInterrupt()).toBe(false);
    pic.setIrq(4, false);
    pic.setIrq(4, true);
    expect(pic.acknowledge()).toBe(0x24);
  });

  it('resolves priorities in fully nested mode', () => {
    const { pic, out } = linuxPic();
    pic.setIrq(3, true);
    pic.setIrq(1, true);
    expect(pic.acknowledge()).toBe(0x21);
    expect(pic.hasInterrupt()).toBe(false); // IR3 is lower than IR1 in service
    out(0x20, EOI);
    expect(pic.acknowledge()).toBe(0x23);
    pic.setIrq(5, true);
    expect(pic.hasInterrupt()).toBe(false);
    pic.setIrq(0, true); // higher than IR3: nests
    expect(pic.acknowledge()).toBe(0x20);
    expect(pic.isr).toBe(0x0009);
    out(0x20, EOI); // non-specific: clears the highest (IR0)
    expect(pic.isr).toBe(0x0008);
  });

  it('cascades the slave through IR2', () => {
    const { pic, out } = linuxPic();
    pic.setIrq(10, true);
    expect(pic.hasInterrupt()).toBe(true);
    expect(pic.acknowledge()).toBe(0x2a);
    expect(pic.isr).toBe((1 << 10) | (1 << 2));
    out(0xa0, EOI);
    out(0x20, EOI);
    expect(pic.isr).toBe(0);
  });

  it('orders slave inputs at master IR2 priority', () => {
    const { pic, out } = linuxPic();
    pic.setIrq(3, true);
    pic.setIrq(8, true);
    pic.setIrq(1, true);
    expect(pic.acknowledge()).toBe(0x21);
    out(0x20, EOI);
    expect(pic.acknowledge()).toBe(0x28);
    out(0xa0, EOI);
    out(0x20, EOI);
    expect(pic.acknowledge()).toBe(0x23);
  });

  it('masks with OCW1 and reads IMR back', () => {
    const { pic, out, inb } = linuxPic();
    out(0x21, 0xfe);
    out(0xa1, 0x7f);
    expect(inb(0x21)).toBe(0xfe);
    expect(inb(0xa1)).toBe(0x7f);
    pic.setIrq(1, true);
    pic.setIrq(15, true);
    expect(pic.hasInterrupt()).toBe(false);
    out(0x21, 0xfc);
    expect(pic.acknowledge()).toBe(0x21);
  });

  it('answers a vanished request with spurious IR7 and no ISR bit', () => {
    const { pic, out } = linuxPic();
    out(0x4d0, 0x20); // IRQ5 level-triggered
    pic.setIrq(5, true);
    expect(pic.hasInterrupt()).toBe(true);
    pic.setIrq(5, false); // withdrawn before INTA
    expect(pic.acknowledge()).toBe(0x27);
    expect(pic.isr).toBe(0);
  });

  it('reports its INT output on the optional intr line', () => {
    const { pic, intr, out } = linuxPic();
    intr.changes.length = 0;
    pic.setIrq(1, true);
    expect(intr.level).toBe(true);
    pic.acknowledge();
    expect(intr.level).toBe(false);
    out(0x20, EOI);
    expect(intr.changes.map((c) => c.level)).toEqual([true, false]);
  });

  it('ignores IRQ2 (the cascade) and numbers outside 0-15', () => {
    const { pic } = linuxPic();
    pic.setIrq(2, true);
    pic.setIrq(16, true);
    pic.setIrq(-1, true);
    pic.setIrq(3.5, true);
    expect(pic.hasInterrupt()).toBe(false);
  });
});

describe('8259A pair: ELCR and level triggering', () => {
  it('masks the PIIX reserved bits (IRQ0-2, 8, 13 are edge only)', () => {
    const { out, inb } = linuxPic();
    out(0x4d0, 0xff);
    out(0x4d1, 0xff);
    expect(inb(0x4d0)).toBe(0xf8);
    expect(inb(0x4d1)).toBe(0xde);
  });

  it('re-requests a level IRQ that is still asserted after EOI', () => {
    const { pic, out } = linuxPic();
    out(0x4d1, 0x02); // IRQ9 level
    pic.setIrq(9, true);
    expect(pic.acknowledge()).toBe(0x29);
    out(0xa0, EOI);
    out(0x20, EOI);
    expect(pic.acknowledge()).toBe(0x29);
    out(0xa0, EOI);
    out(0x20, EOI);
    pic.setIrq(9, false);
    expect(pic.hasInterrupt()).toBe(false);
  });

  it('makes IRR follow the line when an input is switched to level', () => {
    const { pic, out } = linuxPic();
    out(0x21, 0xff);
    pic.setIrq(11, true);
    out(0x4d1, 0x08);
    expect(pic.irr & (1 << 11)).not.toBe(0);
    pic.setIrq(11, false);
    expect(pic.irr & (1 << 11)).toBe(0);
  });
});

describe('8259A pair: OCW2/OCW3 commands', () => {
  it('reads IRR or ISR per OCW3', () => {
    const { pic, out, inb } = linuxPic();
    pic.setIrq(1, true);
    pic.setIrq(6, true);
    expect(inb(0x20)).toBe(0x42); // IRR after ICW1
    pic.acknowledge();
    out(0x20, 0x0b); // read ISR
    expect(inb(0x20)).toBe(0x02);
    out(0x20, 0x0a); // read IRR
    expect(inb(0x20)).toBe(0x40);
  });

  it('specific EOI clears only the named level', () => {
    const { pic, out } = linuxPic();
    pic.setIrq(3, true);
    pic.acknowledge();
    pic.setIrq(1, true);
    pic.acknowledge();
    expect(pic.isr).toBe(0x0a);
    out(0x20, 0x63); // specific EOI IR3
    expect(pic.isr).toBe(0x02);
  });

  it('set-priority (OCW2 0xC0|L) makes L the lowest', () => {
    const { pic, out } = linuxPic();
    out(0x20, 0xc3); // IR3 lowest -> IR4 highest
    pic.setIrq(2 + 1, true);
    pic.setIrq(5, true);
    pic.setIrq(0, true);
    expect(pic.acknowledge()).toBe(0x25);
    out(0x20, EOI);
    expect(pic.acknowledge()).toBe(0x20);
    out(0x20, EOI);
    expect(pic.acknowledge()).toBe(0x23);
  });

  it('rotate on non-specific EOI moves the serviced level to lowest', () => {
    const { pic, out } = linuxPic();
    pic.setIrq(1, true);
    expect(pic.acknowledge()).toBe(0x21);
    out(0x20, 0xa0); // rotate on non-specific EOI: IR1 lowest, IR2 highest
    pic.setIrq(1, false);
    pic.setIrq(1, true);
    pic.setIrq(4, true);
    expect(pic.acknowledge()).toBe(0x24);
  });

  it('auto-EOI leaves ISR clear; rotate-in-AEOI rotates priorities', () => {
    const { pic, out } = linuxPic({ aeoi: true });
    pic.setIrq(1, true);
    expect(pic.acknowledge()).toBe(0x21);
    expect(pic.isr).toBe(0);
    out(0x20, 0x80); // set rotate in AEOI
    pic.setIrq(3, true);
    expect(pic.acknowledge()).toBe(0x23); // IR3 now lowest
    pic.setIrq(0, true);
    pic.setIrq(3, false);
    pic.setIrq(3, true);
    pic.setIrq(5, true);
    expect(pic.acknowledge()).toBe(0x25);
  });

  it('poll command returns 0x80|level and acknowledges', () => {
    const { pic, out, inb } = linuxPic();
    pic.setIrq(6, true);
    out(0x20, 0x0c);
    expect(inb(0x20)).toBe(0x86);
    expect(pic.isr).toBe(0x40);
    out(0x20, 0x0c);
    expect(inb(0x20)).toBe(0x00); // nothing (IR6 in service)
    expect(inb(0x21)).toBe(0x00); // back to IMR
  });

  it('special mask mode lets lower levels through a masked in-service level', () => {
    const { pic, out } = linuxPic();
    pic.setIrq(3, true);
    expect(pic.acknowledge()).toBe(0x23);
    pic.setIrq(5, true);
    expect(pic.hasInterrupt()).toBe(false);
    out(0x21, 0x08); // mask IR3
    out(0x20, 0x68); // OCW3: ESMM | SMM
    expect(pic.acknowledge()).toBe(0x25);
    out(0x20, 0x48); // leave special mask mode
    out(0x20, 0x65); // specific EOI IR5
    expect(pic.isr).toBe(0x08);
  });

  it('special fully nested mode lets a higher slave request nest in its cascade', () => {
    const intr = new RecordingLine();
    const pic = new PicPair({ intr });
    const out = (p: number, v: number) => pic.ioWrite(p, 1, v);
    out(0x20, 0x11);
    out(0x21, 0x20);
    out(0x21, 0x04);
    out(0x21, 0x11); // SFNM | uPM
    out(0xa0, 0x11);
    out(0xa1, 0x28);
    out(0xa1, 0x02);
    out(0xa1, 0x01);
    pic.setIrq(12, true);
    expect(pic.acknowledge()).toBe(0x2c);
    pic.setIrq(9, true);
    expect(pic.acknowledge()).toBe(0x29);
  });

  it('does not nest slave requests without SFNM', () => {
    const { pic } = linuxPic();
    pic.setIrq(12, true);
    expect(pic.acknowledge()).toBe(0x2c);
    pic.setIrq(9, true);
    expect(pic.hasInterrupt()).toBe(false);
  });
});

describe('8259A pair: plumbing', () => {
  it('attaches master, slave and ELCR ports', () => {
    const bus = new PortIoBus();
    const pic = new PicPair();
    pic.attach(bus);
    expect([0x20, 0x21, 0xa0, 0xa1, 0x4d0, 0x4d1].map((p) => bus.nameOf(p))).toEqual(['pic-master', 'pic-master', 'pic-slave', 'pic-slave', 'pic-elcr', 'pic-elcr']);
    expect(bus.nameOf(0x22)).toBe(null);
  });

  it('saves and restores JSON state', () => {
    const a = linuxPic();
    a.out(0x4d1, 0x02);
    a.pic.setIrq(9, true);
    a.pic.setIrq(3, true);
    a.pic.acknowledge();
    const b = linuxPic();
    b.pic.loadState(JSON.parse(JSON.stringify(a.pic.saveState())));
    expect(b.pic.saveState()).toEqual(a.pic.saveState());
    expect(b.pic.acknowledge()).toBe(a.pic.acknowledge());
  });

  it('vector base comes from ICW2 bits 7-3 only', () => {
    const pic = new PicPair();
    pic.ioWrite(0x20, 1, 0x13); // single, ICW4
    pic.ioWrite(0x21, 1, 0x47);
    pic.ioWrite(0x21, 1, 0x01);
    pic.setIrq(1, true);
    expect(pic.acknowledge()).toBe(0x41);
  });
});

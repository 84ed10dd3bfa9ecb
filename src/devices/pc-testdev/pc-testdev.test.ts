import { describe, expect, it } from 'vitest';
import { PortIoBus } from '../../machine/io-bus.js';
import type { IrqRouter } from '../../machine/irq.js';
import { PcTestDev, PcTestDevIomem } from './pc-testdev.js';

function make() {
  const irqs: [number, boolean][] = [];
  const flushed: number[] = [];
  const router: IrqRouter = { setIrq: (n, l) => irqs.push([n, l]) };
  const dev = new PcTestDev({ irq: router, onFlushPage: (a) => flushed.push(a) });
  return { dev, irqs, flushed };
}

describe('pc-testdev ports', () => {
  it('keeps the last byte of a rep outsb to 0xe0 (x86/emulator.c test_stringio)', () => {
    const { dev } = make();
    for (const c of 'abcdefghijklmnop') dev.ioWrite(0xe0, 1, c.charCodeAt(0));
    expect(dev.ioRead(0xe0, 1)).toBe('p'.charCodeAt(0));
  });

  it('reads back byte, word and dword accesses (x86/realmode.c io tests)', () => {
    const { dev } = make();
    dev.ioWrite(0xe0, 4, 0x12345678);
    expect(dev.ioRead(0xe0, 4)).toBe(0x12345678);
    expect(dev.ioRead(0xe0, 2)).toBe(0x5678);
    expect(dev.ioRead(0xe2, 2)).toBe(0x1234);
    expect(dev.ioRead(0xe3, 1)).toBe(0x12);
    dev.ioWrite(0xe0, 2, 0x9999); // x86/emulator.c test_string_io_mmio
    expect(dev.ioRead(0xe0, 1)).toBe(0x99);
    expect(dev.ioRead(0xe0, 4)).toBe(0x12349999);
    dev.ioWrite(0xe1, 1, 0xab);
    expect(dev.scratch).toBe(0x1234ab99);
  });

  it('drops bytes beyond bit 31 for misaligned accesses at 0xe0', () => {
    const { dev } = make();
    dev.ioWrite(0xe2, 4, 0xaabbccdd);
    expect(dev.scratch).toBe(0xccdd0000);
    expect(dev.ioRead(0xe3, 4)).toBe(0xcc);
  });

  it('splits 0xe8 accesses into bytes that wrap within the register', () => {
    const { dev } = make();
    dev.ioWrite(0xe8, 4, 0x11223344);
    expect(dev.ioRead(0xe0, 4)).toBe(0x11223344);
    dev.ioWrite(0xea, 4, 0xaabbccdd); // bytes 2,3,0,1 <- dd,cc,bb,aa
    expect(dev.scratch).toBe(0xccddaabb);
    expect(dev.ioRead(0xea, 4)).toBe(0xaabbccdd);
  });

  it('drives IRQ lines through 0x2000+n with byte writes only', () => {
    const { dev, irqs } = make();
    dev.ioWrite(0x2000 + 14, 1, 1); // lib/x86/apic.c set_irq_line(14, 1)
    dev.ioWrite(0x2000 + 14, 1, 0);
    dev.ioWrite(0x2000 + 23, 1, 0x80);
    dev.ioWrite(0x2000 + 1, 2, 1); // wrong size: ignored
    expect(irqs).toEqual([
      [14, true],
      [14, false],
      [23, true],
    ]);
    expect(dev.ioRead(0x2000, 1)).toBe(0);
  });

  it('reports flush-page writes (dword only) with the page address', () => {
    const { dev, flushed } = make();
    dev.ioWrite(0xe4, 4, 0x12345678);
    dev.ioWrite(0xe4, 1, 0x12);
    expect(flushed).toEqual([0x12345000]);
  });

  it('attaches its four port ranges and restores its scratch register', () => {
    const { dev } = make();
    const bus = new PortIoBus();
    dev.attach(bus);
    expect([0xe0, 0xe4, 0xe8, 0xeb, 0xec, 0x2017, 0x2018].map((p) => bus.nameOf(p))).toEqual([
      'pc-testdev-ioport',
      'pc-testdev-flush-page',
      'pc-testdev-ioport-byte',
      'pc-testdev-ioport-byte',
      null,
      'pc-testdev-irq-line',
      null,
    ]);
    dev.ioWrite(0xe0, 4, 0xdeadbeef);
    const b = make().dev;
    b.loadState(JSON.parse(JSON.stringify(dev.saveState())));
    expect(b.ioRead(0xe0, 4)).toBe(0xdeadbeef);
  });
});

describe('pc-testdev iomem', () => {
  it('is 64 KiB of little-endian scratch memory that survives save/load', () => {
    const m = new PcTestDevIomem();
    m.mmioWrite(4094, 2, 0x88aa); // crosses a page inside the window
    expect(m.mmioRead(4094, 1)).toBe(0xaa);
    expect(m.mmioRead(4095, 1)).toBe(0x88);
    m.mmioWrite(0xfffe, 4, 0x11223344); // clipped at the end of the window
    expect(m.mmioRead(0xfffe, 4)).toBe(0x3344);
    const n = new PcTestDevIomem();
    n.loadState(JSON.parse(JSON.stringify(m.saveState())));
    expect(n.mmioRead(4094, 2)).toBe(0x88aa);
  });
});

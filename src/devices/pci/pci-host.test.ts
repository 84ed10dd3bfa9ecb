// Configuration mechanism #1 (PCI Local Bus 3.0, 3.2.2.3.2) and BAR remapping across functions.
import { describe, expect, it } from 'vitest';
import * as R from './pci-config.js';
import { PciHost } from './pci-host.js';
import { RecordingInterrupts, RecordingMapper, TestFunction } from './test-function.js';

const ADDR = 0xcf8;
const DATA = 0xcfc;
const cfgAddr = (bus: number, dev: number, fn: number, reg: number) => (0x8000_0000 | (bus << 16) | (dev << 11) | (fn << 8) | (reg & 0xfc)) >>> 0;

function setup() {
  const mapper = new RecordingMapper();
  const host = new PciHost({ configAddressPort: ADDR, mapper });
  const a = new TestFunction();
  const b = new TestFunction();
  host.add(0, 3, 0, a, new RecordingInterrupts());
  host.add(2, 31, 7, b, new RecordingInterrupts());
  return { host, mapper, a, b };
}

describe('configuration mechanism #1 (3.2.2.3.2)', () => {
  it('CONFIG_ADDRESS latches only full dword writes; reserved bits 30:24 and 1:0 read 0', () => {
    const { host } = setup();
    host.ioWrite(ADDR, 4, 0xffff_ffff);
    expect(host.ioRead(ADDR, 4)).toBe(0x80ff_fffc);
    host.ioWrite(ADDR, 1, 0x00);
    host.ioWrite(ADDR, 2, 0x0000);
    expect(host.ioRead(ADDR, 4)).toBe(0x80ff_fffc);
    expect(host.ioRead(ADDR, 1)).toBe(0xff); // a byte access is a normal I/O cycle nothing claims
    expect(host.ports.map((p) => [p.first, p.count])).toEqual([[0xcf8, 1], [0xcfa, 2], [0xcfc, 4]]); // 0xcf9 is reset control
  });

  it('decodes bus, device, function and register; byte/word/dword at each data port offset', () => {
    const { host } = setup();
    host.ioWrite(ADDR, 4, cfgAddr(0, 3, 0, 0));
    expect(host.ioRead(DATA, 4)).toBe(0x1234_1af4);
    expect(host.ioRead(DATA, 2)).toBe(0x1af4);
    expect(host.ioRead(DATA + 2, 2)).toBe(0x1234);
    expect([0, 1, 2, 3].map((i) => host.ioRead(DATA + i, 1))).toEqual([0xf4, 0x1a, 0x34, 0x12]);
    host.ioWrite(ADDR, 4, cfgAddr(0, 3, 0, R.PCI_REVISION_ID));
    expect(host.ioRead(DATA, 4)).toBe(0x0200_0003);
    expect(host.ioRead(DATA + 3, 1)).toBe(0x02);
    host.ioWrite(ADDR, 4, cfgAddr(2, 31, 7, 0));
    expect(host.ioRead(DATA, 2)).toBe(0x1af4);
    // Writes reach the selected function at register + port offset.
    host.ioWrite(ADDR, 4, cfgAddr(0, 3, 0, R.PCI_INTERRUPT_LINE));
    host.ioWrite(DATA, 1, 9);
    expect(host.ioRead(DATA, 4) & 0xff).toBe(9);
    host.ioWrite(ADDR, 4, cfgAddr(0, 3, 0, R.PCI_COMMAND));
    host.ioWrite(DATA + 2, 2, 0); // STATUS
    host.ioWrite(DATA, 2, R.PCI_COMMAND_MASTER);
    expect(host.ioRead(DATA, 2)).toBe(R.PCI_COMMAND_MASTER);
  });

  it('absent functions and a clear enable bit read all ones (vendor 0xffff) and drop writes', () => {
    const { host, a } = setup();
    for (const [b, d, f] of [[0, 0, 0], [0, 3, 1], [1, 3, 0], [255, 31, 7], [2, 31, 6]]) {
      host.ioWrite(ADDR, 4, cfgAddr(b, d, f, 0));
      expect(host.ioRead(DATA, 4)).toBe(0xffff_ffff);
      expect(host.ioRead(DATA, 2)).toBe(0xffff);
      expect(host.ioRead(DATA + 1, 1)).toBe(0xff);
      host.ioWrite(DATA, 4, 0);
    }
    host.ioWrite(ADDR, 4, cfgAddr(0, 3, 0, R.PCI_INTERRUPT_LINE) & 0x7fff_ffff);
    expect(host.ioRead(DATA, 4)).toBe(0xffff_ffff);
    host.ioWrite(DATA, 1, 7);
    expect(a.cfgRead(R.PCI_INTERRUPT_LINE, 1)).toBe(0);
  });

  it('misaligned data accesses read all ones and write nothing (as bhyve)', () => {
    const { host, a } = setup();
    host.ioWrite(ADDR, 4, cfgAddr(0, 3, 0, R.PCI_INTERRUPT_LINE));
    expect(host.ioRead(DATA + 1, 2)).toBe(0xffff);
    expect(host.ioRead(DATA + 3, 2)).toBe(0xffff);
    expect(host.ioRead(DATA + 2, 4)).toBe(0xffff_ffff);
    host.ioWrite(DATA + 3, 2, 0xffff);
    expect(a.cfgRead(R.PCI_INTERRUPT_LINE, 4) >>> 0).toBe(0x0000_0100);
  });

  it('hostile port traffic never throws', () => {
    const { host } = setup();
    let x = 7;
    const next = () => (x = (Math.imul(x, 1664525) + 1013904223) >>> 0);
    for (let i = 0; i < 5000; i++) {
      const port = 0xcf8 + (next() & 7);
      const size = [1, 2, 4][next() % 3];
      if (next() & 1) expect(() => host.ioWrite(port, size, next())).not.toThrow();
      else expect(() => host.ioRead(port, size)).not.toThrow();
    }
  });
});

describe('BAR mapping across functions', () => {
  it('a range one function leaves is taken by another in the same pass (unmap first, then map)', () => {
    const { host, mapper, a, b } = setup();
    a.cfgWrite(R.PCI_BAR0, 4, 0x2000);
    a.cfgWrite(R.PCI_COMMAND, 2, R.PCI_COMMAND_IO);
    // b wants the same range: refused while a holds it (the recording mapper's busy list stands in
    // for the real bus's conflict check).
    mapper.busyIo = [{ base: 0x2000, size: 32 }];
    b.cfgWrite(R.PCI_BAR0, 4, 0x2000);
    b.cfgWrite(R.PCI_COMMAND, 2, R.PCI_COMMAND_IO);
    expect(b.barMappedAt(0)).toBe(-1);
    mapper.busyIo = [];
    a.cfgWrite(R.PCI_COMMAND, 2, 0); // a lets go: the refresh maps b there
    expect(a.barMappedAt(0)).toBe(-1);
    expect(b.barMappedAt(0)).toBe(0x2000);
    expect(host.functions().map((f) => [f.bus, f.dev, f.func])).toEqual([[0, 3, 0], [2, 31, 7]]);
  });

  it('saveState names functions bb:dd.f and loadState restores them', () => {
    const { host, a } = setup();
    host.ioWrite(ADDR, 4, cfgAddr(0, 3, 0, 0));
    a.cfgWrite(R.PCI_INTERRUPT_LINE, 1, 10);
    const s = JSON.parse(JSON.stringify(host.saveState()));
    expect(Object.keys(s.functions)).toEqual(['00:03.0', '02:1f.7']);
    const other = setup();
    other.host.loadState(s);
    expect(other.a.cfgRead(R.PCI_INTERRUPT_LINE, 1)).toBe(10);
    expect(other.host.ioRead(ADDR, 4)).toBe(cfgAddr(0, 3, 0, 0));
  });
});

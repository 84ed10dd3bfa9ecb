// PciFunction: type 0 header semantics (PCI Local Bus 3.0, 6.1-6.2), BAR sizing and decode
// (6.2.5.1), the capability list (6.7), INTx (6.2.2 bit 10, 6.2.3 bit 3) and hostile writes.
import { describe, expect, it } from 'vitest';
import * as R from './pci-config.js';
import { RecordingInterrupts, RecordingMapper, TestFunction } from './test-function.js';

function attached(opts = {}) {
  const f = new TestFunction(opts);
  const mapper = new RecordingMapper();
  const irq = new RecordingInterrupts();
  f.attach({ mapper, interrupts: irq });
  return { f, mapper, irq };
}

describe('type 0 header (PCI 3.0 6.1, 6.2)', () => {
  it('identification registers read back the identity and ignore writes (6.2.1: read-only)', () => {
    const { f } = attached();
    expect(f.cfgRead(R.PCI_VENDOR_ID, 2)).toBe(0x1af4);
    expect(f.cfgRead(R.PCI_DEVICE_ID, 2)).toBe(0x1234);
    expect(f.cfgRead(0, 4)).toBe(0x1234_1af4);
    expect(f.cfgRead(R.PCI_REVISION_ID, 1)).toBe(3);
    expect(f.cfgRead(R.PCI_REVISION_ID, 4)).toBe(0x0200_0003); // class 02/00/00 above revision
    expect(f.cfgRead(R.PCI_SUBSYSTEM_VENDOR_ID, 4)).toBe(0x0001_1af4);
    for (const off of [0x00, 0x02, 0x08, 0x0e, 0x2c, 0x2e, 0x3d]) f.cfgWrite(off, 2, 0xffff);
    f.cfgWrite(0, 4, 0);
    expect(f.cfgRead(0, 4)).toBe(0x1234_1af4);
    expect(f.cfgRead(R.PCI_REVISION_ID, 4)).toBe(0x0200_0003);
    expect(f.cfgRead(R.PCI_SUBSYSTEM_VENDOR_ID, 4)).toBe(0x0001_1af4);
    expect(f.cfgRead(R.PCI_INTERRUPT_PIN, 1)).toBe(1);
  });

  it('byte and word reads at every offset agree with the dword (little-endian, 6.1)', () => {
    const { f } = attached({ msixVectors: 4 });
    for (let off = 0; off < 256; off += 4) {
      const d = f.cfgRead(off, 4);
      for (let b = 0; b < 4; b++) expect(f.cfgRead(off + b, 1)).toBe((d >>> (8 * b)) & 0xff);
      expect(f.cfgRead(off, 2)).toBe(d & 0xffff);
      expect(f.cfgRead(off + 2, 2)).toBe(d >>> 16);
    }
  });

  it('COMMAND keeps only implemented bits; reserved bits and special cycles read 0 (6.2.2)', () => {
    const { f } = attached();
    f.cfgWrite(R.PCI_COMMAND, 2, 0xffff);
    expect(f.cfgRead(R.PCI_COMMAND, 2)).toBe(R.PCI_COMMAND_WRITABLE);
    expect(f.busMaster()).toBe(true);
    f.cfgWrite(R.PCI_COMMAND, 2, 0);
    expect(f.cfgRead(R.PCI_COMMAND, 2)).toBe(0);
    expect(f.busMaster()).toBe(false);
    expect(f.commandChanges).toEqual([[0, R.PCI_COMMAND_WRITABLE], [R.PCI_COMMAND_WRITABLE, 0]]);
  });

  it('STATUS error bits are RW1C: writing 1 clears, writing 0 keeps, they are never set by software (6.2.3)', () => {
    const { f } = attached();
    f.cfgWrite(R.PCI_STATUS, 2, 0xffff);
    expect(f.cfgRead(R.PCI_STATUS, 2) & R.PCI_STATUS_RW1C).toBe(0);
    f.latchStatus(R.PCI_STATUS_REC_MASTER_ABORT | R.PCI_STATUS_SIG_TARGET_ABORT);
    f.cfgWrite(R.PCI_STATUS, 2, 0);
    expect(f.cfgRead(R.PCI_STATUS, 2) & R.PCI_STATUS_RW1C).toBe(R.PCI_STATUS_REC_MASTER_ABORT | R.PCI_STATUS_SIG_TARGET_ABORT);
    f.cfgWrite(R.PCI_STATUS, 2, R.PCI_STATUS_REC_MASTER_ABORT);
    expect(f.cfgRead(R.PCI_STATUS, 2) & R.PCI_STATUS_RW1C).toBe(R.PCI_STATUS_SIG_TARGET_ABORT);
    // A dword write to COMMAND carries zeros into STATUS: nothing is cleared.
    f.cfgWrite(R.PCI_COMMAND, 4, R.PCI_COMMAND_MASTER);
    expect(f.cfgRead(R.PCI_STATUS, 2) & R.PCI_STATUS_RW1C).toBe(R.PCI_STATUS_SIG_TARGET_ABORT);
  });

  it('Interrupt Line is read/write, Interrupt Pin read-only; expansion ROM absent (6.2.4, 6.2.5.2)', () => {
    const { f } = attached();
    f.cfgWrite(R.PCI_INTERRUPT_LINE, 1, 11);
    expect(f.cfgRead(R.PCI_INTERRUPT_LINE, 1)).toBe(11);
    f.cfgWrite(R.PCI_EXPANSION_ROM, 4, 0xffffffff);
    expect(f.cfgRead(R.PCI_EXPANSION_ROM, 4)).toBe(0); // sizing finds no ROM
    f.cfgWrite(R.PCI_CARDBUS_CIS, 4, 0xffffffff);
    expect(f.cfgRead(R.PCI_CARDBUS_CIS, 4)).toBe(0);
    expect(f.cfgRead(R.PCI_HEADER_TYPE, 1)).toBe(0); // type 0, single function
  });
});

describe('BARs (PCI 3.0 6.2.5.1)', () => {
  it('sizing: all ones reads back ~(size-1) with the type bits; unimplemented BARs read 0', () => {
    const { f } = attached({ msixVectors: 4 });
    for (let i = 0; i < 6; i++) f.cfgWrite(R.PCI_BAR0 + 4 * i, 4, 0xffffffff);
    expect(f.cfgRead(R.PCI_BAR0, 4)).toBe((~(32 - 1) & 0xfffffffc | 1) >>> 0); // I/O, 32 bytes
    expect(f.cfgRead(R.PCI_BAR0 + 4, 4)).toBe(0xfffff008); // memory, 32-bit, prefetchable, 4 KiB
    expect(f.cfgRead(R.PCI_BAR0 + 8, 4)).toBe(0xfffff000); // the MSI-X BAR: 4 KiB, not prefetchable
    for (const i of [3, 4, 5]) expect(f.cfgRead(R.PCI_BAR0 + 4 * i, 4)).toBe(0);
  });

  it('a BAR is mapped only while its decode bit is set, and moves when reprogrammed', () => {
    const { f, mapper } = attached();
    f.cfgWrite(R.PCI_BAR0, 4, 0x2001);
    f.cfgWrite(R.PCI_BAR0 + 4, 4, 0xe000_0000);
    expect(mapper.io.size + mapper.mem.size).toBe(0);
    f.cfgWrite(R.PCI_COMMAND, 2, R.PCI_COMMAND_IO);
    expect([...mapper.io]).toEqual([[0x2000, 32]]);
    expect(mapper.mem.size).toBe(0);
    f.cfgWrite(R.PCI_COMMAND, 2, R.PCI_COMMAND_IO | R.PCI_COMMAND_MEMORY);
    expect([...mapper.mem]).toEqual([[0xe000_0000, 4096]]);
    // Reprogramming while decoding: the old range goes away, the new one appears.
    f.cfgWrite(R.PCI_BAR0, 4, 0x3000);
    expect([...mapper.io]).toEqual([[0x3000, 32]]);
    expect(f.barMappedAt(0)).toBe(0x3000);
    // Byte writes: each intermediate address is a (transient) mapping, the last one stays.
    f.cfgWrite(R.PCI_BAR0 + 4 + 3, 1, 0xe1);
    expect([...mapper.mem]).toEqual([[0xe100_0000, 4096]]);
    f.cfgWrite(R.PCI_COMMAND, 2, 0);
    expect(mapper.io.size + mapper.mem.size).toBe(0);
    expect(f.barMappedAt(0)).toBe(-1);
  });

  it('a refused mapping leaves the BAR unmapped without throwing, and is retried on the next change', () => {
    const { f, mapper } = attached();
    mapper.busyIo = [{ base: 0x2000, size: 0x100 }];
    f.cfgWrite(R.PCI_BAR0, 4, 0x2000);
    expect(() => f.cfgWrite(R.PCI_COMMAND, 2, R.PCI_COMMAND_IO)).not.toThrow();
    expect(f.barMappedAt(0)).toBe(-1);
    f.cfgWrite(R.PCI_BAR0, 4, 0x1_0000); // above the 64 KiB port space
    expect(f.barMappedAt(0)).toBe(-1);
    f.cfgWrite(R.PCI_BAR0, 4, 0x4000);
    expect(f.barMappedAt(0)).toBe(0x4000);
  });
});

describe('capability list (PCI 3.0 6.7)', () => {
  it('Capabilities List status bit, pointer chain, dword alignment, last next = 0', () => {
    const f = new TestFunction({ msi: { vectors: 4, addr64: true, perVectorMask: true }, msixVectors: 8 });
    const extra = f.vendorCap(5);
    expect(f.cfgRead(R.PCI_STATUS, 2) & R.PCI_STATUS_CAP_LIST).toBe(R.PCI_STATUS_CAP_LIST);
    const ids: number[] = [];
    const offsets: number[] = [];
    let p = f.cfgRead(R.PCI_CAPABILITY_LIST, 1);
    while (p !== 0 && ids.length < 48) {
      expect(p & 3).toBe(0);
      expect(p).toBeGreaterThanOrEqual(0x40);
      offsets.push(p);
      ids.push(f.cfgRead(p, 1));
      p = f.cfgRead(p + 1, 1);
    }
    expect(ids).toEqual([R.PCI_CAP_ID_MSI, R.PCI_CAP_ID_MSIX, R.PCI_CAP_ID_VENDOR]);
    expect(offsets[2]).toBe(extra);
    // The pointers themselves are read-only.
    f.cfgWrite(R.PCI_CAPABILITY_LIST, 1, 0x80);
    f.cfgWrite(offsets[0], 2, 0xffff);
    expect(f.cfgRead(R.PCI_CAPABILITY_LIST, 1)).toBe(offsets[0]);
    expect(f.cfgRead(offsets[0], 2)).toBe(R.PCI_CAP_ID_MSI | (offsets[1] << 8));
  });

  it('a function without capabilities has the status bit clear and pointer 0', () => {
    const f = new TestFunction();
    expect(f.cfgRead(R.PCI_STATUS, 2) & R.PCI_STATUS_CAP_LIST).toBe(0);
    expect(f.cfgRead(R.PCI_CAPABILITY_LIST, 1)).toBe(0);
  });
});

describe('INTx (PCI 3.0 6.2.2 bit 10, 6.2.3 bit 3)', () => {
  it('drives the pin unless INTX_DISABLE; Interrupt Status follows the level either way', () => {
    const { f, irq } = attached();
    f.setIntx(true);
    expect(irq.intxLog).toEqual([true]);
    expect(f.cfgRead(R.PCI_STATUS, 2) & R.PCI_STATUS_INTERRUPT).toBe(R.PCI_STATUS_INTERRUPT);
    f.cfgWrite(R.PCI_COMMAND, 2, R.PCI_COMMAND_INTX_DISABLE);
    expect(irq.intxLog).toEqual([true, false]);
    expect(f.cfgRead(R.PCI_STATUS, 2) & R.PCI_STATUS_INTERRUPT).toBe(R.PCI_STATUS_INTERRUPT);
    f.setIntx(false);
    expect(f.cfgRead(R.PCI_STATUS, 2) & R.PCI_STATUS_INTERRUPT).toBe(0);
    f.setIntx(true);
    expect(irq.intxLog).toEqual([true, false]); // still disabled
    f.cfgWrite(R.PCI_COMMAND, 2, 0);
    expect(irq.intxLog).toEqual([true, false, true]); // re-enabled while pending
    // Interrupt Status is read-only: writing 1 to it does not clear or set it.
    f.cfgWrite(R.PCI_STATUS, 2, R.PCI_STATUS_INTERRUPT);
    expect(f.cfgRead(R.PCI_STATUS, 2) & R.PCI_STATUS_INTERRUPT).toBe(R.PCI_STATUS_INTERRUPT);
  });

  it('no INTx while MSI is enabled (6.8.1.3)', () => {
    const f = new TestFunction({ msi: { vectors: 1, addr64: false, perVectorMask: false } });
    const irq = new RecordingInterrupts();
    f.attach({ mapper: new RecordingMapper(), interrupts: irq });
    f.setIntx(true);
    f.cfgWrite(f.msi!.offset + 2, 2, 1);
    expect(irq.intxLog).toEqual([true, false]);
  });
});

describe('hostile configuration writes', () => {
  it('garbage at every offset and size never throws and keeps the read-only fields', () => {
    const { f } = attached({ msi: { vectors: 32, addr64: true, perVectorMask: true }, msixVectors: 3 });
    let x = 0x12345678;
    const next = () => (x = (Math.imul(x, 1103515245) + 12345) >>> 0);
    for (let i = 0; i < 5000; i++) {
      const size = [1, 2, 4, 3, 8, 0][next() % 6];
      const off = next() % 300 - 20;
      expect(() => f.cfgWrite(off, size, next())).not.toThrow();
      expect(() => f.cfgRead(off, size)).not.toThrow();
    }
    expect(f.cfgRead(0, 4)).toBe(0x1234_1af4);
    expect(f.cfgRead(R.PCI_INTERRUPT_PIN, 1)).toBe(1);
    const v = f.cfgRead(0xfe, 4);
    expect(Number.isInteger(v)).toBe(true);
  });

  it('reset restores power-on config space and unmaps BARs', () => {
    const { f, mapper } = attached();
    f.cfgWrite(R.PCI_BAR0, 4, 0x2000);
    f.cfgWrite(R.PCI_COMMAND, 2, R.PCI_COMMAND_IO);
    expect(mapper.io.size).toBe(1);
    f.reset();
    expect(f.cfgRead(R.PCI_BAR0, 4)).toBe(1);
    expect(f.cfgRead(R.PCI_COMMAND, 2)).toBe(0);
    expect(mapper.io.size).toBe(0);
  });

  it('saveState/loadState round-trips and restores mappings', () => {
    const a = attached({ msixVectors: 2 });
    a.f.cfgWrite(R.PCI_BAR0, 4, 0x2400);
    a.f.cfgWrite(R.PCI_COMMAND, 2, R.PCI_COMMAND_IO);
    a.f.setIntx(true);
    const s = JSON.parse(JSON.stringify(a.f.saveState()));
    const b = attached({ msixVectors: 2 });
    b.f.loadState(s);
    expect(b.f.saveState()).toEqual(a.f.saveState());
    expect([...b.mapper.io]).toEqual([[0x2400, 32]]);
    expect(b.irq.intxLog).toEqual([true]);
    expect(() => b.f.loadState({ config: [1, 2] })).toThrow(TypeError);
  });
});

// MSI (PCI Local Bus 3.0, 6.8.1), MSI-X (6.8.2) and the decoding of messages into APIC messages
// (Intel SDM vol. 3, 11.11.1 message address, 11.11.2 message data).
import { describe, expect, it } from 'vitest';
import { DeliveryMode } from '../../machine/irq.js';
import * as R from './pci-config.js';
import { msiToApicMessage } from './msi.js';
import { MSIX_CTRL_ENABLE, MSIX_CTRL_FUNCTION_MASK } from './msix.js';
import { RecordingInterrupts, RecordingMapper, TestFunction, type TestFunctionOptions } from './test-function.js';

function make(opts: TestFunctionOptions) {
  const f = new TestFunction(opts);
  const irq = new RecordingInterrupts();
  f.attach({ mapper: new RecordingMapper(), interrupts: irq });
  f.cfgWrite(R.PCI_COMMAND, 2, R.PCI_COMMAND_MASTER);
  return { f, irq };
}

describe('MSI capability (6.8.1)', () => {
  it('64-bit layout: control bits, address, upper address, data; read-only capability fields', () => {
    const { f } = make({ msi: { vectors: 8, addr64: true, perVectorMask: true } });
    const c = f.msi!.offset;
    // Message Control: MMC = 3 (8 vectors) in 3:1, 64-bit (bit 7), per-vector masking (bit 8).
    expect(f.cfgRead(c + 2, 2)).toBe((3 << 1) | 0x80 | 0x100);
    f.cfgWrite(c + 2, 2, 0xffff);
    expect(f.cfgRead(c + 2, 2)).toBe((3 << 1) | 0x80 | 0x100 | 1 | (7 << 4)); // only enable + MME are writable
    f.cfgWrite(c + 4, 4, 0xffffffff);
    expect(f.cfgRead(c + 4, 4)).toBe(0xfffffffc); // address bits 1:0 are 0
    f.cfgWrite(c + 8, 4, 0x12345678);
    expect(f.cfgRead(c + 8, 4)).toBe(0x12345678);
    f.cfgWrite(c + 0xc, 4, 0xffffffff);
    expect(f.cfgRead(c + 0xc, 4)).toBe(0xffff); // 16-bit data; 0xe-0xf reserved
    f.cfgWrite(c + 0x10, 4, 0xffffffff);
    expect(f.cfgRead(c + 0x10, 4)).toBe(0xff); // mask bits of the 8 implemented vectors
    f.cfgWrite(c + 0x14, 4, 0xffffffff);
    expect(f.cfgRead(c + 0x14, 4)).toBe(0); // pending bits are read-only
  });

  it('sends address/data with the vector in the low data bits; nothing while disabled or bus mastering is off', () => {
    const { f, irq } = make({ msi: { vectors: 4, addr64: false, perVectorMask: false } });
    const c = f.msi!.offset;
    f.cfgWrite(c + 4, 4, 0xfee0_1000);
    f.cfgWrite(c + 8, 2, 0x4030);
    f.msi!.notify(0);
    expect(irq.msis).toEqual([]);
    f.cfgWrite(c + 2, 2, 1 | (2 << 4)); // enable, 4 vectors granted
    f.msi!.notify(2);
    expect(irq.msis).toEqual([[0xfee0_1000, 0, 0x4032]]);
    f.cfgWrite(c + 2, 2, 1 | (1 << 4)); // only 2 vectors granted: vector 3 folds to 1
    f.msi!.notify(3);
    expect(irq.msis[1]).toEqual([0xfee0_1000, 0, 0x4031]);
    f.cfgWrite(R.PCI_COMMAND, 2, 0);
    f.msi!.notify(0);
    expect(irq.msis.length).toBe(2);
  });

  it('per-vector mask holds the message as pending; unmasking sends it (6.8.1.8-9)', () => {
    const { f, irq } = make({ msi: { vectors: 2, addr64: true, perVectorMask: true } });
    const c = f.msi!.offset;
    f.cfgWrite(c + 4, 4, 0xfee0_0000);
    f.cfgWrite(c + 0xc, 2, 0x0050);
    f.cfgWrite(c + 0x10, 4, 0b10); // mask vector 1
    f.cfgWrite(c + 2, 2, 1 | (1 << 4));
    f.msi!.notify(1);
    expect(irq.msis).toEqual([]);
    expect(f.cfgRead(c + 0x14, 4)).toBe(0b10);
    f.cfgWrite(c + 0x10, 4, 0);
    expect(irq.msis).toEqual([[0xfee0_0000, 0, 0x51]]);
    expect(f.cfgRead(c + 0x14, 4)).toBe(0);
  });
});

describe('MSI-X (6.8.2)', () => {
  function msix(vectors = 4) {
    const m = make({ msixVectors: vectors });
    const bar = m.f.msix!;
    const c = bar.offset;
    const enable = (ctrl: number) => m.f.cfgWrite(c + 2, 2, ctrl);
    const entry = (v: number, lo: number, data: number, masked: boolean) => {
      bar.write(v * 16, 4, lo);
      bar.write(v * 16 + 4, 4, 0);
      bar.write(v * 16 + 8, 4, data);
      bar.write(v * 16 + 12, 4, masked ? 1 : 0);
    };
    return { ...m, bar, c, enable, entry };
  }

  it('capability: table size N-1, BIR/offsets read-only; entries start masked (6.8.2.3-6.8.2.9)', () => {
    const { f, bar, c } = msix(4);
    expect(f.cfgRead(c, 1)).toBe(R.PCI_CAP_ID_MSIX);
    expect(f.cfgRead(c + 2, 2)).toBe(3);
    expect(f.cfgRead(c + 4, 4)).toBe(0 | 2); // table at offset 0 of BAR 2
    expect(f.cfgRead(c + 8, 4)).toBe(64 | 2); // PBA after the 4 entries
    f.cfgWrite(c + 4, 4, 0xffffffff);
    f.cfgWrite(c + 2, 2, 0x07ff);
    expect(f.cfgRead(c + 4, 4)).toBe(2);
    expect(f.cfgRead(c + 2, 2)).toBe(3);
    for (let v = 0; v < 4; v++) expect(bar.read(v * 16 + 12, 4)).toBe(1);
    // Reserved bits of Vector Control and address bits 1:0 read 0.
    bar.write(12, 4, 0xffffffff);
    expect(bar.read(12, 4)).toBe(1);
    bar.write(0, 4, 0xfee0_0003);
    expect(bar.read(0, 4)).toBe(0xfee0_0000);
    // Byte and word accesses inside an entry.
    bar.write(8, 1, 0x41);
    bar.write(9, 1, 0x00);
    expect(bar.read(8, 2)).toBe(0x0041);
  });

  it('delivers unmasked vectors; vector mask and function mask set the PBA bit; unmasking delivers', () => {
    const { f, irq, bar, enable, entry } = msix(4);
    entry(0, 0xfee0_0000, 0x30, false);
    entry(1, 0xfee0_1000, 0x31, true);
    bar.notify(0);
    expect(irq.msis).toEqual([]); // MSI-X not enabled
    enable(MSIX_CTRL_ENABLE);
    bar.notify(0);
    expect(irq.msis).toEqual([[0xfee0_0000, 0, 0x30]]);
    bar.notify(1);
    expect(irq.msis.length).toBe(1);
    expect(bar.read(64, 4)).toBe(0b10); // PBA bit 1
    bar.write(64, 4, 0); // PBA is read-only
    expect(bar.read(64, 4)).toBe(0b10);
    bar.write(16 + 12, 4, 0); // unmask vector 1
    expect(irq.msis[1]).toEqual([0xfee0_1000, 0, 0x31]);
    expect(bar.read(64, 4)).toBe(0);
    enable(MSIX_CTRL_ENABLE | MSIX_CTRL_FUNCTION_MASK);
    bar.notify(0);
    bar.notify(1);
    expect(irq.msis.length).toBe(2);
    expect(bar.read(64, 4)).toBe(0b11);
    enable(MSIX_CTRL_ENABLE);
    expect(irq.msis.slice(2)).toEqual([[0xfee0_0000, 0, 0x30], [0xfee0_1000, 0, 0x31]]);
    bar.notify(99); // out of range: ignored
    bar.notify(-1);
    expect(irq.msis.length).toBe(4);
    expect(f.msix!.enabled).toBe(true);
  });

  it('no INTx while MSI-X is enabled (6.8.2.3)', () => {
    const { f, irq, enable } = msix(1);
    f.setIntx(true);
    enable(MSIX_CTRL_ENABLE);
    enable(0);
    expect(irq.intxLog).toEqual([true, false, true]);
  });

  it('hostile table accesses never throw and stay inside the table', () => {
    const { bar } = msix(3);
    for (let off = -8; off < 8192; off += 3) {
      for (const size of [1, 2, 4, 8, 0]) {
        expect(() => bar.write(off, size, 0xdeadbeef)).not.toThrow();
        expect(Number.isFinite(bar.read(off, size))).toBe(true);
      }
    }
  });
});

describe('msiToApicMessage (SDM vol. 3, 11.11)', () => {
  it('decodes destination, vector, delivery mode, trigger and level', () => {
    expect(msiToApicMessage(0xfee0_3000, 0, 0x0041)).toEqual({
      vector: 0x41, deliveryMode: DeliveryMode.Fixed, logical: false, dest: 3, levelTriggered: false, assert: true, shorthand: 0, source: -1,
    });
    // RH=1, DM=1: logical; lowest priority; level-triggered assert.
    const m = msiToApicMessage(0xfee0_f00c, 0, 0xc1a0)!;
    expect([m.dest, m.logical, m.deliveryMode, m.vector, m.levelTriggered, m.assert]).toEqual([0x0f, true, DeliveryMode.LowestPriority, 0xa0, true, true]);
    // DM=1 with RH=0 (what Linux writes in flat logical mode): still the logical destination;
    // RH=0 only rules out lowest-priority redirection (11.11.1). DM=0 with RH=1: physical.
    expect(msiToApicMessage(0xfee0_1004, 0, 0x30)!.logical).toBe(true);
    expect(msiToApicMessage(0xfee0_1004, 0, 0x30)!.dest).toBe(1);
    expect(msiToApicMessage(0xfee0_1008, 0, 0x30)!.logical).toBe(false);
    // Level-triggered deassert (bit 14 clear); edge messages always assert.
    expect(msiToApicMessage(0xfee0_0000, 0, 0x8030)!.assert).toBe(false);
    expect(msiToApicMessage(0xfee0_0000, 0, 0x0030)!.assert).toBe(true);
    expect(msiToApicMessage(0xfee0_0000, 0, 0x0400)!.deliveryMode).toBe(DeliveryMode.Nmi);
    expect(msiToApicMessage(0xfee0_0000, 0, 0x0700)!.deliveryMode).toBe(DeliveryMode.ExtInt);
  });

  it('rejects writes outside 0xFEEx_xxxx and reserved delivery modes', () => {
    expect(msiToApicMessage(0xfed0_0000, 0, 0x30)).toBeNull();
    expect(msiToApicMessage(0xfee0_0000, 1, 0x30)).toBeNull();
    expect(msiToApicMessage(0x1000, 0, 0x30)).toBeNull();
    expect(msiToApicMessage(0xfee0_0000, 0, 0x0330)).toBeNull();
    expect(msiToApicMessage(0xfee0_0000, 0, 0x0630)).toBeNull();
  });
});

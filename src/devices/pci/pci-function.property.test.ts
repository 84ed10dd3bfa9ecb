// fast-check properties: a hostile driver's arbitrary configuration and MSI-X table traffic
// against a PciFunction with every feature. Whatever the sequence, the host never throws, the
// read-only header stays (PCI 3.0 6.2.1), BARs keep their type bits and size alignment
// (6.2.5.1), mappings follow COMMAND decode exactly, INTx obeys INTX_DISABLE / MSI / MSI-X
// enable (6.2.2, 6.8.1.3, 6.8.2.3), and no message leaves with bus mastering off.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import * as R from './pci-config.js';
import { RecordingInterrupts, RecordingMapper, TestFunction } from './test-function.js';

type Op =
  | { k: 'cfg'; off: number; size: number; value: number }
  | { k: 'table'; off: number; size: number; value: number }
  | { k: 'notify'; msi: boolean; v: number }
  | { k: 'intx'; level: boolean };

const interesting = fc.constantFrom(0x04, 0x06, 0x10, 0x14, 0x18, 0x1c, 0x3c, 0x40, 0x42, 0x44, 0x48, 0x4c, 0x50, 0x54, 0x58, 0x5a, 0x5c, 0x60);
const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ k: fc.constant('cfg' as const), off: fc.oneof(interesting, fc.integer({ min: -4, max: 260 })), size: fc.constantFrom(1, 2, 4, 3, 8), value: fc.oneof(fc.constantFrom(0, 0xffffffff, 7, 0x8000), fc.integer({ min: 0, max: 0xffffffff })) }),
  fc.record({ k: fc.constant('table' as const), off: fc.integer({ min: -8, max: 4200 }), size: fc.constantFrom(1, 2, 4, 8), value: fc.integer({ min: 0, max: 0xffffffff }) }),
  fc.record({ k: fc.constant('notify' as const), msi: fc.boolean(), v: fc.integer({ min: -2, max: 40 }) }),
  fc.record({ k: fc.constant('intx' as const), level: fc.boolean() }),
);

describe('PciFunction under arbitrary driver traffic (properties)', () => {
  it('keeps the header, BAR and interrupt invariants', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 120 }), (ops) => {
        const f = new TestFunction({ msi: { vectors: 4, addr64: true, perVectorMask: true }, msixVectors: 5 });
        const mapper = new RecordingMapper();
        const irq = new RecordingInterrupts();
        f.attach({ mapper, interrupts: irq });
        let level = false;
        for (const o of ops) {
          const sentBefore = irq.msis.length;
          const master = f.busMaster();
          if (o.k === 'cfg') f.cfgWrite(o.off, o.size, o.value);
          else if (o.k === 'table') {
            f.msix!.write(o.off, o.size, o.value);
            expect(Number.isFinite(f.msix!.read(o.off, o.size))).toBe(true);
          } else if (o.k === 'notify') {
            if (o.msi) f.msi!.notify(o.v);
            else f.msix!.notify(o.v);
            if (!master) expect(irq.msis.length).toBe(sentBefore);
          } else {
            level = o.level;
            f.setIntx(level);
          }
          // Header identity (read-only).
          expect(f.cfgRead(0, 4)).toBe(0x1234_1af4);
          expect(f.cfgRead(R.PCI_INTERRUPT_PIN, 1)).toBe(1);
          // BAR type bits and alignment.
          const bar0 = f.cfgRead(R.PCI_BAR0, 4);
          expect(bar0 & 3).toBe(1);
          expect(bar0 & 0x1c).toBe(0);
          const bar1 = f.cfgRead(R.PCI_BAR0 + 4, 4);
          expect(bar1 & 0xfff).toBe(R.PCI_BAR_MEM_PREFETCH);
          // Mappings follow decode exactly (the recording mapper refuses only > 64 KiB ports).
          const cmd = f.cfgRead(R.PCI_COMMAND, 2);
          expect(cmd & ~R.PCI_COMMAND_WRITABLE).toBe(0);
          const ioOn = (cmd & R.PCI_COMMAND_IO) !== 0;
          expect(f.barMappedAt(0)).toBe(ioOn && f.barAddress(0) + 32 <= 0x10000 ? f.barAddress(0) : -1);
          expect(f.barMappedAt(1)).toBe((cmd & R.PCI_COMMAND_MEMORY) !== 0 ? f.barAddress(1) : -1);
          expect(mapper.io.size).toBe(f.barMappedAt(0) >= 0 ? 1 : 0);
          // INTx: status follows the level; the pin also needs INTx enabled and no MSI / MSI-X.
          const st = f.cfgRead(R.PCI_STATUS, 2);
          expect((st & R.PCI_STATUS_INTERRUPT) !== 0).toBe(level);
          const out = level && (cmd & R.PCI_COMMAND_INTX_DISABLE) === 0 && !f.msi!.enabled && !f.msix!.enabled;
          expect(f.intxAsserted).toBe(out);
          expect(irq.intxLog.length === 0 ? false : irq.intxLog[irq.intxLog.length - 1]).toBe(out);
        }
        // Every message that left was a dword-aligned address.
        for (const [lo] of irq.msis) expect(lo & 3).toBe(0);
      }),
      { numRuns: 300, seed: 0x5eed },
    );
  });
});

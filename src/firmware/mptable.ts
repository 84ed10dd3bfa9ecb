// The MultiProcessor Specification 1.4 tables: the MP Floating Pointer Structure (4.1,
// Table 4-1) followed by the MP Configuration Table (4.2, Table 4-2) and its base entries
// (4.3), in the spec's order: processors, buses, I/O APICs, I/O interrupts, local interrupts.
// Linux with CONFIG_X86_MPPARSE off ignores it; older and other kernels use it for SMP.

import { ByteWriter } from './bytes.js';
import { apicIdsOf, pciRootsOf, type PlatformDescription, type Polarity, type Trigger } from './platform-description.js';

export const MP_SPEC_REV = 4; // version 1.4
const ENTRY_PROCESSOR = 0;
const ENTRY_BUS = 1;
const ENTRY_IOAPIC = 2;
const ENTRY_IO_INTERRUPT = 3;
const ENTRY_LOCAL_INTERRUPT = 4;
/** Interrupt types (Table 4-8). */
export const MP_INT = 0;
export const MP_NMI = 1;
export const MP_EXTINT = 3;
const CPU_ENABLED = 1;
const CPU_BOOTSTRAP = 2;
const FLOATING_POINTER_LENGTH = 16;

/** I/O and local interrupt flags (Table 4-10): PO bits 1:0, EL bits 3:2 (same coding as ACPI's). */
function mpFlags(polarity: Polarity, trigger: Trigger): number {
  const p = polarity === 'conforming' ? 0 : polarity === 'high' ? 1 : 3;
  const t = trigger === 'conforming' ? 0 : trigger === 'edge' ? 1 : 3;
  return p | (t << 2);
}

/** The floating pointer at `base` (16-byte aligned), the configuration table right after it. */
export function buildMpTable(d: PlatformDescription, base: number): Uint8Array {
  if (base % 16 !== 0) throw new Error(`MP table base 0x${base.toString(16)} is not 16-byte aligned`);
  const configAt = base + FLOATING_POINTER_LENGTH;
  const w = new ByteWriter();
  // 4.1: signature, config table pointer, length in 16-byte units, revision, checksum,
  // feature byte 1 = 0 (a configuration table is present), byte 2 bit 7 IMCRP = 0 (virtual
  // wire mode: no IMCR to program).
  w.fixedAscii('_MP_', 4).u32(configAt).u8(1).u8(MP_SPEC_REV).u8(0).u8(0).u8(0).zeros(3);
  w.patchChecksum(10, 0, FLOATING_POINTER_LENGTH);

  const t = new ByteWriter();
  t.fixedAscii('PCMP', 4).u16(0).u8(MP_SPEC_REV).u8(0);
  t.fixedAscii(d.oemId, 8).fixedAscii(d.oemTableId, 12);
  t.u32(0).u16(0); // OEM table pointer and size: none
  t.u16(0); // entry count, patched below
  t.u32(d.lapic.address).u16(0).u8(0).u8(0); // extended table length/checksum: no extended entries
  let entries = 0;

  apicIdsOf(d).forEach((apicId, i) => {
    if (apicId > 0xfe) return; // an 8-bit field; 0xff means "all"
    t.u8(ENTRY_PROCESSOR).u8(apicId).u8(d.lapic.version).u8(CPU_ENABLED | (i === 0 ? CPU_BOOTSTRAP : 0));
    t.u32(d.cpuid1.eax).u32(d.cpuid1.edx).zeros(8);
    entries++;
  });
  // Bus IDs (4.3.2): a PCI bus's ID is its bus number; ISA takes the lowest ID left.
  const pciBuses = d.pci ? pciRootsOf(d.pci).map((r) => r.bus) : [];
  let isaBus = 0;
  while (pciBuses.includes(isaBus)) isaBus++;
  const buses = [...pciBuses.map((id) => ({ id, type: 'PCI' })), { id: isaBus, type: 'ISA' }].sort((a, b) => a.id - b.id);
  for (const b of buses) {
    t.u8(ENTRY_BUS).u8(b.id).fixedAscii(b.type, 6);
    entries++;
  }
  t.u8(ENTRY_IOAPIC).u8(d.ioapic.id).u8(d.ioapic.version).u8(1).u32(d.ioapic.address);
  entries++;

  const ioInt = (type: number, flags: number, bus: number, busIrq: number, pin: number) => {
    t.u8(ENTRY_IO_INTERRUPT).u8(type).u16(flags).u8(bus).u8(busIrq).u8(d.ioapic.id).u8(pin);
    entries++;
  };
  // INTIN0 carries the 8259's INTR (the MP spec's default configurations, 5.3).
  ioInt(MP_EXTINT, 0, isaBus, 0, 0);
  for (let irq = 0; irq < 16; irq++) {
    if (irq === 2) continue; // the cascade: no device interrupt
    const o = d.isaOverrides.find((x) => x.isaIrq === irq);
    const pin = o ? o.gsi : irq;
    if (pin >= d.ioapic.pins) continue;
    ioInt(MP_INT, o ? mpFlags(o.polarity, o.trigger) : 0, isaBus, irq, pin);
  }
  if (d.pci) {
    // PCI source bus IRQ (4.3.4): bits 1:0 the INTx pin, bits 6:2 the device number.
    for (const r of d.pci.routes) {
      if (r.gsi >= d.ioapic.pins) continue;
      ioInt(MP_INT, mpFlags('low', 'level'), r.bus ?? 0, ((r.slot & 0x1f) << 2) | (r.pin & 3), r.gsi);
    }
  }
  // LINT0 of every local APIC (0xff) is ExtINT, LINT1 is NMI.
  t.u8(ENTRY_LOCAL_INTERRUPT).u8(MP_EXTINT).u16(0).u8(isaBus).u8(0).u8(0xff).u8(0);
  t.u8(ENTRY_LOCAL_INTERRUPT).u8(MP_NMI).u16(0).u8(isaBus).u8(0).u8(0xff).u8(1);
  entries += 2;

  t.patchU16(4, t.length);
  t.patchU16(34, entries);
  t.patchChecksum(7, 0, t.length);
  w.bytes(t.toBytes());
  return w.toBytes();
}

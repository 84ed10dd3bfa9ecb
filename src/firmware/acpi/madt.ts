// MADT (ACPI 6.5, 5.2.12, Table 5.19): one Processor Local APIC (5.2.12.2) or Processor Local
// x2APIC (5.2.12.12) structure per vCPU in APIC ID order, the I/O APIC (5.2.12.3), the ISA
// interrupt source overrides (5.2.12.5) and the LINT1 NMI (5.2.12.7 / 5.2.12.13).

import type { ByteWriter } from '../bytes.js';
import { apicIdsOf, type PlatformDescription, type Polarity, type Trigger } from '../platform-description.js';
import { finishSdt, startSdt } from './sdt.js';

/** Revision 5 (ACPI 6.3 on): the Online Capable flag exists; we leave it 0 (all CPUs enabled). */
export const MADT_REVISION = 5;
export const MADT_PCAT_COMPAT = 1;

export const MADT_LOCAL_APIC = 0;
export const MADT_IO_APIC = 1;
export const MADT_INTERRUPT_SOURCE_OVERRIDE = 2;
export const MADT_LOCAL_APIC_NMI = 4;
export const MADT_LOCAL_X2APIC = 9;
export const MADT_LOCAL_X2APIC_NMI = 0xa;

const LAPIC_ENABLED = 1;
/** The LINT input the NMI is wired to on a PC (LINT0 is ExtINT from the 8259). */
const NMI_LINT = 1;

/** MPS INTI flags (Table 5.26): polarity bits 1:0, trigger mode bits 3:2. */
export function intiFlags(polarity: Polarity, trigger: Trigger): number {
  const p = polarity === 'conforming' ? 0 : polarity === 'high' ? 1 : 3;
  const t = trigger === 'conforming' ? 0 : trigger === 'edge' ? 1 : 3;
  return p | (t << 2);
}

export function buildMadt(d: PlatformDescription): Uint8Array {
  const w = startSdt('APIC', MADT_REVISION, d);
  w.u32(d.lapic.address).u32(MADT_PCAT_COMPAT);
  const ids = apicIdsOf(d);
  // ACPI Processor UID = vCPU index: the DSDT's ACPI0007 devices carry the same _UID.
  ids.forEach((apicId, uid) => {
    if (d.x2apic) w.u8(MADT_LOCAL_X2APIC).u8(16).u16(0).u32(apicId).u32(LAPIC_ENABLED).u32(uid);
    else w.u8(MADT_LOCAL_APIC).u8(8).u8(uid).u8(apicId).u32(LAPIC_ENABLED);
  });
  w.u8(MADT_IO_APIC).u8(12).u8(d.ioapic.id).u8(0).u32(d.ioapic.address).u32(d.ioapic.gsiBase);
  for (const o of d.isaOverrides) {
    w.u8(MADT_INTERRUPT_SOURCE_OVERRIDE).u8(10).u8(0 /* ISA */).u8(o.isaIrq).u32(o.gsi).u16(intiFlags(o.polarity, o.trigger));
  }
  writeNmi(w, d.x2apic);
  return finishSdt(w);
}

/** LINT1 is the NMI input of every processor (UID "all"), edge-triggered, active high. */
function writeNmi(w: ByteWriter, x2apic: boolean): void {
  const flags = intiFlags('high', 'edge');
  if (x2apic) w.u8(MADT_LOCAL_X2APIC_NMI).u8(12).u16(flags).u32(0xffff_ffff).u8(NMI_LINT).zeros(3);
  else w.u8(MADT_LOCAL_APIC_NMI).u8(6).u8(0xff).u16(flags).u8(NMI_LINT);
}

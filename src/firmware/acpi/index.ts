// Lays the ACPI tables out from `base` up: RSDP (16-byte aligned, inside the 0xe0000-0xfffff
// window the OS scans, ACPI 6.5 5.2.5.1), RSDT, XSDT, FADT, FACS (64-byte aligned, 5.2.10),
// MADT, HPET, DSDT. Returns the image and where each table went.

import type { PlatformDescription } from '../platform-description.js';
import { buildDsdt } from './dsdt.js';
import { buildFacs, buildFadt } from './fadt.js';
import { buildHpetTable } from './hpet.js';
import { buildMadt } from './madt.js';
import { buildRsdp, buildRsdt, buildXsdt, RSDP_LENGTH } from './rsdp.js';

export interface AcpiImage {
  base: number;
  bytes: Uint8Array;
  /** Guest-physical address of each table by signature ("RSD PTR " for the RSDP). */
  tables: Record<string, number>;
}

const align = (v: number, a: number) => Math.ceil(v / a) * a;

export function buildAcpi(d: PlatformDescription, base: number): AcpiImage {
  if (base % 16 !== 0) throw new Error(`ACPI base 0x${base.toString(16)} is not 16-byte aligned`);
  const facs = buildFacs();
  const madt = buildMadt(d);
  const hpet = d.hpet ? buildHpetTable(d, d.hpet) : null;
  const dsdt = buildDsdt(d);
  const described = hpet ? 3 : 2; // FADT, MADT (, HPET): what the RSDT/XSDT list

  // Addresses first (every size but the FADT's pointers is known), then the bytes.
  let at = base + align(RSDP_LENGTH, 16);
  const rsdtAt = at;
  at = align(at + 36 + 4 * described, 16);
  const xsdtAt = at;
  at = align(at + 36 + 8 * described, 16);
  const fadtAt = at;
  at = align(at + 276, 64);
  const facsAt = at;
  at = align(at + facs.length, 16);
  const madtAt = at;
  at = align(at + madt.length, 16);
  const hpetAt = hpet ? at : 0;
  if (hpet) at = align(at + hpet.length, 16);
  const dsdtAt = at;
  at += dsdt.length;

  const fadt = buildFadt(d, facsAt, dsdtAt);
  const listed = hpet ? [fadtAt, madtAt, hpetAt] : [fadtAt, madtAt];
  const rsdt = buildRsdt(d, listed);
  const xsdt = buildXsdt(d, listed);
  const rsdp = buildRsdp(d, rsdtAt, xsdtAt);

  const bytes = new Uint8Array(at - base);
  const place = (addr: number, data: Uint8Array) => bytes.set(data, addr - base);
  place(base, rsdp);
  place(rsdtAt, rsdt);
  place(xsdtAt, xsdt);
  place(fadtAt, fadt);
  place(facsAt, facs);
  place(madtAt, madt);
  if (hpet) place(hpetAt, hpet);
  place(dsdtAt, dsdt);
  const tables: Record<string, number> = { 'RSD PTR ': base, RSDT: rsdtAt, XSDT: xsdtAt, FACP: fadtAt, FACS: facsAt, APIC: madtAt, DSDT: dsdtAt };
  if (hpet) tables.HPET = hpetAt;
  return { base, bytes, tables };
}

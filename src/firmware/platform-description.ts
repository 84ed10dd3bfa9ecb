// What the firmware tables describe, as plain data. The machine (src/machine/platform.ts)
// fills it from src/machine/platform-layout.ts and the run configuration; the builders here
// import nothing from the machine or the devices, so the tables are a pure function of this.

import { createHash } from 'node:crypto';

/** MPS INTI flags (ACPI 6.5 Table 5.26, MP spec 1.4 Table 4-10): polarity and trigger mode. */
export type Polarity = 'conforming' | 'high' | 'low';
export type Trigger = 'conforming' | 'edge' | 'level';

export interface IsaOverride {
  /** ISA IRQ (the MADT's "Source"). */
  isaIrq: number;
  gsi: number;
  polarity: Polarity;
  trigger: Trigger;
}

export interface PciRoute {
  /** PCI bus (default 0): bus 0 or one of `pci.otherRoots`. */
  bus?: number;
  /** Device number (0-31). */
  slot: number;
  /** INTA#..INTD# as 0..3. */
  pin: number;
  /** IOAPIC input in APIC mode. */
  gsi: number;
  /** 8259 IRQ in PIC mode. */
  isaIrq: number;
}

export interface PciRootBus {
  bus: number;
  ioWindow: [number, number];
  mmioWindow: [number, number];
}

export interface PlatformDescription {
  /** vCPUs, 1-16 (bhyve's limit); APIC IDs are `apicIds` or 0..vcpus-1. */
  vcpus: number;
  apicIds?: readonly number[];
  /** -c sockets/cores/threads (SMBIOS type 4 is one structure per socket). Default 1 socket. */
  topology?: { sockets: number; cores: number; threads: number };
  /** MADT Processor Local x2APIC structures instead of Processor Local APIC ones (-x). */
  x2apic: boolean;
  ramBytes: number;
  /** CPUID leaf 1 EAX (signature) and EDX (features): MP processor entries, SMBIOS type 4. */
  cpuid1: { eax: number; edx: number };
  /** CPUID leaf 0 vendor string (SMBIOS type 4 manufacturer). */
  cpuVendor: string;
  lapic: { address: number; version: number };
  ioapic: { id: number; address: number; gsiBase: 0; pins: number; version: number };
  /** IRQ0 -> GSI 2 edge/high; SCI level/low. */
  isaOverrides: readonly IsaOverride[];
  /** `blockId` is the low 32 bits of the HPET's GCAP_ID register (IA-PC HPET 1.0a, 3.2.4). */
  hpet: { address: number; blockId: number; minimumTick: number } | null;
  pm: {
    evt: number; cnt: number; tmr: number;
    smiCmd: number; enable: number; disable: number;
    sci: number; s5: number; resetPort: number; resetValue: number;
  };
  /**
   * PCI: bus 0's root bridge (PCI0) and its windows, plus one root bridge per other bus that has
   * devices (bhyve's `-s bus:slot:function` on a bus > 0; no PCI-to-PCI bridges exist, so each
   * such bus is a root of its own). Windows are half-open [first, end) and must not overlap
   * between roots; with bus 0 alone they are PCI_IO_BASE..PCI_IO_LIMIT, PCI_MMIO_BASE..PCI_MMIO_LIMIT.
   */
  pci: {
    routes: readonly PciRoute[];
    ioWindow: [number, number];
    mmioWindow: [number, number];
    otherRoots?: readonly PciRootBus[];
  } | null;
  /** COM ports (PNP0501), in _UID order. */
  uarts: readonly { name: string; port: number; irq: number }[];
  /** CMOS RTC (PNP0B00); `centuryIndex` goes into the FADT's CENTURY field (0: none). */
  rtc: { port: number; length: number; irq: number; centuryIndex: number } | null;
  /** SMBIOS type 1 UUID, RFC 4122 text. */
  uuid: string;
  vmname: string;
  /** ACPI OEM ID (6 chars) and OEM table ID (8 chars); MP OEM/product IDs reuse them. */
  oemId: string;
  oemTableId: string;
  /** SMBIOS strings: BIOS vendor/version/release date (mm/dd/yyyy), system vendor/product. */
  biosVendor: string;
  biosVersion: string;
  biosDate: string;
  systemVendor: string;
  systemProduct: string;
  /** Where each table family goes (guest-physical, inside the BIOS area) and where the area ends. */
  areas: { mptable: number; smbios: number; acpi: number; end: number };
}

/** The 32-bit HPET block ID from the capabilities fields (IA-PC HPET 1.0a, Table 3 and 3.2.4). */
export function hpetBlockId(f: { revisionId: number; timers: number; counter64: boolean; legacyRoute: boolean; vendorId: number }): number {
  return (
    ((f.revisionId & 0xff) |
      (((f.timers - 1) & 0x1f) << 8) |
      (f.counter64 ? 1 << 13 : 0) |
      (f.legacyRoute ? 1 << 15 : 0) |
      ((f.vendorId & 0xffff) << 16)) >>>
    0
  );
}

/** APIC IDs in vCPU order. */
export function apicIdsOf(d: PlatformDescription): number[] {
  return d.apicIds ? [...d.apicIds] : Array.from({ length: d.vcpus }, (_, i) => i);
}

/**
 * hvsim's name-based UUID namespace: uuid5(NameSpace_DNS, "hvsim.invalid") (RFC 4122 4.3; the
 * .invalid TLD of RFC 2606 cannot name a real host, so it collides with nobody's namespace).
 */
export const HVSIM_UUID_NAMESPACE = 'dfd62f06-5e42-53b6-94d2-eb39410be9e4';

/** RFC 4122 4.3 name-based UUID, version 5 (SHA-1). */
export function uuidV5(namespace: string, name: string): string {
  const ns = uuidToBytes(namespace);
  const hash = createHash('sha1').update(ns).update(Buffer.from(name, 'utf8')).digest();
  const b = Uint8Array.from(hash.subarray(0, 16));
  b[6] = (b[6] & 0x0f) | 0x50; // version 5 (RFC 4122 4.1.3)
  b[8] = (b[8] & 0x3f) | 0x80; // variant 10x (RFC 4122 4.1.1)
  return uuidFromBytes(b);
}

/**
 * The default SMBIOS UUID (-U absent). bhyve hashes host name + VM name with MD5; hvsim has no
 * host name to offer (it would make runs differ between hosts), so: uuid5(HVSIM_UUID_NAMESPACE, vmname).
 */
export function uuidFromName(vmname: string): string {
  return uuidV5(HVSIM_UUID_NAMESPACE, vmname);
}

/** RFC 4122 text to its 16 bytes in network (big-endian) order. */
export function uuidToBytes(text: string): Uint8Array {
  if (!/^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/.test(text)) {
    throw new Error(`not an RFC 4122 UUID: ${text}`);
  }
  const hex = text.replace(/-/g, '');
  const out = new Uint8Array(16);
  for (let i = 0; i < 16; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

export function uuidFromBytes(b: Uint8Array): string {
  const h = Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** PCI root buses in ascending order: bus 0 (PCI0) first, then the other roots. */
export function pciRootsOf(pci: NonNullable<PlatformDescription['pci']>): PciRootBus[] {
  const roots: PciRootBus[] = [{ bus: 0, ioWindow: pci.ioWindow, mmioWindow: pci.mmioWindow }];
  for (const r of [...(pci.otherRoots ?? [])].sort((a, b) => a.bus - b.bus)) {
    if (!Number.isInteger(r.bus) || r.bus < 1 || r.bus > 0xff || roots.some((x) => x.bus === r.bus)) {
      throw new Error(`firmware: bad or repeated PCI root bus ${r.bus}`);
    }
    roots.push(r);
  }
  for (const route of pci.routes) {
    if (!roots.some((x) => x.bus === (route.bus ?? 0))) throw new Error(`firmware: INTx route on bus ${route.bus} that no root bridge describes`);
  }
  return roots;
}

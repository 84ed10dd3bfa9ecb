// Writes the firmware tables a PC BIOS leaves in memory: ACPI (-A), the MP table (unless -Y)
// and SMBIOS, each in its area of the BIOS region the description names.

import { buildAcpi } from './acpi/index.js';
import { buildMpTable } from './mptable.js';
import type { PlatformDescription } from './platform-description.js';
import { buildSmbios } from './smbios.js';

export * from './platform-description.js';
export { describePci, type IntxRouteInput, type PlacedBar } from './pci-roots.js';

export interface FirmwareOptions {
  acpi: boolean;
  mptable: boolean;
  smbios: boolean;
}

export interface FirmwareRange {
  kind: 'acpi' | 'mptable' | 'smbios';
  base: number;
  length: number;
}

export interface FirmwareResult {
  /** The ranges written (to keep out of the e820 RAM entries; all inside d.areas). */
  reserved: FirmwareRange[];
  /** Where the RSDP is (for a boot protocol that passes it), null without ACPI. */
  rsdp: number | null;
}

export interface FirmwareImage {
  kind: FirmwareRange['kind'];
  base: number;
  bytes: Uint8Array;
}

/** The images without writing them (tests and the trace digest can use this). */
export function buildFirmwareImages(d: PlatformDescription, opts: FirmwareOptions): FirmwareImage[] {
  checkDescription(d);
  const images: FirmwareImage[] = [];
  if (opts.mptable) images.push({ kind: 'mptable', base: d.areas.mptable, bytes: buildMpTable(d, d.areas.mptable) });
  if (opts.smbios) images.push({ kind: 'smbios', base: d.areas.smbios, bytes: buildSmbios(d, d.areas.smbios) });
  if (opts.acpi) images.push({ kind: 'acpi', base: d.areas.acpi, bytes: buildAcpi(d, d.areas.acpi).bytes });
  // Each area runs to the next area's start (or to the end of the BIOS region).
  const starts = [d.areas.mptable, d.areas.smbios, d.areas.acpi, d.areas.end].sort((a, b) => a - b);
  for (const img of images) {
    const limit = starts.find((s) => s > img.base) ?? d.areas.end;
    if (img.base + img.bytes.length > limit) {
      throw new Error(`firmware: the ${img.kind} tables (${img.bytes.length} bytes) do not fit below 0x${limit.toString(16)}`);
    }
  }
  return images;
}

export function writeFirmwareTables(
  mem: { writeBytes(gpa: number, data: Uint8Array): boolean },
  d: PlatformDescription,
  opts: FirmwareOptions,
): FirmwareResult {
  const images = buildFirmwareImages(d, opts);
  for (const img of images) {
    if (!mem.writeBytes(img.base, img.bytes)) {
      throw new Error(`firmware: guest memory at 0x${img.base.toString(16)} cannot hold the ${img.kind} tables`);
    }
  }
  return {
    reserved: images.map((img) => ({ kind: img.kind, base: img.base, length: img.bytes.length })),
    rsdp: opts.acpi ? d.areas.acpi : null,
  };
}

/** Configuration errors are the machine's bugs, not the guest's: fail loudly at build time. */
function checkDescription(d: PlatformDescription): void {
  if (!Number.isInteger(d.vcpus) || d.vcpus < 1 || d.vcpus > 255) throw new Error(`firmware: bad vCPU count ${d.vcpus}`);
  if (d.apicIds && d.apicIds.length !== d.vcpus) throw new Error('firmware: apicIds must list one ID per vCPU');
  if (d.ramBytes <= 0) throw new Error('firmware: no RAM');
  for (const a of [d.areas.mptable, d.areas.smbios, d.areas.acpi]) {
    if (a % 16 !== 0) throw new Error(`firmware: area 0x${a.toString(16)} is not 16-byte aligned`);
  }
}

// The PC physical memory map as firmware reports it through INT 15h, AX=E820h (ACPI
// specification, "System Address Map Interfaces"), as plain data. The multiboot loader
// turns it into the boot information's mmap_* entries; other boot protocols can reuse it.

import { LoaderError } from './errors.js';
import { describeRange, type GuestRange } from './guest-ram.js';

/** Address range types (ACPI 6.5 table 15.1; the multiboot mmap uses the same numbers). */
export const E820_RAM = 1;
export const E820_RESERVED = 2;
export const E820_ACPI = 3;
export const E820_NVS = 4;
export const E820_UNUSABLE = 5;

export interface E820Entry {
  base: number;
  length: number;
  /** E820_RAM, E820_RESERVED, E820_ACPI, E820_NVS, E820_UNUSABLE (other values: reserved). */
  type: number;
}

/** Conventional memory ends where the extended BIOS data area begins: 639 KiB. */
export const EBDA_START = 0x9fc00;
/** Start of the legacy VGA window; the EBDA runs up to it. */
export const VGA_START = 0xa0000;
/** The system BIOS ROM occupies the last 64 KiB below 1 MiB. */
export const BIOS_ROM_START = 0xf0000;
/** Extended memory starts at 1 MiB. */
export const HIGH_MEMORY_START = 0x100000;

function checkRangeArgument(r: GuestRange, what: string): void {
  if (!Number.isSafeInteger(r.base) || r.base < 0 || !Number.isSafeInteger(r.length) || r.length <= 0) {
    throw new LoaderError(
      'invalid',
      `${what} must have a non-negative integer base and a positive integer length, got base ${String(r.base)} length ${String(r.length)}.`,
    );
  }
}

/** Removes [cut.base, cut.base+cut.length) from every range in `ranges`. */
function subtract(ranges: GuestRange[], cut: GuestRange): GuestRange[] {
  const out: GuestRange[] = [];
  const cutEnd = cut.base + cut.length;
  for (const r of ranges) {
    const end = r.base + r.length;
    if (cutEnd <= r.base || cut.base >= end) {
      out.push(r);
      continue;
    }
    if (r.base < cut.base) out.push({ base: r.base, length: cut.base - r.base });
    if (cutEnd < end) out.push({ base: cutEnd, length: end - cutEnd });
  }
  return out;
}

/** Merges overlapping or touching ranges; the result is sorted by base. */
function union(ranges: GuestRange[]): GuestRange[] {
  const sorted = [...ranges].sort((a, b) => a.base - b.base);
  const out: GuestRange[] = [];
  for (const r of sorted) {
    const last = out[out.length - 1];
    if (last !== undefined && r.base <= last.base + last.length) {
      last.length = Math.max(last.length, r.base + r.length - last.base);
    } else {
      out.push({ base: r.base, length: r.length });
    }
  }
  return out;
}

/**
 * The default PC memory map for `ramSize` bytes of RAM at guest physical 0:
 *   0 - 0x9fbff          usable (conventional memory),
 *   0x9fc00 - 0x9ffff    reserved (extended BIOS data area),
 *   0xf0000 - 0xfffff    reserved (system BIOS),
 *   0x100000 - ramSize-1 usable (extended memory),
 * plus every range in `reserved` (MMIO windows such as the IOAPIC at 0xfec00000 and the
 * local APIC at 0xfee00000) as reserved; usable RAM under such a window is cut out of the
 * usable entries. The hole 0xa0000-0xeffff (VGA, option ROMs) is not listed, as on a PC.
 * Entries are sorted by base and do not overlap.
 */
export function defaultE820(ramSize: number, reserved: readonly GuestRange[] = []): E820Entry[] {
  if (!Number.isSafeInteger(ramSize) || ramSize <= 0) {
    throw new LoaderError('invalid', `The RAM size for the memory map must be a positive integer, got ${String(ramSize)}.`);
  }
  reserved.forEach((r, i) => checkRangeArgument(r, `Reserved range ${i}`));

  const firmware: GuestRange[] = [];
  if (ramSize > EBDA_START) firmware.push({ base: EBDA_START, length: VGA_START - EBDA_START });
  firmware.push({ base: BIOS_ROM_START, length: HIGH_MEMORY_START - BIOS_ROM_START });
  const holes = union([...firmware, ...reserved]);

  let usable: GuestRange[] = [{ base: 0, length: Math.min(ramSize, EBDA_START) }];
  if (ramSize > HIGH_MEMORY_START) usable.push({ base: HIGH_MEMORY_START, length: ramSize - HIGH_MEMORY_START });
  for (const h of holes) usable = subtract(usable, h);

  const entries: E820Entry[] = [
    ...usable.map((r) => ({ base: r.base, length: r.length, type: E820_RAM })),
    ...holes.map((r) => ({ base: r.base, length: r.length, type: E820_RESERVED })),
  ];
  return entries.sort((a, b) => a.base - b.base);
}

/** Validates a memory map passed in by a caller: integer fields, no overlapping entries. */
export function checkE820(map: readonly E820Entry[]): void {
  map.forEach((e, i) => {
    checkRangeArgument(e, `Memory map entry ${i}`);
    if (!Number.isInteger(e.type) || e.type < 0 || e.type > 0xffffffff) {
      throw new LoaderError('invalid', `Memory map entry ${i} has type ${String(e.type)}, which is not a 32-bit unsigned integer.`);
    }
  });
  const sorted = [...map].sort((a, b) => a.base - b.base);
  for (let k = 1; k < sorted.length; k++) {
    const a = sorted[k - 1];
    const b = sorted[k];
    if (b.base < a.base + a.length) {
      throw new LoaderError(
        'invalid',
        `Memory map entries ${describeRange(a.base, a.length)} and ${describeRange(b.base, b.length)} overlap.`,
      );
    }
  }
}

/** The usable (type 1) ranges of a map, merged where they touch, sorted by base. */
export function usableRanges(map: readonly E820Entry[]): GuestRange[] {
  return union(map.filter((e) => e.type === E820_RAM));
}

/** Bytes of usable RAM contiguous from `start` (0 if `start` is not in usable RAM). */
export function contiguousUsableFrom(map: readonly E820Entry[], start: number): number {
  for (const r of usableRanges(map)) {
    if (start >= r.base && start < r.base + r.length) return r.base + r.length - start;
  }
  return 0;
}

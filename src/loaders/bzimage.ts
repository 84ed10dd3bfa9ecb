// Linux bzImage loader: the x86 64-bit boot protocol (the kernel's
// Documentation/arch/x86/boot.rst, "64-bit BOOT PROTOCOL").
//
// The protected-mode kernel (the image from (setup_sects + 1) * 512 on) goes to pref_address;
// boot_params (the zero page), the command line, an identity map and a GDT go into low
// memory; the initrd goes as high as it can below initrd_addr_max. The CPU enters the kernel
// at load address + 0x200 in 64-bit mode with RSI = boot_params.
//
// Low memory (all below 640 KiB, usable in the e820 map; the kernel reserves the whole first
// MiB once it runs, and its decompressor's 5-level paging trampoline goes to the top of
// conventional memory, below the EBDA, saving and restoring what was there):
//   0x1000  GDT: null, null, __BOOT_CS (0x10) flat 64-bit code, __BOOT_DS (0x18) flat data
//   0x2000  PML4 (one entry), 0x3000 PDPT (four entries), 0x4000-0x7fff four page directories
//           of 2 MiB pages: the first 4 GiB identity-mapped, read/write, supervisor
//   0x9000  top of a small stack (RSP; the decompressor sets its own at once)
//   0x10000 boot_params (4 KiB)
//   0x20000 the command line (up to cmdline_size + 1 bytes)

import type { GuestMemory } from '../machine/memory.js';
import { CR0_ET, CR0_PE, EFLAGS_FIXED, type ProtectedModeEntryState, type SegmentState } from './boot-state.js';
import { checkE820, usableRanges, type E820Entry } from './e820.js';
import { LoaderError } from './errors.js';
import { checkInRam, describeRange, hex, rangesOverlap, writeGuest } from './guest-ram.js';
import {
  BOOT_PARAMS_SIZE,
  ENTRY_64_OFFSET,
  encodeBootParams,
  parseSetupHeader,
  type SetupHeader,
} from './linux-boot-params.js';

export const LINUX_GDT_ADDRESS = 0x1000;
export const LINUX_PML4_ADDRESS = 0x2000;
export const LINUX_PDPT_ADDRESS = 0x3000;
export const LINUX_PD_ADDRESS = 0x4000;
export const LINUX_STACK_TOP = 0x9000;
export const LINUX_BOOT_PARAMS_ADDRESS = 0x10000;
export const LINUX_CMDLINE_ADDRESS = 0x20000;
/** Segment selectors the 64-bit protocol requires (boot.rst): __BOOT_CS and __BOOT_DS. */
export const BOOT_CS = 0x10;
export const BOOT_DS = 0x18;

const PAGE = 0x1000;
const GiB = 0x4000_0000;
/** Identity-mapped range: the first 4 GiB (RAM, the firmware area and the MMIO windows). */
const IDENTITY_MAP_BYTES = 4 * GiB;

/** CR0.PG, CR4.PAE, EFER.LME and EFER.LMA (SDM vol. 3A 2.5, 2.2.1). */
const CR0_PG = 0x8000_0000;
const CR4_PAE = 1 << 5;
const EFER_LME = 1 << 8;
const EFER_LMA = 1 << 10;
/** Paging-structure entry bits (SDM vol. 3A 4.5): P, R/W, PS. */
const PTE_P = 1 << 0;
const PTE_RW = 1 << 1;
const PTE_PS = 1 << 7;

export interface BzImageOptions {
  /** The kernel command line (without NUL). Default "". */
  cmdline?: string;
  /** The initial ramdisk (an initramfs: concatenated cpio archives may be given as one). */
  initrd?: Uint8Array | null;
  /** The memory map; default: the caller must give it (no MMIO knowledge here). */
  e820: readonly E820Entry[];
  /** The ACPI RSDP's address for acpi_rsdp_addr (protocol 2.14+), or null. */
  acpiRsdp?: number | null;
}

export interface BzImageLoadResult {
  state: ProtectedModeEntryState;
  header: SetupHeader;
  /** Where the protected-mode kernel went, and the range it needs (init_size). */
  kernel: { address: number; size: number; initSize: number };
  bootParams: number;
  cmdline: { address: number; length: number };
  initrd: { address: number; size: number } | null;
}

const utf8 = new TextEncoder();

/** A Linux boot image: boot_flag 0xAA55 at 0x1fe and "HdrS" at 0x202 (validated by loadBzImage). */
export function isBzImage(image: Uint8Array): boolean {
  return image.length >= 0x206 && image[0x1fe] === 0x55 && image[0x1ff] === 0xaa &&
    image[0x202] === 0x48 && image[0x203] === 0x64 && image[0x204] === 0x72 && image[0x205] === 0x53;
}

/** Flat 4 GiB segments of the 64-bit entry: a 64-bit code segment (L=1, D=0) and data. */
function bootSegment(kind: 'code' | 'data'): SegmentState {
  return kind === 'code'
    ? { selector: BOOT_CS, base: 0, limit: 0xffffffff, type: 0xb, s: 1, dpl: 0, present: 1, db: 0, l: 1, g: 1 }
    : { selector: BOOT_DS, base: 0, limit: 0xffffffff, type: 0x3, s: 1, dpl: 0, present: 1, db: 1, l: 0, g: 1 };
}

/** The GDT: the descriptors matching bootSegment (SDM vol. 3A figure 3-8). */
function encodeGdt(): Uint8Array {
  const gdt = new Uint8Array(32);
  const dv = new DataView(gdt.buffer);
  // 0x10: base 0, limit 0xfffff, G=1, L=1, D=0, P=1, DPL 0, S=1, type 0xb (execute/read, accessed).
  dv.setUint32(0x10, 0x0000ffff, true);
  dv.setUint32(0x14, 0x00af9b00, true);
  // 0x18: base 0, limit 0xfffff, G=1, D/B=1, P=1, DPL 0, S=1, type 0x3 (read/write, accessed).
  dv.setUint32(0x18, 0x0000ffff, true);
  dv.setUint32(0x1c, 0x00cf9300, true);
  return gdt;
}

/** PML4 -> PDPT -> 4 page directories of 2 MiB pages, identity-mapping [0, 4 GiB). */
function encodePageTables(): Uint8Array {
  const pds = IDENTITY_MAP_BYTES / GiB;
  const t = new Uint8Array(2 * PAGE + pds * PAGE);
  const dv = new DataView(t.buffer);
  dv.setUint32(0, LINUX_PDPT_ADDRESS | PTE_P | PTE_RW, true);
  for (let i = 0; i < pds; i++) dv.setUint32(PAGE + 8 * i, (LINUX_PD_ADDRESS + i * PAGE) | PTE_P | PTE_RW, true);
  for (let i = 0; i < pds * 512; i++) {
    const pa = i * 0x20_0000; // < 4 GiB: fits the low dword
    dv.setUint32(2 * PAGE + 8 * i, (pa | PTE_P | PTE_RW | PTE_PS) >>> 0, true);
  }
  return t;
}

/**
 * Where the initrd goes: the highest page-aligned address where it lies in one usable e820
 * range, ends at or below initrd_addr_max + 1 and clears the kernel's init_size range and the
 * loader's low area (as boot loaders traditionally load it high).
 */
function placeInitrd(size: number, e820: readonly E820Entry[], hdr: SetupHeader, avoid: readonly { base: number; length: number }[]): number {
  const limit = Math.min(hdr.initrdAddrMax + 1, 0x1_0000_0000);
  const ranges = usableRanges(e820).sort((a, b) => b.base - a.base);
  for (const r of ranges) {
    let top = Math.min(r.base + r.length, limit);
    for (;;) {
      const at = Math.floor((top - size) / PAGE) * PAGE;
      if (at < r.base || at < 0) break;
      const clash = avoid.find((a) => rangesOverlap(a, { base: at, length: size }));
      if (clash === undefined) return at;
      top = clash.base;
    }
  }
  throw new LoaderError(
    'no-space',
    `The initrd (${size} bytes) does not fit in usable RAM below initrd_addr_max ${hex(hdr.initrdAddrMax)} clear of the kernel.`,
  );
}

/**
 * Load a bzImage, its command line and initrd, and return the 64-bit entry state. Everything
 * is checked before the first byte is written: a refused image leaves guest RAM untouched.
 */
export function loadBzImage(mem: GuestMemory, image: Uint8Array, options: BzImageOptions): BzImageLoadResult {
  const hdr = parseSetupHeader(image);
  checkE820(options.e820);
  const cmdlineBytes = utf8.encode(options.cmdline ?? '');
  if (cmdlineBytes.includes(0)) throw new LoaderError('invalid', 'The kernel command line contains a NUL character, which would cut the C string short.');
  if (cmdlineBytes.length > hdr.cmdlineSize) {
    throw new LoaderError('invalid', `The kernel command line is ${cmdlineBytes.length} bytes; this kernel takes at most ${hdr.cmdlineSize} (cmdline_size).`);
  }

  // The kernel at pref_address (Debian's: 16 MiB), with room for init_size.
  const kernelBytes = image.subarray(hdr.kernelOffset);
  const load = hdr.prefAddress;
  if (load < 0x100000) {
    throw new LoaderError('unsupported', `The kernel's pref_address ${hex(load)} is below 1 MiB, where this loader keeps its own structures.`);
  }
  checkInRam(mem, load, hdr.initSize, `The kernel with its init_size`);
  const kernelRange = { base: load, length: hdr.initSize };
  const inUsable = usableRanges(options.e820).some((r) => load >= r.base && load + hdr.initSize <= r.base + r.length);
  if (!inUsable) {
    throw new LoaderError('outside-ram', `The kernel with its init_size (${describeRange(load, hdr.initSize)}) does not lie in one usable range of the memory map.`);
  }

  const tables = encodePageTables();
  const low = { base: 0, length: LINUX_CMDLINE_ADDRESS + hdr.cmdlineSize + 1 };
  checkInRam(mem, LINUX_GDT_ADDRESS, 32, 'The boot GDT');
  checkInRam(mem, LINUX_PML4_ADDRESS, tables.length, 'The boot page tables');
  checkInRam(mem, LINUX_BOOT_PARAMS_ADDRESS, BOOT_PARAMS_SIZE, 'The zero page (boot_params)');
  checkInRam(mem, LINUX_CMDLINE_ADDRESS, cmdlineBytes.length + 1, 'The kernel command line');

  const initrd = options.initrd ?? null;
  let ramdisk: { address: number; size: number } | null = null;
  if (initrd !== null && initrd.length > 0) {
    const at = placeInitrd(initrd.length, options.e820, hdr, [kernelRange, low]);
    checkInRam(mem, at, initrd.length, 'The initrd');
    ramdisk = { address: at, size: initrd.length };
  }

  const bootParams = encodeBootParams(image, hdr, {
    cmdlineAddress: LINUX_CMDLINE_ADDRESS,
    ramdisk,
    e820: options.e820,
    acpiRsdp: options.acpiRsdp ?? null,
  });

  // Everything checked: write.
  writeGuest(mem, load, kernelBytes, 'The kernel');
  writeGuest(mem, LINUX_GDT_ADDRESS, encodeGdt(), 'The boot GDT');
  writeGuest(mem, LINUX_PML4_ADDRESS, tables, 'The boot page tables');
  writeGuest(mem, LINUX_BOOT_PARAMS_ADDRESS, bootParams, 'The zero page (boot_params)');
  const cmdline = new Uint8Array(cmdlineBytes.length + 1);
  cmdline.set(cmdlineBytes);
  writeGuest(mem, LINUX_CMDLINE_ADDRESS, cmdline, 'The kernel command line');
  if (ramdisk !== null && initrd !== null) writeGuest(mem, ramdisk.address, initrd, 'The initrd');

  return {
    state: linuxEntryState(load + ENTRY_64_OFFSET),
    header: hdr,
    kernel: { address: load, size: kernelBytes.length, initSize: hdr.initSize },
    bootParams: LINUX_BOOT_PARAMS_ADDRESS,
    cmdline: { address: LINUX_CMDLINE_ADDRESS, length: cmdlineBytes.length },
    initrd: ramdisk,
  };
}

/**
 * The 64-bit protocol's entry state (boot.rst): long mode with paging, CS = __BOOT_CS (flat
 * 64-bit code), DS = ES = SS = __BOOT_DS (flat data; FS and GS too), interrupts off, RSI =
 * boot_params. Fixed for determinism: other GPRs 0, CR0 = PE|ET|PG, CR4 = PAE, EFER =
 * LME|LMA, IDTR empty (no interrupt may come before the kernel loads its own).
 */
export function linuxEntryState(entry: number): ProtectedModeEntryState {
  return {
    eax: 0,
    ebx: 0,
    ecx: 0,
    edx: 0,
    esi: LINUX_BOOT_PARAMS_ADDRESS,
    edi: 0,
    ebp: 0,
    esp: LINUX_STACK_TOP,
    eip: entry,
    eflags: EFLAGS_FIXED,
    cs: bootSegment('code'),
    ds: bootSegment('data'),
    es: bootSegment('data'),
    fs: bootSegment('data'),
    gs: bootSegment('data'),
    ss: bootSegment('data'),
    cr0: (CR0_PE | CR0_ET | CR0_PG) >>> 0,
    cr3: LINUX_PML4_ADDRESS,
    cr4: CR4_PAE,
    efer: EFER_LME | EFER_LMA,
    gdtr: { base: LINUX_GDT_ADDRESS, limit: 31 },
    idtr: { base: 0, limit: 0 },
    a20: true,
  };
}

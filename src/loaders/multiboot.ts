// Multiboot v1 loader: kernel (ELF32 or a.out kludge), modules, boot information, entry state.
//
// Reference: The Multiboot Specification version 0.6.96 (section numbers below).
//
// Where things go:
//  - The kernel goes where it asks: ELF32 PT_LOAD segments at p_paddr (as GRUB and QEMU
//    place multiboot ELF kernels), or load_addr..bss_end_addr with the a.out kludge (3.1.3).
//  - Modules follow the kernel: each one starts on the first 4 KiB page boundary at or
//    after the end of the kernel (bss included) or of the previous module, inside a usable
//    range of the memory map. Modules are always page-aligned, whatever flags bit 0 says.
//  - The boot information block (structure, memory map, module list, strings and a flat
//    GDT) goes below 640 KiB, at 0x9000 by default — the region QEMU uses for its
//    multiboot structure and memory map. It is independent of the kernel's size and stays
//    outside what the kernel treats as free memory above itself: kvm-unit-tests, for one,
//    hands everything from its end of data up to mem_upper to its page allocator and reads
//    the memory map again later (find_highmem), so information placed above the kernel
//    would be at risk.
//
// kvm-unit-tests (lib/x86/setup.c, x86/cstart64.S) takes argv from the `cmdline` string
// (argv[0] is its first word: QEMU passes "<kernel file name> <-append text>", see
// qemuStyleCmdline) and its environment from the single module when mods_count is 1
// (the -initrd file: KEY=VALUE lines, mod_end - mod_start bytes). It reads cmdline
// without checking flags bit 2, so a cmdline string is always provided.

import type { GuestMemory } from '../machine/memory.js';
import {
  CR0_ET,
  CR0_PE,
  EFLAGS_FIXED,
  FLAT_CODE_SELECTOR,
  FLAT_DATA_SELECTOR,
  flatSegment,
  type ProtectedModeEntryState,
} from './boot-state.js';
import { checkE820, contiguousUsableFrom, defaultE820, usableRanges, type E820Entry } from './e820.js';
import { EM_386, EM_X86_64, isElf, parseElf, writeElfSegments, type ElfImage } from './elf.js';
import { LoaderError } from './errors.js';
import {
  alignUp,
  checkAddressArgument,
  checkInRam,
  describeRange,
  hex,
  rangesOverlap,
  writeGuest,
  zeroGuest,
  type GuestRange,
} from './guest-ram.js';
import {
  MULTIBOOT_BOOTLOADER_MAGIC,
  MULTIBOOT_INFO_BOOTDEV,
  MULTIBOOT_INFO_BOOT_LOADER_NAME,
  MULTIBOOT_INFO_CMDLINE,
  MULTIBOOT_INFO_MEMORY,
  MULTIBOOT_INFO_MEM_MAP,
  MULTIBOOT_INFO_MODS,
  encodeInfoBlock,
  layoutInfoBlock,
} from './multiboot-info.js';
import { findMultibootHeader, type MultibootAddressFields, type MultibootHeader } from './multiboot-header.js';

/** Default guest physical address of the boot information block (and EBX). */
export const DEFAULT_MULTIBOOT_INFO_ADDRESS = 0x9000;
/** What boot_loader_name says. */
export const BOOT_LOADER_NAME = 'hvsim';
/** Modules are aligned to 4 KiB pages (3.1.2, flags bit 0). */
const PAGE_SIZE = 4096;
/** mem_lower counts conventional memory only, at most 640 KiB (3.3). */
const MEM_LOWER_MAX = 640 * 1024;
const HIGH_MEMORY = 0x100000;

export interface MultibootModule {
  data: Uint8Array;
  /** The module's string (3.3 `string`), conventionally its file name and arguments. Default "". */
  string?: string;
}

export interface MultibootOptions {
  /** The kernel command line exactly as the kernel should see it. Default "". */
  cmdline?: string;
  /** Boot modules, in order (QEMU passes -initrd files as modules). */
  modules?: readonly MultibootModule[];
  /** The memory map to report; default defaultE820(mem.size, the memory's MMIO windows). */
  e820?: readonly E820Entry[];
  /** Where the boot information block goes (8-byte aligned). Default 0x9000. */
  infoAddress?: number;
  /** boot_device (3.3); when given, info flags bit 1 is set. Not provided by default. */
  bootDevice?: number;
}

export interface MultibootKernelSegment {
  loadAddress: number;
  fileOffset: number;
  fileSize: number;
  memSize: number;
}

export interface MultibootKernel {
  format: 'elf32' | 'aout-kludge';
  /** Physical entry address (EIP). */
  entry: number;
  segments: MultibootKernelSegment[];
  lowestAddress: number;
  /** One past the last kernel byte, bss included. */
  highestAddress: number;
  /** The parsed ELF image when format is 'elf32'. */
  elf: ElfImage | null;
}

export interface MultibootPlacedModule {
  /** mod_start. */
  start: number;
  /** mod_end: one past the last byte (start + data.length). */
  end: number;
  stringAddress: number;
  string: string;
}

export interface MultibootInfo {
  /** Address of the information structure (= EBX = start of the block). */
  address: number;
  /** Size in bytes of the whole block (structure, GDT, map, module list, strings). */
  size: number;
  flags: number;
  memLower: number;
  memUpper: number;
  cmdlineAddress: number;
  modsAddress: number;
  mmapAddress: number;
  mmapLength: number;
  bootLoaderNameAddress: number;
  gdtAddress: number;
}

export interface MultibootLoadResult {
  /** The CPU state to enter the kernel with (3.2). */
  state: ProtectedModeEntryState;
  header: MultibootHeader;
  kernel: MultibootKernel;
  info: MultibootInfo;
  modules: MultibootPlacedModule[];
}

/** The command line QEMU gives a multiboot kernel for `-kernel <name> -append <text>`. */
export function qemuStyleCmdline(kernelName: string, append = ''): string {
  return `${kernelName} ${append}`;
}

const utf8 = new TextEncoder();

function encodeString(s: string, what: string): Uint8Array {
  const bytes = utf8.encode(s);
  if (bytes.includes(0)) {
    throw new LoaderError('invalid', `The ${what} contains a NUL character, which would cut the C string short.`);
  }
  return bytes;
}

/** The kernel's placement from its ELF32 program headers (3.1: used when flags bit 16 is clear). */
function planElfKernel(image: Uint8Array): MultibootKernel {
  if (!isElf(image)) {
    throw new LoaderError(
      'unsupported',
      'Multiboot kernel is not an ELF image and its header does not set flags bit 16 (the a.out kludge address fields), so there is no way to know where to load it.',
    );
  }
  if (image.length > 4 && image[4] === 2) {
    throw new LoaderError(
      'unsupported',
      'Multiboot kernel is a 64-bit ELF image; multiboot v1 loads only 32-bit ELF kernels (convert it with objcopy -O elf32-i386, as QEMU also requires).',
    );
  }
  const elf = parseElf(image, { placement: 'paddr' });
  if (elf.machine !== EM_386) {
    throw new LoaderError(
      'unsupported',
      `Multiboot kernel is an ELF32 image for e_machine ${elf.machine}${elf.machine === EM_X86_64 ? ' (x86-64)' : ''}; multiboot v1 loads EM_386 kernels (convert it with objcopy -O elf32-i386).`,
    );
  }
  return {
    format: 'elf32',
    entry: elf.physicalEntry,
    segments: elf.segments.map((s) => ({
      loadAddress: s.loadAddress,
      fileOffset: s.fileOffset,
      fileSize: s.fileSize,
      memSize: s.memSize,
    })),
    lowestAddress: elf.lowestAddress,
    highestAddress: elf.highestAddress,
    elf,
  };
}

/** The kernel's placement from the header's address fields (3.1.3, flags bit 16). */
function planAoutKernel(image: Uint8Array, offset: number, a: MultibootAddressFields): MultibootKernel {
  if (a.loadAddr > a.headerAddr) {
    throw new LoaderError(
      'invalid',
      `Multiboot header has load_addr ${hex(a.loadAddr)} above header_addr ${hex(a.headerAddr)}; the specification requires load_addr <= header_addr.`,
    );
  }
  if (a.headerAddr - a.loadAddr > offset) {
    throw new LoaderError(
      'invalid',
      `Multiboot header_addr - load_addr is ${hex(a.headerAddr - a.loadAddr)}, more than the header's file offset ${hex(offset)}, so the text would start before the file does.`,
    );
  }
  const textOffset = offset - (a.headerAddr - a.loadAddr);
  let loadSize: number;
  if (a.loadEndAddr !== 0) {
    if (a.loadEndAddr < a.loadAddr) {
      throw new LoaderError(
        'invalid',
        `Multiboot header has load_end_addr ${hex(a.loadEndAddr)} below load_addr ${hex(a.loadAddr)}.`,
      );
    }
    loadSize = a.loadEndAddr - a.loadAddr;
    if (textOffset + loadSize > image.length) {
      throw new LoaderError(
        'truncated',
        `Multiboot kernel is truncated: load_end_addr asks for ${hex(loadSize)} bytes from file offset ${hex(textOffset)}, but the image is only ${hex(image.length)} bytes long.`,
      );
    }
  } else {
    loadSize = image.length - textOffset;
  }
  let memSize = loadSize;
  if (a.bssEndAddr !== 0) {
    if (a.bssEndAddr < a.loadAddr + loadSize) {
      throw new LoaderError(
        'invalid',
        `Multiboot header has bss_end_addr ${hex(a.bssEndAddr)} below the end of the loaded text and data at ${hex(a.loadAddr + loadSize)}.`,
      );
    }
    memSize = a.bssEndAddr - a.loadAddr;
  }
  if (a.loadAddr + memSize > 0x1_0000_0000) {
    throw new LoaderError(
      'outside-ram',
      `Multiboot kernel (${describeRange(a.loadAddr, memSize)}) extends beyond the 4 GiB address space.`,
    );
  }
  if (a.entryAddr < a.loadAddr || a.entryAddr >= a.loadAddr + memSize) {
    throw new LoaderError(
      'invalid',
      `Multiboot entry_addr ${hex(a.entryAddr)} is outside the loaded kernel (${describeRange(a.loadAddr, memSize)}).`,
    );
  }
  return {
    format: 'aout-kludge',
    entry: a.entryAddr,
    segments: [{ loadAddress: a.loadAddr, fileOffset: textOffset, fileSize: loadSize, memSize }],
    lowestAddress: a.loadAddr,
    highestAddress: a.loadAddr + memSize,
    elf: null,
  };
}

/** The usable memory-map range that wholly contains [base, base+length), or null. */
function usableRangeContaining(usable: readonly GuestRange[], base: number, length: number): GuestRange | null {
  for (const r of usable) if (base >= r.base && base + length <= r.base + r.length) return r;
  return null;
}

/**
 * First-fit placement of the modules: page-aligned, at or above `start`, in usable memory,
 * never over the boot information block.
 */
function placeModules(
  mem: GuestMemory,
  modules: readonly MultibootModule[],
  usable: readonly GuestRange[],
  start: number,
  info: GuestRange,
): Array<{ start: number; end: number }> {
  const placed: Array<{ start: number; end: number }> = [];
  let cursor = alignUp(start, PAGE_SIZE);
  modules.forEach((m, i) => {
    const len = m.data.length;
    let found = -1;
    for (const r of usable) {
      let at = alignUp(Math.max(cursor, r.base), PAGE_SIZE);
      if (rangesOverlap({ base: at, length: len }, info)) at = alignUp(info.base + info.length, PAGE_SIZE);
      if (at + len <= r.base + r.length) {
        found = at;
        break;
      }
    }
    if (found < 0) {
      const name = m.string ? ` "${m.string}"` : '';
      throw new LoaderError(
        'no-space',
        `Module ${i}${name} (${len} bytes) does not fit in usable guest RAM above ${hex(cursor)} (guest RAM ends at ${hex(mem.size)}).`,
      );
    }
    checkInRam(mem, found, len, `module ${i}`);
    placed.push({ start: found, end: found + len });
    cursor = alignUp(found + len, PAGE_SIZE);
  });
  return placed;
}

/**
 * Loads a Multiboot v1 kernel, its modules and the boot information into guest RAM and
 * returns the CPU state to enter it with. Everything is checked before the first byte is
 * written: a rejected image leaves guest RAM untouched.
 */
export function loadMultiboot(mem: GuestMemory, image: Uint8Array, options: MultibootOptions = {}): MultibootLoadResult {
  const header = findMultibootHeader(image);
  const kernel = header.addresses === null ? planElfKernel(image) : planAoutKernel(image, header.offset, header.addresses);

  // Inputs from the caller.
  const infoAddress = options.infoAddress ?? DEFAULT_MULTIBOOT_INFO_ADDRESS;
  checkAddressArgument(infoAddress, 'The multiboot information address');
  if (infoAddress % 8 !== 0) {
    throw new LoaderError('invalid', `The multiboot information address ${hex(infoAddress)} is not 8-byte aligned.`);
  }
  const bootDevice = options.bootDevice;
  if (bootDevice !== undefined && (!Number.isInteger(bootDevice) || bootDevice < 0 || bootDevice > 0xffffffff)) {
    throw new LoaderError('invalid', `The boot device ${String(bootDevice)} is not a 32-bit unsigned integer.`);
  }
  const e820 = options.e820 ?? defaultE820(mem.size, mem.mmio.map((r) => ({ base: r.base, length: r.length })));
  checkE820(e820);
  const modules = options.modules ?? [];
  const cmdline = encodeString(options.cmdline ?? '', 'kernel command line');
  const bootLoaderName = encodeString(BOOT_LOADER_NAME, 'boot loader name');
  const moduleStrings = modules.map((m, i) => encodeString(m.string ?? '', `string of module ${i}`));

  // The kernel must fit in RAM.
  kernel.segments.forEach((s, i) => checkInRam(mem, s.loadAddress, s.memSize, `Multiboot kernel segment ${i}`));

  // The information block: in RAM, in one usable range of the map, clear of the kernel.
  const layout = layoutInfoBlock(
    infoAddress,
    e820.length,
    cmdline.length,
    bootLoaderName.length,
    moduleStrings.map((s) => s.length),
  );
  const infoRange: GuestRange = { base: infoAddress, length: layout.size };
  checkInRam(mem, infoAddress, layout.size, `The multiboot information block (${layout.size} bytes)`);
  const usable = usableRanges(e820);
  if (usableRangeContaining(usable, infoAddress, layout.size) === null) {
    throw new LoaderError(
      'no-space',
      `The multiboot information block (${describeRange(infoAddress, layout.size)}) does not lie within one usable range of the memory map.`,
    );
  }
  kernel.segments.forEach((s, i) => {
    if (rangesOverlap({ base: s.loadAddress, length: s.memSize }, infoRange)) {
      throw new LoaderError(
        'overlap',
        `Multiboot kernel segment ${i} (${describeRange(s.loadAddress, s.memSize)}) overlaps the boot information block at ${describeRange(infoAddress, layout.size)}.`,
      );
    }
  });

  const placed = placeModules(mem, modules, usable, kernel.highestAddress, infoRange);

  // Memory information (3.3): KiB of lower memory from 0 and of upper memory from 1 MiB.
  const memLower = Math.floor(Math.min(contiguousUsableFrom(e820, 0), MEM_LOWER_MAX) / 1024);
  const memUpper = Math.floor(contiguousUsableFrom(e820, HIGH_MEMORY) / 1024);
  const flags =
    MULTIBOOT_INFO_MEMORY |
    MULTIBOOT_INFO_CMDLINE |
    MULTIBOOT_INFO_MODS |
    MULTIBOOT_INFO_MEM_MAP |
    MULTIBOOT_INFO_BOOT_LOADER_NAME |
    (bootDevice !== undefined ? MULTIBOOT_INFO_BOOTDEV : 0);
  const block = encodeInfoBlock(
    {
      base: infoAddress,
      flags,
      memLower,
      memUpper,
      bootDevice: bootDevice ?? 0,
      cmdline,
      bootLoaderName,
      mmap: e820,
      modules: placed.map((p, i) => ({ start: p.start, end: p.end, string: moduleStrings[i] })),
    },
    layout,
  );

  // Everything checked: write.
  if (kernel.elf !== null) {
    writeElfSegments(mem, image, kernel.elf);
  } else {
    const s = kernel.segments[0];
    writeGuest(mem, s.loadAddress, image.subarray(s.fileOffset, s.fileOffset + s.fileSize), 'Multiboot kernel');
    zeroGuest(mem, s.loadAddress + s.fileSize, s.memSize - s.fileSize, 'Multiboot kernel bss');
  }
  placed.forEach((p, i) => writeGuest(mem, p.start, modules[i].data, `module ${i}`));
  writeGuest(mem, infoAddress, block, 'The multiboot information block');

  return {
    state: multibootEntryState(kernel.entry, infoAddress, layout.gdtAddress, layout.gdtLimit),
    header,
    kernel,
    info: {
      address: infoAddress,
      size: layout.size,
      flags,
      memLower,
      memUpper,
      cmdlineAddress: layout.cmdlineAddress,
      modsAddress: layout.modsAddress,
      mmapAddress: layout.mmapAddress,
      mmapLength: layout.mmapLength,
      bootLoaderNameAddress: layout.bootLoaderNameAddress,
      gdtAddress: layout.gdtAddress,
    },
    modules: placed.map((p, i) => ({
      start: p.start,
      end: p.end,
      stringAddress: layout.moduleStringAddresses[i],
      string: modules[i].string ?? '',
    })),
  };
}

/**
 * The machine state of 3.2: EAX = 0x2BADB002, EBX = information address, CS a flat 32-bit
 * execute/read segment, DS/ES/FS/GS/SS flat 32-bit read/write segments, A20 enabled,
 * CR0.PE = 1 and CR0.PG = 0, EFLAGS.VM = 0 and EFLAGS.IF = 0. The specification leaves
 * everything else undefined; here it is fixed for determinism: other general registers 0,
 * CR0 = PE|ET, CR3 = CR4 = EFER = 0, GDTR on the loader's flat GDT (whose descriptors match
 * the segment caches), IDTR on the real-mode vector table (base 0, limit 0x3ff) as firmware
 * leaves it.
 */
export function multibootEntryState(entry: number, infoAddress: number, gdtBase: number, gdtLimit: number): ProtectedModeEntryState {
  return {
    eax: MULTIBOOT_BOOTLOADER_MAGIC,
    ebx: infoAddress,
    ecx: 0,
    edx: 0,
    esi: 0,
    edi: 0,
    ebp: 0,
    esp: 0,
    eip: entry,
    eflags: EFLAGS_FIXED,
    cs: flatSegment('code', FLAT_CODE_SELECTOR),
    ds: flatSegment('data', FLAT_DATA_SELECTOR),
    es: flatSegment('data', FLAT_DATA_SELECTOR),
    fs: flatSegment('data', FLAT_DATA_SELECTOR),
    gs: flatSegment('data', FLAT_DATA_SELECTOR),
    ss: flatSegment('data', FLAT_DATA_SELECTOR),
    cr0: CR0_PE | CR0_ET,
    cr3: 0,
    cr4: 0,
    efer: 0,
    gdtr: { base: gdtBase, limit: gdtLimit },
    idtr: { base: 0, limit: 0x3ff },
    a20: true,
  };
}

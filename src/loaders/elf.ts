// ELF32 and ELF64 executables for x86 and x86-64 (little-endian), loaded into guest RAM.
//
// References: System V ABI gABI chapter 4 "Object Files" (ELF header, program header) and
// the ELF-64 Object File Format 1.5 (64-bit field layout).
//
// Placement: PT_LOAD segments go to p_paddr by default. That is what ELF boot loaders for
// x86 kernels do: GRUB's multiboot loader and QEMU's load_elf (used for -kernel ELF and
// multiboot images) both copy to the physical address and keep the virtual address for
// the entry point, which they translate through the segment containing it. A kernel linked
// at a higher-half virtual address with AT() physical load addresses therefore lands where
// its start-up code expects. `placement: 'vaddr'` is available for images whose p_paddr
// fields are meaningless.
//
// 64-bit fields are read as BigInt (this is cold code, not the CPU path) and given back as
// numbers: placement addresses are exact (they must fit in guest RAM); virtual addresses
// above 2^53 (higher-half x86-64 kernels) may round, so the exact entry point is also given
// as two 32-bit halves.

import type { GuestMemory } from '../machine/memory.js';
import { LoaderError } from './errors.js';
import { checkInRam, describeRange, writeGuest, zeroGuest } from './guest-ram.js';

// e_ident indices and values (gABI "ELF Identification").
const EI_CLASS = 4;
const EI_DATA = 5;
const EI_VERSION = 6;
const EI_NIDENT = 16;
const ELFCLASS32 = 1;
const ELFCLASS64 = 2;
const ELFDATA2LSB = 1;
const EV_CURRENT = 1;
// e_type (gABI "ELF Header").
const ET_REL = 1;
const ET_EXEC = 2;
const ET_DYN = 3;
const ET_CORE = 4;
/** e_phnum value meaning "the real count is in section header 0" (gABI, Program Header). */
const PN_XNUM = 0xffff;
/** p_type of a loadable segment. */
const PT_LOAD = 1;

/** e_machine values (gABI "ELF Header"; psABI for i386 and x86-64). */
export const EM_386 = 3;
export const EM_X86_64 = 62;
/** p_flags bits. */
export const PF_X = 1;
export const PF_W = 2;
export const PF_R = 4;

/** Sizes of the ELF header and one program header entry per class. */
const EHDR_SIZE = { 32: 52, 64: 64 } as const;
const PHDR_SIZE = { 32: 32, 64: 56 } as const;

const TWO_32 = 0x1_0000_0000n;
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

export type ElfPlacement = 'paddr' | 'vaddr';

export interface ElfOptions {
  /** Which program header address decides where a segment goes in guest physical memory. Default 'paddr'. */
  placement?: ElfPlacement;
}

export interface ElfSegment {
  /** Index of this PT_LOAD entry in the program header table. */
  index: number;
  /** Guest physical address the segment was copied to (p_paddr, or p_vaddr with placement 'vaddr'). */
  loadAddress: number;
  paddr: number;
  /** p_vaddr; exact below 2^53. */
  vaddr: number;
  fileOffset: number;
  /** Bytes copied from the file (p_filesz). */
  fileSize: number;
  /** Bytes occupied in memory (p_memsz); [fileSize, memSize) is zero-filled. */
  memSize: number;
  /** p_flags (PF_R | PF_W | PF_X). */
  flags: number;
}

export interface ElfImage {
  elfClass: 32 | 64;
  /** e_machine: EM_386 or EM_X86_64. */
  machine: number;
  /** e_entry as written in the header (a virtual address; exact below 2^53). */
  entry: number;
  /** e_entry exactly, as [low 32 bits, high 32 bits]. */
  entryHalves: [number, number];
  /**
   * The entry point in guest physical memory: e_entry translated through the PT_LOAD segment
   * whose virtual range contains it (loadAddress + e_entry - p_vaddr). Equal to `entry` when
   * p_paddr == p_vaddr, which is the usual case. This is where a CPU with paging off starts.
   */
  physicalEntry: number;
  /** The PT_LOAD segments with a non-zero p_memsz, in program header order. */
  segments: ElfSegment[];
  /** Lowest guest physical address occupied by any segment. */
  lowestAddress: number;
  /** One past the highest guest physical byte occupied by any segment (bss included). */
  highestAddress: number;
  placement: ElfPlacement;
}

export type ElfLoadResult = ElfImage;

/** True if the bytes start with the ELF magic (\x7fELF). */
export function isElf(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && bytes[0] === 0x7f && bytes[1] === 0x45 && bytes[2] === 0x4c && bytes[3] === 0x46;
}

function bigHex(v: bigint): string {
  return '0x' + v.toString(16);
}

/** Validates an ELF executable and describes its segments without touching guest memory. */
export function parseElf(bytes: Uint8Array, options: ElfOptions = {}): ElfImage {
  const placement = options.placement ?? 'paddr';
  if (!isElf(bytes)) {
    const found = Array.from(bytes.subarray(0, 4), (b) => b.toString(16).padStart(2, '0')).join(' ');
    throw new LoaderError(
      'bad-magic',
      `Not an ELF image: it starts with ${found === '' ? 'nothing (the image is empty)' : found} instead of the magic 7f 45 4c 46.`,
    );
  }
  if (bytes.length < EI_NIDENT) {
    throw new LoaderError('truncated', `ELF image is truncated: ${bytes.length} bytes is shorter than the 16-byte e_ident.`);
  }
  const cls = bytes[EI_CLASS];
  if (cls !== ELFCLASS32 && cls !== ELFCLASS64) {
    throw new LoaderError('unsupported', `ELF image has class ${cls} in e_ident[EI_CLASS]; only 1 (ELF32) and 2 (ELF64) exist.`);
  }
  const elfClass: 32 | 64 = cls === ELFCLASS32 ? 32 : 64;
  if (bytes[EI_DATA] !== ELFDATA2LSB) {
    throw new LoaderError(
      'unsupported',
      `ELF image has data encoding ${bytes[EI_DATA]} in e_ident[EI_DATA]; only 1 (little-endian, as x86 uses) is supported.`,
    );
  }
  if (bytes[EI_VERSION] !== EV_CURRENT) {
    throw new LoaderError('unsupported', `ELF image has version ${bytes[EI_VERSION]} in e_ident[EI_VERSION]; only 1 (EV_CURRENT) exists.`);
  }
  if (bytes.length < EHDR_SIZE[elfClass]) {
    throw new LoaderError(
      'truncated',
      `ELF${elfClass} image is truncated: ${bytes.length} bytes is shorter than its ${EHDR_SIZE[elfClass]}-byte ELF header.`,
    );
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const u16 = (off: number): number => dv.getUint16(off, true);
  const u32 = (off: number): number => dv.getUint32(off, true);
  // A word of the class's natural size (Elf32_Addr/Off or Elf64_Addr/Off), as BigInt.
  const word = (off: number): bigint => (elfClass === 32 ? BigInt(u32(off)) : dv.getBigUint64(off, true));

  const type = u16(16);
  if (type !== ET_EXEC) {
    const kind =
      type === ET_REL ? 'ET_REL, a relocatable object' : type === ET_DYN ? 'ET_DYN, a shared object or PIE' : type === ET_CORE ? 'ET_CORE, a core dump' : 'unknown';
    throw new LoaderError('unsupported', `ELF image has e_type ${type} (${kind}); only ET_EXEC executables can be loaded.`);
  }
  const machine = u16(18);
  const machineOk = elfClass === 32 ? machine === EM_386 || machine === EM_X86_64 : machine === EM_X86_64;
  if (!machineOk) {
    const expected = elfClass === 32 ? '3 (EM_386) or 62 (EM_X86_64)' : '62 (EM_X86_64)';
    throw new LoaderError('unsupported', `ELF${elfClass} image has e_machine ${machine}; expected ${expected} for x86.`);
  }
  if (u32(20) !== EV_CURRENT) {
    throw new LoaderError('unsupported', `ELF image has e_version ${u32(20)}; only 1 (EV_CURRENT) exists.`);
  }
  const entryBig = word(24);
  const phoffBig = word(elfClass === 32 ? 28 : 32);
  const phentsize = u16(elfClass === 32 ? 42 : 54);
  const phnum = u16(elfClass === 32 ? 44 : 56);

  if (phnum === 0) {
    throw new LoaderError('invalid', 'ELF image has no program headers (e_phnum is 0), so there is nothing to load.');
  }
  if (phnum === PN_XNUM) {
    throw new LoaderError('unsupported', 'ELF image uses extended program header numbering (e_phnum = PN_XNUM), which is not supported.');
  }
  if (phentsize !== PHDR_SIZE[elfClass]) {
    throw new LoaderError(
      'invalid',
      `ELF${elfClass} image has e_phentsize ${phentsize}; a program header entry is ${PHDR_SIZE[elfClass]} bytes.`,
    );
  }
  const tableEnd = phoffBig + BigInt(phnum * phentsize);
  if (tableEnd > BigInt(bytes.length)) {
    throw new LoaderError(
      'truncated',
      `ELF image is truncated: its program header table (offset ${bigHex(phoffBig)}, ${phnum} × ${phentsize} bytes) runs past the end of the ${bytes.length}-byte file.`,
    );
  }
  const phoff = Number(phoffBig);

  const segments: ElfSegment[] = [];
  const vaddrs: bigint[] = [];
  for (let i = 0; i < phnum; i++) {
    const ph = phoff + i * phentsize;
    if (u32(ph) !== PT_LOAD) continue;
    const is32 = elfClass === 32;
    const offset = word(is32 ? ph + 4 : ph + 8);
    const vaddr = word(is32 ? ph + 8 : ph + 16);
    const paddr = word(is32 ? ph + 12 : ph + 24);
    const filesz = word(is32 ? ph + 16 : ph + 32);
    const memsz = word(is32 ? ph + 20 : ph + 40);
    const flags = u32(is32 ? ph + 24 : ph + 4);
    if (filesz > memsz) {
      throw new LoaderError(
        'invalid',
        `ELF segment ${i} has p_filesz ${bigHex(filesz)} larger than p_memsz ${bigHex(memsz)}.`,
      );
    }
    if (offset + filesz > BigInt(bytes.length)) {
      throw new LoaderError(
        'truncated',
        `ELF image is truncated: segment ${i}'s file data (offset ${bigHex(offset)}, ${bigHex(filesz)} bytes) runs past the end of the ${bytes.length}-byte file.`,
      );
    }
    if (memsz === 0n) continue;
    const where = placement === 'paddr' ? paddr : vaddr;
    const limit = elfClass === 32 ? TWO_32 : MAX_SAFE;
    if (where + memsz > limit) {
      throw new LoaderError(
        'outside-ram',
        `ELF segment ${i} (${placement === 'paddr' ? 'p_paddr' : 'p_vaddr'} ${bigHex(where)}, ${bigHex(memsz)} bytes) extends beyond ${elfClass === 32 ? 'the 4 GiB address space' : 'any possible guest RAM'}.`,
      );
    }
    segments.push({
      index: i,
      loadAddress: Number(where),
      paddr: Number(paddr),
      vaddr: Number(vaddr),
      fileOffset: Number(offset),
      fileSize: Number(filesz),
      memSize: Number(memsz),
      flags,
    });
    vaddrs.push(vaddr);
  }
  if (segments.length === 0) {
    throw new LoaderError('invalid', 'ELF image has no loadable (PT_LOAD) segment with a non-zero size.');
  }

  // Segments must not overlap where they are placed (checked on the sorted list).
  const byAddress = [...segments].sort((a, b) => a.loadAddress - b.loadAddress);
  for (let k = 1; k < byAddress.length; k++) {
    const a = byAddress[k - 1];
    const b = byAddress[k];
    if (b.loadAddress < a.loadAddress + a.memSize) {
      throw new LoaderError(
        'overlap',
        `ELF segments ${a.index} (${describeRange(a.loadAddress, a.memSize)}) and ${b.index} (${describeRange(b.loadAddress, b.memSize)}) overlap in guest memory.`,
      );
    }
  }

  // Entry point: translate the virtual e_entry through the segment containing it,
  // preferring executable segments (QEMU's load_elf does the same for p_paddr != p_vaddr).
  let physicalEntry = -1;
  const order = [...segments.keys()].sort((a, b) => (segments[b].flags & PF_X) - (segments[a].flags & PF_X));
  for (const k of order) {
    const s = segments[k];
    const v = vaddrs[k];
    if (entryBig >= v && entryBig < v + BigInt(s.memSize)) {
      physicalEntry = s.loadAddress + Number(entryBig - v);
      break;
    }
  }
  if (physicalEntry < 0) {
    // Not inside any virtual range: accept it as a physical address inside a placed segment.
    const e = entryBig <= MAX_SAFE ? Number(entryBig) : -1;
    if (segments.some((s) => e >= s.loadAddress && e < s.loadAddress + s.memSize)) physicalEntry = e;
  }
  if (physicalEntry < 0) {
    throw new LoaderError('invalid', `ELF entry point ${bigHex(entryBig)} is not inside any loadable segment.`);
  }

  const first = byAddress[0];
  const highestAddress = Math.max(...segments.map((s) => s.loadAddress + s.memSize));
  return {
    elfClass,
    machine,
    entry: Number(entryBig),
    entryHalves: [Number(entryBig % TWO_32), Number(entryBig / TWO_32)],
    physicalEntry,
    segments,
    lowestAddress: first.loadAddress,
    highestAddress,
    placement,
  };
}

/** Checks that every segment of a parsed image fits in guest RAM (nothing is written). */
export function checkElfPlacement(mem: GuestMemory, image: ElfImage): void {
  for (const s of image.segments) checkInRam(mem, s.loadAddress, s.memSize, `ELF segment ${s.index}`);
}

/** Copies the segments of a parsed (and placement-checked) image into guest RAM. */
export function writeElfSegments(mem: GuestMemory, bytes: Uint8Array, image: ElfImage): void {
  for (const s of image.segments) {
    const what = `ELF segment ${s.index}`;
    writeGuest(mem, s.loadAddress, bytes.subarray(s.fileOffset, s.fileOffset + s.fileSize), what);
    zeroGuest(mem, s.loadAddress + s.fileSize, s.memSize - s.fileSize, `${what}'s zero-filled part (bss)`);
  }
}

/**
 * Loads an ELF32 or ELF64 x86 executable: validates the headers, checks that every PT_LOAD
 * segment fits in guest RAM, then copies p_filesz bytes and zero-fills up to p_memsz.
 * Nothing is written if the image is rejected.
 */
export function loadElf(mem: GuestMemory, bytes: Uint8Array, options: ElfOptions = {}): ElfLoadResult {
  const image = parseElf(bytes, options);
  checkElfPlacement(mem, image);
  writeElfSegments(mem, bytes, image);
  return image;
}


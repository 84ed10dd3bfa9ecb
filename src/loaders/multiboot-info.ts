// The Multiboot v1 boot information structure and what it points to, encoded as one
// block of bytes for guest RAM.
//
// Reference: The Multiboot Specification version 0.6.96, section 3.3 "Boot information
// format" (field offsets below are the ones of its table).
//
// Block layout (offsets from the block's base, which is the address passed in EBX):
//   0x00  the information structure itself (116 bytes up to the framebuffer fields; 0x80
//         are reserved and zeroed so unused fields read as 0)
//   0x80  a flat GDT (null, code 0x08, data 0x10) matching the segment state handed to the
//         kernel, so the descriptor caches and GDTR agree
//   0x98  memory map entries (mmap_addr), 24 bytes each
//   ...   module structures (mods_addr), 16 bytes each
//   ...   NUL-terminated strings: boot loader name, command line, module strings

import { flatDescriptor } from './boot-state.js';
import type { E820Entry } from './e820.js';

/** 3.2: EAX holds this when the kernel is entered. */
export const MULTIBOOT_BOOTLOADER_MAGIC = 0x2badb002;

/** 3.3 `flags` bits of the information structure. */
export const MULTIBOOT_INFO_MEMORY = 1 << 0; // mem_lower, mem_upper
export const MULTIBOOT_INFO_BOOTDEV = 1 << 1; // boot_device
export const MULTIBOOT_INFO_CMDLINE = 1 << 2; // cmdline
export const MULTIBOOT_INFO_MODS = 1 << 3; // mods_count, mods_addr
export const MULTIBOOT_INFO_MEM_MAP = 1 << 6; // mmap_length, mmap_addr
export const MULTIBOOT_INFO_BOOT_LOADER_NAME = 1 << 9; // boot_loader_name

/** 3.3 field offsets in the information structure. */
export const MBI_FLAGS = 0;
export const MBI_MEM_LOWER = 4;
export const MBI_MEM_UPPER = 8;
export const MBI_BOOT_DEVICE = 12;
export const MBI_CMDLINE = 16;
export const MBI_MODS_COUNT = 20;
export const MBI_MODS_ADDR = 24;
export const MBI_SYMS = 28; // 16 bytes: a.out symbol table or ELF section header table
export const MBI_MMAP_LENGTH = 44;
export const MBI_MMAP_ADDR = 48;
export const MBI_DRIVES_LENGTH = 52;
export const MBI_DRIVES_ADDR = 56;
export const MBI_CONFIG_TABLE = 60;
export const MBI_BOOT_LOADER_NAME = 64;
export const MBI_APM_TABLE = 68;
/** Size of the structure through the framebuffer fields (offset 110 + 6 bytes of color_info). */
export const MBI_SIZE = 116;

/** 3.3 module structure: mod_start, mod_end (one past the last byte), string, reserved. */
export const MOD_START = 0;
export const MOD_END = 4;
export const MOD_STRING = 8;
export const MOD_SIZE = 16;

/** 3.3 memory map entry: size (of the rest, 20), base_addr (u64), length (u64), type. */
export const MMAP_ENTRY_SIZE = 24;
const MMAP_SIZE_FIELD = 20;

const GDT_OFFSET = 0x80;
const GDT_SIZE = 24;

export interface InfoBlockInput {
  /** Guest physical address of the block (and of the information structure). */
  base: number;
  flags: number;
  memLower: number;
  memUpper: number;
  bootDevice: number;
  cmdline: Uint8Array;
  bootLoaderName: Uint8Array;
  mmap: readonly E820Entry[];
  modules: ReadonlyArray<{ start: number; end: number; string: Uint8Array }>;
}

export interface InfoBlockLayout {
  size: number;
  gdtAddress: number;
  gdtLimit: number;
  mmapAddress: number;
  mmapLength: number;
  modsAddress: number;
  bootLoaderNameAddress: number;
  cmdlineAddress: number;
  moduleStringAddresses: number[];
}

/** Where everything goes in the block, given the sizes of its variable parts. */
export function layoutInfoBlock(
  base: number,
  mmapCount: number,
  cmdlineLength: number,
  bootLoaderNameLength: number,
  moduleStringLengths: readonly number[],
): InfoBlockLayout {
  let at = GDT_OFFSET + GDT_SIZE;
  const mmap = at;
  at += mmapCount * MMAP_ENTRY_SIZE;
  const mods = at;
  at += moduleStringLengths.length * MOD_SIZE;
  const name = at;
  at += bootLoaderNameLength + 1;
  const cmdline = at;
  at += cmdlineLength + 1;
  const moduleStringAddresses: number[] = [];
  for (const len of moduleStringLengths) {
    moduleStringAddresses.push(base + at);
    at += len + 1;
  }
  return {
    size: (at + 3) & ~3,
    gdtAddress: base + GDT_OFFSET,
    gdtLimit: GDT_SIZE - 1,
    mmapAddress: base + mmap,
    mmapLength: mmapCount * MMAP_ENTRY_SIZE,
    modsAddress: base + mods,
    bootLoaderNameAddress: base + name,
    cmdlineAddress: base + cmdline,
    moduleStringAddresses,
  };
}

function lo32(n: number): number {
  return n % 0x1_0000_0000;
}
function hi32(n: number): number {
  return Math.floor(n / 0x1_0000_0000);
}

/** Encodes the whole block (zero-filled where nothing is written). */
export function encodeInfoBlock(input: InfoBlockInput, layout: InfoBlockLayout): Uint8Array {
  const bytes = new Uint8Array(layout.size);
  const dv = new DataView(bytes.buffer);
  const at = (gpa: number): number => gpa - input.base;
  const put32 = (off: number, v: number): void => dv.setUint32(off, v >>> 0, true);

  put32(MBI_FLAGS, input.flags);
  put32(MBI_MEM_LOWER, input.memLower);
  put32(MBI_MEM_UPPER, input.memUpper);
  put32(MBI_BOOT_DEVICE, input.bootDevice);
  put32(MBI_CMDLINE, layout.cmdlineAddress);
  put32(MBI_MODS_COUNT, input.modules.length);
  put32(MBI_MODS_ADDR, layout.modsAddress);
  put32(MBI_MMAP_LENGTH, layout.mmapLength);
  put32(MBI_MMAP_ADDR, layout.mmapAddress);
  put32(MBI_BOOT_LOADER_NAME, layout.bootLoaderNameAddress);

  // GDT: descriptor 0 is the null descriptor; 1 = flat code, 2 = flat data.
  const gdt = at(layout.gdtAddress);
  const code = flatDescriptor('code');
  const data = flatDescriptor('data');
  put32(gdt + 8, code[0]);
  put32(gdt + 12, code[1]);
  put32(gdt + 16, data[0]);
  put32(gdt + 20, data[1]);

  let e = at(layout.mmapAddress);
  for (const entry of input.mmap) {
    put32(e, MMAP_SIZE_FIELD);
    put32(e + 4, lo32(entry.base));
    put32(e + 8, hi32(entry.base));
    put32(e + 12, lo32(entry.length));
    put32(e + 16, hi32(entry.length));
    put32(e + 20, entry.type);
    e += MMAP_ENTRY_SIZE;
  }

  input.modules.forEach((m, i) => {
    const off = at(layout.modsAddress) + i * MOD_SIZE;
    put32(off + MOD_START, m.start);
    put32(off + MOD_END, m.end);
    put32(off + MOD_STRING, layout.moduleStringAddresses[i]);
    bytes.set(m.string, at(layout.moduleStringAddresses[i]));
  });
  bytes.set(input.bootLoaderName, at(layout.bootLoaderNameAddress));
  bytes.set(input.cmdline, at(layout.cmdlineAddress));
  return bytes;
}

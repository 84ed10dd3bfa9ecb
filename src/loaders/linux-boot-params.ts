// The Linux x86 boot protocol's data: the setup header a bzImage carries at offset 0x1f1 and
// the "zero page" (struct boot_params) a boot loader hands the kernel.
//
// Reference: the kernel's Documentation/arch/x86/boot.rst ("THE REAL-MODE KERNEL HEADER",
// "DETAILS OF HEADER FIELDS", "64-bit BOOT PROTOCOL") and zero-page.rst (offsets below are
// theirs). Multi-byte fields are little-endian.

import { LoaderError } from './errors.js';
import { hex } from './guest-ram.js';
import type { E820Entry } from './e820.js';

/** Where the setup header starts in the image and in boot_params. */
export const SETUP_HEADER_OFFSET = 0x1f1;
/** Size of struct boot_params (one page). */
export const BOOT_PARAMS_SIZE = 0x1000;

// Setup header fields (offsets in the image and in boot_params; boot.rst's table).
export const HDR_SETUP_SECTS = 0x1f1;
export const HDR_SYSSIZE = 0x1f4;
export const HDR_VID_MODE = 0x1fa;
export const HDR_BOOT_FLAG = 0x1fe;
export const HDR_JUMP = 0x200;
export const HDR_HEADER = 0x202;
export const HDR_VERSION = 0x206;
export const HDR_TYPE_OF_LOADER = 0x210;
export const HDR_LOADFLAGS = 0x211;
export const HDR_RAMDISK_IMAGE = 0x218;
export const HDR_RAMDISK_SIZE = 0x21c;
export const HDR_HEAP_END_PTR = 0x224;
export const HDR_CMD_LINE_PTR = 0x228;
export const HDR_INITRD_ADDR_MAX = 0x22c;
export const HDR_KERNEL_ALIGNMENT = 0x230;
export const HDR_RELOCATABLE_KERNEL = 0x234;
export const HDR_XLOADFLAGS = 0x236;
export const HDR_CMDLINE_SIZE = 0x238;
export const HDR_PREF_ADDRESS = 0x258;
export const HDR_INIT_SIZE = 0x260;

// boot_params fields outside the setup header (zero-page.rst).
export const BP_ACPI_RSDP_ADDR = 0x070;
export const BP_EXT_RAMDISK_IMAGE = 0x0c0;
export const BP_EXT_RAMDISK_SIZE = 0x0c4;
export const BP_EXT_CMD_LINE_PTR = 0x0c8;
export const BP_ALT_MEM_K = 0x1e0;
export const BP_E820_ENTRIES = 0x1e8;
/** Must stay 0: a non-zero sentinel tells the kernel the loader copied garbage in (boot.rst). */
export const BP_SENTINEL = 0x1ef;
export const BP_E820_TABLE = 0x2d0;
/** E820_MAX_ENTRIES_ZEROPAGE: the zero page has room for 128 entries of 20 bytes. */
export const BP_E820_MAX = 128;
const E820_ENTRY_SIZE = 20;

/** boot_flag: the 0xAA55 boot sector signature. */
export const BOOT_FLAG = 0xaa55;
/** "HdrS" read as a little-endian 32-bit value. */
export const HDRS_MAGIC = 0x53726448;
/** Protocol 2.12 added xloadflags, which says whether the 64-bit entry point exists. */
export const MIN_PROTOCOL_64 = 0x020c;
/** Protocol 2.14 added acpi_rsdp_addr. */
export const PROTOCOL_ACPI_RSDP = 0x020e;

/** loadflags bits. */
export const LOADED_HIGH = 1 << 0;
export const CAN_USE_HEAP = 1 << 7;
/** xloadflags bits. */
export const XLF_KERNEL_64 = 1 << 0;
export const XLF_CAN_BE_LOADED_ABOVE_4G = 1 << 1;
/** type_of_loader 0xff: "undefined" boot loader (no assigned ID). */
export const LOADER_TYPE_UNDEFINED = 0xff;
/** The 64-bit entry point is 0x200 bytes into the protected-mode kernel. */
export const ENTRY_64_OFFSET = 0x200;

/** The setup header fields the loader uses, already validated. */
export interface SetupHeader {
  /** Protocol version, e.g. 0x020f for 2.15. */
  version: number;
  /** Sectors of real-mode setup code after the boot sector (0 means 4). */
  setupSects: number;
  /** Offset in the image of the protected-mode kernel: (setup_sects + 1) * 512. */
  kernelOffset: number;
  /** One past the last byte of the setup header: 0x202 + the byte at 0x201. */
  headerEnd: number;
  loadflags: number;
  xloadflags: number;
  /** Highest address the initrd may occupy (its last byte). */
  initrdAddrMax: number;
  kernelAlignment: number;
  relocatable: boolean;
  /** Longest command line without its NUL (older protocols: 255). */
  cmdlineSize: number;
  /** Where the kernel prefers to be loaded (the non-relocatable address). */
  prefAddress: number;
  /** Bytes the kernel needs from its load address on while it decompresses and starts. */
  initSize: number;
}

function u16(b: Uint8Array, o: number): number {
  return b[o] | (b[o + 1] << 8);
}
function u32(b: Uint8Array, o: number): number {
  return (b[o] | (b[o + 1] << 8) | (b[o + 2] << 16) | (b[o + 3] << 24)) >>> 0;
}

/**
 * Parse and validate a bzImage's setup header for the 64-bit boot protocol: boot_flag,
 * "HdrS", protocol >= 2.12, XLF_KERNEL_64, a power-of-two kernel_alignment, pref_address
 * and init_size below 4 GiB (this loader keeps everything there).
 */
export function parseSetupHeader(image: Uint8Array): SetupHeader {
  if (image.length < 0x270) {
    throw new LoaderError('truncated', `The image is ${image.length} bytes long, too short for a Linux setup header (which ends after 0x26c).`);
  }
  if (u16(image, HDR_BOOT_FLAG) !== BOOT_FLAG) {
    throw new LoaderError('bad-magic', `Not a Linux bzImage: boot_flag at 0x1fe is ${hex(u16(image, HDR_BOOT_FLAG))}, not 0xaa55.`);
  }
  if (u32(image, HDR_HEADER) !== HDRS_MAGIC) {
    throw new LoaderError('bad-magic', 'Not a Linux bzImage: no "HdrS" signature at 0x202 (a kernel older than boot protocol 2.00).');
  }
  const version = u16(image, HDR_VERSION);
  const versionText = `${version >> 8}.${(version & 0xff).toString().padStart(2, '0')}`;
  if (version < MIN_PROTOCOL_64) {
    throw new LoaderError('unsupported', `The kernel speaks boot protocol ${versionText}; the 64-bit entry needs 2.12 or later (xloadflags).`);
  }
  const xloadflags = u16(image, HDR_XLOADFLAGS);
  if ((xloadflags & XLF_KERNEL_64) === 0) {
    throw new LoaderError('unsupported', 'The kernel has no 64-bit entry point (XLF_KERNEL_64 is clear in xloadflags): a 32-bit kernel, which this loader does not boot.');
  }
  const setupSects = image[HDR_SETUP_SECTS] === 0 ? 4 : image[HDR_SETUP_SECTS];
  const kernelOffset = (setupSects + 1) * 512;
  if (kernelOffset + ENTRY_64_OFFSET >= image.length) {
    throw new LoaderError('truncated', `The image is ${image.length} bytes long but its ${setupSects} setup sectors put the protected-mode kernel at ${hex(kernelOffset)}, leaving no 64-bit entry point.`);
  }
  const headerEnd = 0x202 + image[0x201];
  const kernelAlignment = u32(image, HDR_KERNEL_ALIGNMENT);
  if (kernelAlignment === 0 || (kernelAlignment & (kernelAlignment - 1)) !== 0) {
    throw new LoaderError('invalid', `The kernel's kernel_alignment ${hex(kernelAlignment)} is not a power of two.`);
  }
  if (u32(image, HDR_PREF_ADDRESS + 4) !== 0) {
    throw new LoaderError('unsupported', 'The kernel\'s pref_address is above 4 GiB; this loader places kernels below 4 GiB.');
  }
  const prefAddress = u32(image, HDR_PREF_ADDRESS);
  const initSize = u32(image, HDR_INIT_SIZE);
  const payload = image.length - kernelOffset;
  if (initSize < payload) {
    throw new LoaderError('invalid', `The kernel's init_size ${hex(initSize)} is smaller than its protected-mode part (${hex(payload)} bytes).`);
  }
  if (prefAddress % kernelAlignment !== 0 && image[HDR_RELOCATABLE_KERNEL] === 0) {
    throw new LoaderError('invalid', `The kernel's pref_address ${hex(prefAddress)} is not aligned to its kernel_alignment ${hex(kernelAlignment)}.`);
  }
  return {
    version,
    setupSects,
    kernelOffset,
    headerEnd: Math.min(headerEnd, 0x290),
    loadflags: image[HDR_LOADFLAGS],
    xloadflags,
    initrdAddrMax: u32(image, HDR_INITRD_ADDR_MAX),
    kernelAlignment,
    relocatable: image[HDR_RELOCATABLE_KERNEL] !== 0,
    cmdlineSize: version >= 0x0206 ? u32(image, HDR_CMDLINE_SIZE) : 255,
    prefAddress,
    initSize,
  };
}

/** What the loader puts into boot_params besides the copied setup header. */
export interface BootParamsFields {
  cmdlineAddress: number;
  ramdisk: { address: number; size: number } | null;
  e820: readonly E820Entry[];
  /** acpi_rsdp_addr, written only when the protocol has the field (2.14+). */
  acpiRsdp: number | null;
}

function put32(b: Uint8Array, o: number, v: number): void {
  b[o] = v & 0xff;
  b[o + 1] = (v >>> 8) & 0xff;
  b[o + 2] = (v >>> 16) & 0xff;
  b[o + 3] = (v >>> 24) & 0xff;
}
function put64(b: Uint8Array, o: number, v: number): void {
  put32(b, o, v >>> 0);
  put32(b, o + 4, Math.floor(v / 0x1_0000_0000) >>> 0);
}

/**
 * The zero page: all zero, the image's setup header copied to 0x1f1 (up to its end, as the
 * 64-bit protocol says), then the loader's fields: type_of_loader 0xff, loadflags with
 * LOADED_HIGH and CAN_USE_HEAP, heap_end_ptr, cmd_line_ptr, the ramdisk, the e820 table and
 * acpi_rsdp_addr. Addresses are split into the header's low half and ext_* high half.
 */
export function encodeBootParams(image: Uint8Array, hdr: SetupHeader, f: BootParamsFields): Uint8Array {
  if (f.e820.length > BP_E820_MAX) {
    throw new LoaderError('invalid', `The memory map has ${f.e820.length} entries; the zero page holds at most ${BP_E820_MAX}.`);
  }
  const bp = new Uint8Array(BOOT_PARAMS_SIZE);
  bp.set(image.subarray(SETUP_HEADER_OFFSET, hdr.headerEnd), SETUP_HEADER_OFFSET);
  bp[HDR_TYPE_OF_LOADER] = LOADER_TYPE_UNDEFINED;
  bp[HDR_LOADFLAGS] = hdr.loadflags | LOADED_HIGH | CAN_USE_HEAP;
  // heap_end_ptr: the end of the real-mode heap relative to the setup code (0xfe00, the
  // customary value); only the 16-bit entry uses it.
  bp[HDR_HEAP_END_PTR] = 0x00;
  bp[HDR_HEAP_END_PTR + 1] = 0xfe;
  put32(bp, HDR_CMD_LINE_PTR, f.cmdlineAddress >>> 0);
  put32(bp, BP_EXT_CMD_LINE_PTR, Math.floor(f.cmdlineAddress / 0x1_0000_0000));
  if (f.ramdisk !== null) {
    put32(bp, HDR_RAMDISK_IMAGE, f.ramdisk.address >>> 0);
    put32(bp, BP_EXT_RAMDISK_IMAGE, Math.floor(f.ramdisk.address / 0x1_0000_0000));
    put32(bp, HDR_RAMDISK_SIZE, f.ramdisk.size >>> 0);
    put32(bp, BP_EXT_RAMDISK_SIZE, Math.floor(f.ramdisk.size / 0x1_0000_0000));
  } else {
    put32(bp, HDR_RAMDISK_IMAGE, 0);
    put32(bp, HDR_RAMDISK_SIZE, 0);
  }
  // alt_mem_k: KiB of memory above 1 MiB (old kernels' fallback when there is no e820 map).
  let above1M = 0;
  for (const e of f.e820) if (e.type === 1 && e.base >= 0x100000) above1M += e.length;
  put32(bp, BP_ALT_MEM_K, Math.min(Math.floor(above1M / 1024), 0xffffffff));
  bp[BP_E820_ENTRIES] = f.e820.length;
  f.e820.forEach((e, i) => {
    const o = BP_E820_TABLE + i * E820_ENTRY_SIZE;
    put64(bp, o, e.base);
    put64(bp, o + 8, e.length);
    put32(bp, o + 16, e.type);
  });
  if (f.acpiRsdp !== null && hdr.version >= PROTOCOL_ACPI_RSDP) put64(bp, BP_ACPI_RSDP_ADDR, f.acpiRsdp);
  bp[BP_SENTINEL] = 0;
  return bp;
}

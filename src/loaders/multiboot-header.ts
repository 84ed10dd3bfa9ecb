// Finding and decoding the Multiboot v1 header of an OS image.
//
// Reference: The Multiboot Specification version 0.6.96, section 3.1 "OS image format".

import { LoaderError } from './errors.js';
import { hex } from './guest-ram.js';

/** 3.1.2: the header's magic field. */
export const MULTIBOOT_HEADER_MAGIC = 0x1badb002;
/** 3.1.1: the header lies wholly within the first 8192 bytes of the image, 32-bit aligned. */
export const MULTIBOOT_SEARCH = 8192;

/** 3.1.2 flags, bits 0-15 are requirements a boot loader must honour or refuse. */
export const MULTIBOOT_PAGE_ALIGN = 1 << 0; // modules aligned on 4 KiB page boundaries
export const MULTIBOOT_MEMORY_INFO = 1 << 1; // mem_* fields (and the memory map) wanted
export const MULTIBOOT_VIDEO_MODE = 1 << 2; // video mode table wanted
/** Bits 16-31 are optional features; bit 16 says the address fields (3.1.3) are valid. */
export const MULTIBOOT_AOUT_KLUDGE = 1 << 16;

/** Requirement bits this loader understands. Bit 2 is accepted and ignored (see below). */
const KNOWN_REQUIREMENTS = MULTIBOOT_PAGE_ALIGN | MULTIBOOT_MEMORY_INFO | MULTIBOOT_VIDEO_MODE;

/** 3.1.3: the address fields, valid when flags bit 16 is set. All are physical addresses. */
export interface MultibootAddressFields {
  headerAddr: number;
  loadAddr: number;
  /** 0 = load up to the end of the file. */
  loadEndAddr: number;
  /** 0 = no bss. */
  bssEndAddr: number;
  entryAddr: number;
}

export interface MultibootHeader {
  /** File offset of the magic field. */
  offset: number;
  flags: number;
  checksum: number;
  /** Present when flags bit 16 (the a.out kludge) is set. */
  addresses: MultibootAddressFields | null;
}

/**
 * Finds the multiboot header: the first 32-bit aligned offset in the first 8192 bytes
 * holding the magic whose checksum field makes magic + flags + checksum = 0 (mod 2^32).
 *
 * Requirement bits 0 and 1 are always satisfied by loadMultiboot (modules are always
 * page-aligned and memory information is always given). Bit 2 (video mode) is accepted
 * but no video information is provided (info flags bits 11/12 stay clear), which is what
 * QEMU does; a kernel has to check those info flags anyway. Any other requirement bit in
 * 0-15 makes the image refused, as the specification demands (3.1.2).
 */
export function findMultibootHeader(image: Uint8Array): MultibootHeader {
  const dv = new DataView(image.buffer, image.byteOffset, image.byteLength);
  const searchEnd = Math.min(MULTIBOOT_SEARCH, image.length);
  let badChecksumAt = -1;
  let badSum = 0;
  for (let off = 0; off + 12 <= searchEnd; off += 4) {
    if (dv.getUint32(off, true) !== MULTIBOOT_HEADER_MAGIC) continue;
    const flags = dv.getUint32(off + 4, true);
    const checksum = dv.getUint32(off + 8, true);
    const sum = (MULTIBOOT_HEADER_MAGIC + flags + checksum) >>> 0;
    if (sum !== 0) {
      if (badChecksumAt < 0) {
        badChecksumAt = off;
        badSum = sum;
      }
      continue;
    }
    return decodeHeader(dv, off, flags, checksum);
  }
  if (badChecksumAt >= 0) {
    throw new LoaderError(
      'bad-checksum',
      `Multiboot header at offset ${hex(badChecksumAt)} has a bad checksum: magic + flags + checksum is ${hex(badSum)} instead of 0 (mod 2^32).`,
    );
  }
  throw new LoaderError(
    'bad-magic',
    `No multiboot header: the magic 0x1badb002 is not at any 4-byte-aligned offset in the first ${searchEnd} bytes of the ${image.length}-byte image.`,
  );
}

function decodeHeader(dv: DataView, off: number, flags: number, checksum: number): MultibootHeader {
  const unknown = flags & 0xffff & ~KNOWN_REQUIREMENTS;
  if (unknown !== 0) {
    throw new LoaderError(
      'unsupported',
      `Multiboot header flags ${hex(flags)} set requirement bits ${hex(unknown)} that this loader does not know, and the specification requires refusing such a kernel.`,
    );
  }
  if ((flags & MULTIBOOT_AOUT_KLUDGE) === 0) return { offset: off, flags, checksum, addresses: null };
  const end = off + 32;
  if (end > MULTIBOOT_SEARCH || end > dv.byteLength) {
    throw new LoaderError(
      'truncated',
      `Multiboot header at offset ${hex(off)} sets flags bit 16 but its address fields end at ${hex(end)}, past the ${end > dv.byteLength ? `end of the ${dv.byteLength}-byte image` : 'first 8192 bytes'}.`,
    );
  }
  return {
    offset: off,
    flags,
    checksum,
    addresses: {
      headerAddr: dv.getUint32(off + 12, true),
      loadAddr: dv.getUint32(off + 16, true),
      loadEndAddr: dv.getUint32(off + 20, true),
      bssEndAddr: dv.getUint32(off + 24, true),
      entryAddr: dv.getUint32(off + 28, true),
    },
  };
}

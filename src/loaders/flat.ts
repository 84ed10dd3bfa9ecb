// A flat binary: the image's bytes copied verbatim to one guest physical address.

import type { GuestMemory } from '../machine/memory.js';
import { checkAddressArgument, checkInRam, writeGuest } from './guest-ram.js';

export interface FlatLoadResult {
  /** Guest physical address of the first byte (the address passed in). */
  start: number;
  /** One past the last byte written: start + bytes.length. */
  end: number;
}

/** Copies `bytes` into guest RAM at `addr`. Throws LoaderError if any byte would land outside RAM. */
export function loadFlat(mem: GuestMemory, bytes: Uint8Array, addr: number): FlatLoadResult {
  checkAddressArgument(addr, 'the flat image load address');
  checkInRam(mem, addr, bytes.length, `the flat image (${bytes.length} bytes)`);
  writeGuest(mem, addr, bytes, 'the flat image');
  return { start: addr, end: addr + bytes.length };
}

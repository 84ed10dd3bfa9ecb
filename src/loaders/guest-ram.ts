// Placement checks and writes into guest RAM for the loaders, through GuestMemory's
// checked accessors only. Loaders first check every range they will touch (so a bad
// image leaves RAM untouched), then write; a write that still fails is reported too.

import type { GuestMemory } from '../machine/memory.js';
import { LoaderError } from './errors.js';

/** A half-open guest physical range [base, base + length). */
export interface GuestRange {
  base: number;
  length: number;
}

/** `what` at the start of a sentence. */
export function capitalize(what: string): string {
  return what.charAt(0).toUpperCase() + what.slice(1);
}

export function hex(n: number): string {
  return '0x' + n.toString(16);
}

/** Human-readable inclusive range, e.g. "0x100000-0x100fff" (or "0x100000 (empty)"). */
export function describeRange(base: number, length: number): string {
  return length > 0 ? `${hex(base)}-${hex(base + length - 1)}` : `${hex(base)} (empty)`;
}

export function alignUp(n: number, align: number): number {
  return Math.ceil(n / align) * align;
}

export function rangesOverlap(a: GuestRange, b: GuestRange): boolean {
  return a.length > 0 && b.length > 0 && a.base < b.base + b.length && b.base < a.base + a.length;
}

/** A valid guest physical address argument: a non-negative safe integer. */
export function checkAddressArgument(value: number, what: string): void {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new LoaderError('invalid', `${capitalize(what)} must be a non-negative integer guest address, got ${String(value)}.`);
  }
}

/** Throws unless [base, base+length) lies wholly in guest RAM (not past its end, not over MMIO). */
export function checkInRam(mem: GuestMemory, base: number, length: number, what: string): void {
  if (length === 0 && base >= 0 && base <= mem.size) return;
  if (mem.isRam(base, length)) return;
  const range = describeRange(base, length);
  if (base < 0 || base + length > mem.size) {
    throw new LoaderError(
      'outside-ram',
      `${capitalize(what)} (${range}) lies outside guest RAM, which is ${describeRange(0, mem.size)}.`,
    );
  }
  const window = mem.mmio.find((r) => rangesOverlap(r, { base, length }));
  const name = window === undefined ? 'an MMIO window' : `the MMIO window "${window.name}" (${describeRange(window.base, window.length)})`;
  throw new LoaderError('outside-ram', `${capitalize(what)} (${range}) overlaps ${name}, not guest RAM.`);
}

/** Copies bytes into guest RAM at gpa; throws a LoaderError if any byte would fall outside RAM. */
export function writeGuest(mem: GuestMemory, gpa: number, data: Uint8Array, what: string): void {
  if (data.length === 0) return;
  if (!mem.writeBytes(gpa, data)) {
    checkInRam(mem, gpa, data.length, what);
    // isRam said yes but the write still failed: report it rather than continue silently.
    throw new LoaderError('outside-ram', `${capitalize(what)} (${describeRange(gpa, data.length)}) could not be written to guest RAM.`);
  }
}

const ZERO_CHUNK = 1 << 20;
let zeroes: Uint8Array | null = null;

/** Zero-fills guest RAM [gpa, gpa+length) (an ELF segment's bss, for example). */
export function zeroGuest(mem: GuestMemory, gpa: number, length: number, what: string): void {
  checkInRam(mem, gpa, length, what);
  if (zeroes === null) zeroes = new Uint8Array(ZERO_CHUNK);
  for (let done = 0; done < length; done += ZERO_CHUNK) {
    const n = Math.min(ZERO_CHUNK, length - done);
    writeGuest(mem, gpa + done, n === ZERO_CHUNK ? zeroes : zeroes.subarray(0, n), what);
  }
}

// Hypercall arguments in guest memory. Xen's HVM copy_from_guest / copy_to_guest take guest
// LINEAR addresses and walk the vCPU's page tables (hvm_copy_*_guest_linear); a failed walk or a
// frame outside RAM is -EFAULT. The machine gives personalities that walk (HypervisorHost.
// linearToPhysical); a host without it (unit tests) uses the address as physical.

import type { GuestMemory } from '../machine/memory.js';

/**
 * Linear -> guest-physical for one vCPU, null when the walk faults. Optional machine service; the
 * linear address comes as 32-bit halves (64-bit linear addresses do not fit a Number exactly).
 */
export type LinearToPhysical = (vcpu: number, linearLo: number, linearHi: number, write: boolean) => number | null;

const PAGE = 4096n;
const U64 = (1n << 64n) - 1n;

export class XenGuestArgs {
  constructor(
    private readonly mem: GuestMemory,
    private readonly translate: LinearToPhysical | null,
    private readonly vcpu: number,
  ) {}

  private physical(linear: bigint, write: boolean): number | null {
    if (this.translate === null) return linear < 1n << 53n ? Number(linear) : null;
    return this.translate(this.vcpu, Number(linear & 0xffffffffn) | 0, Number(linear >> 32n) | 0, write);
  }

  /** Physical address of each page piece of [addr, addr+len), or null if any piece faults. */
  private pieces(addr: bigint, len: number, write: boolean): { pa: number; n: number }[] | null {
    if (addr < 0n || addr + BigInt(len) - 1n > U64) return null; // wraps past the top: a fault
    const out: { pa: number; n: number }[] = [];
    let a = addr;
    let left = len;
    while (left > 0) {
      const n = Math.min(left, Number(PAGE - (a % PAGE)));
      const pa = this.physical(a, write);
      if (pa === null || !this.mem.isRam(pa, n)) return null;
      out.push({ pa, n });
      a += BigInt(n);
      left -= n;
    }
    return out;
  }

  /** copy_from_guest: the bytes, or null (-EFAULT). */
  read(addr: bigint, len: number): Uint8Array | null {
    const ps = this.pieces(addr, len, false);
    if (ps === null) return null;
    const out = new Uint8Array(len);
    let o = 0;
    for (const p of ps) {
      out.set(this.mem.readBytes(p.pa, p.n)!, o);
      o += p.n;
    }
    return out;
  }

  /** copy_to_guest: false (-EFAULT, nothing written) if any byte is unreachable. */
  write(addr: bigint, data: Uint8Array): boolean {
    const ps = this.pieces(addr, data.length, true);
    if (ps === null) return false;
    let o = 0;
    for (const p of ps) {
      this.mem.writeBytes(p.pa, data.subarray(o, o + p.n));
      o += p.n;
    }
    return true;
  }
}

/** Little-endian field helpers over a struct copied in from the guest. */
export function u16(b: Uint8Array, off: number): number {
  return b[off] | (b[off + 1] << 8);
}
export function u32(b: Uint8Array, off: number): number {
  return (b[off] | (b[off + 1] << 8) | (b[off + 2] << 16) | (b[off + 3] << 24)) >>> 0;
}
/** A u64 field as a Number (exact below 2^53; larger values stay larger than any RAM address). */
export function u64(b: Uint8Array, off: number): number {
  return u32(b, off + 4) * 4294967296 + u32(b, off);
}
export function put32(b: Uint8Array, off: number, v: number): void {
  b[off] = v & 0xff;
  b[off + 1] = (v >>> 8) & 0xff;
  b[off + 2] = (v >>> 16) & 0xff;
  b[off + 3] = (v >>> 24) & 0xff;
}
export function put16(b: Uint8Array, off: number, v: number): void {
  b[off] = v & 0xff;
  b[off + 1] = (v >>> 8) & 0xff;
}
/** Write a non-negative Number below 2^64 as a u64. */
export function put64(b: Uint8Array, off: number, v: number): void {
  put32(b, off, v % 4294967296);
  put32(b, off + 4, Math.floor(v / 4294967296));
}
/** A NUL-padded char[len] of an ASCII string (truncated to len-1 so it stays terminated). */
export function charArray(s: string, len: number): Uint8Array {
  const out = new Uint8Array(len);
  for (let i = 0; i < s.length && i < len - 1; i++) out[i] = s.charCodeAt(i) & 0x7f;
  return out;
}

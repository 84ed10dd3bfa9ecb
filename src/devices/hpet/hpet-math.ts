// 64-bit unsigned arithmetic on pairs of 32-bit halves held in doubles (no BigInt on the
// register paths), and the HPET's tick <-> virtual-time conversion.
//
// Halves are integers in [0, 2^32). Every result is exact: sums stay below 2^34 and the
// conversions of an integer < 2^53 to halves divide by a power of two.

export const TWO32 = 0x1_0000_0000;

/** Main counter frequency: 10 MHz (as platform-layout.ts HPET_HZ), one tick per 100 ns. */
export const HPET_FREQ_HZ = 10_000_000;
export const HPET_TICK_NS = 100;
/** COUNTER_CLK_PERIOD in femtoseconds (IA-PC HPET 1.0a, 2.3.4): 10^15 / HPET_FREQ_HZ. */
export const HPET_PERIOD_FS = 100_000_000;

/** Main-counter ticks elapsed by virtual time `ns` (ns >= 0 integer): floor(ns / 100). */
export function hpetTicksAt(ns: number): number {
  const q = Math.floor(ns / HPET_TICK_NS);
  // Division by 100 may round up in the last place near 2^53; one exact correction.
  return q * HPET_TICK_NS > ns ? q - 1 : q;
}

/** A 64-bit value as two halves, reused by the caller to avoid allocation. */
export class U64 {
  hi = 0;
  lo = 0;
  set(hi: number, lo: number): this {
    this.hi = hi >>> 0;
    this.lo = lo >>> 0;
    return this;
  }
  /** this += n for an integer 0 <= n < 2^53, modulo 2^64. */
  addNumber(n: number): this {
    const nLo = n % TWO32;
    const nHi = (n - nLo) / TWO32;
    const lo = this.lo + nLo;
    const carry = lo >= TWO32 ? 1 : 0;
    this.lo = lo - carry * TWO32;
    this.hi = (this.hi + nHi + carry) % TWO32;
    return this;
  }
  /** this += (hi:lo) modulo 2^64. */
  add(hi: number, lo: number): this {
    const l = this.lo + lo;
    const carry = l >= TWO32 ? 1 : 0;
    this.lo = l - carry * TWO32;
    this.hi = (this.hi + hi + carry) % TWO32;
    return this;
  }
}

/**
 * (aHi:aLo - bHi:bLo) mod 2^64 as a number, or -1 if that is 2^53 or more (too far away to
 * matter: 2^53 ticks at 10 MHz are 28 years).
 */
export function diff64(aHi: number, aLo: number, bHi: number, bLo: number): number {
  let lo = aLo - bLo;
  let borrow = 0;
  if (lo < 0) {
    lo += TWO32;
    borrow = 1;
  }
  const hi = (aHi - bHi - borrow) >>> 0;
  if (hi >= 0x20_0000) return -1;
  return hi * TWO32 + lo;
}

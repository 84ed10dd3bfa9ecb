// Lazy arithmetic flags: an ALU operation records its kind, size, operands and result;
// CF/PF/AF/ZF/SF/OF are computed only when something reads them (DESIGN.md "Speed").
// Values are stored masked to the operand size (8/16 unsigned, 32 as int32, 64 as two int32).

export const enum LazyOp { NONE = 0, ADD = 1, ADC = 2, SUB = 3, SBB = 4, LOGIC = 5 }

/** Sign-bit mask of each operand size code (for 64-bit, applied to the high half). */
export const SIGN_BIT = [0x80, 0x8000, 0x80000000 | 0, 0x80000000 | 0];
/** Value mask of each operand size code (for 64-bit, both halves are full). */
export const SIZE_MASK = [0xff, 0xffff, -1, -1];

/** PARITY[b] = PF for the low byte b (PF set when the number of 1 bits is even). */
export const PARITY = new Uint8Array(256);
for (let i = 0; i < 256; i++) {
  let n = 0;
  for (let b = i; b !== 0; b >>= 1) n += b & 1;
  PARITY[i] = (n & 1) === 0 ? 4 : 0;
}

/** Unsigned a < b for 64-bit values given as halves. */
export function ult64(aLo: number, aHi: number, bLo: number, bHi: number): boolean {
  return aHi !== bHi ? aHi >>> 0 < bHi >>> 0 : aLo >>> 0 < bLo >>> 0;
}

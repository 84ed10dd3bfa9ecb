// The 256-bit IRR/ISR/TMR vector sets (Intel SDM vol. 3A 11.8.4, figure 11-20) as eight 32-bit
// words, word i holding vectors 32i..32i+31.

/** The highest vector in the set, or -1. */
export function highestBit(bits: Int32Array): number {
  for (let i = 7; i >= 0; i--) {
    const w = bits[i];
    if (w !== 0) return (i << 5) + 31 - Math.clz32(w);
  }
  return -1;
}

export function setBit(bits: Int32Array, v: number): void {
  bits[v >> 5] |= 1 << (v & 31);
}

export function clearBit(bits: Int32Array, v: number): void {
  bits[v >> 5] &= ~(1 << (v & 31));
}

export function testBit(bits: Int32Array, v: number): boolean {
  return (bits[v >> 5] & (1 << (v & 31))) !== 0;
}

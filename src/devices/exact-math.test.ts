import { describe, expect, it } from 'vitest';
import { floorDiv, floorMod, mulDivCeil, mulDivFloor } from './exact-math.js';

// Deterministic pseudo-random integers (a 32-bit LCG), no Math.random in tests either.
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s;
  };
}

describe('exact mulDiv', () => {
  it('matches BigInt floor/ceil of a*b/c for large a', () => {
    const r = lcg(7);
    const pairs: [number, number][] = [
      [596591, 500000000],
      [500000000, 596591],
      [4096, 125000000],
      [125000000, 4096],
    ];
    for (let i = 0; i < 4000; i++) {
      const [b, c] = pairs[i % pairs.length];
      // a up to ~2^52 / b so that the result fits below 2^53
      const limit = Math.floor(2 ** 52 / Math.max(1, b / c)) - 1;
      const a = ((r() * 2 ** 21 + (r() >>> 11)) % limit);
      const exact = (BigInt(a) * BigInt(b)) / BigInt(c);
      const rem = (BigInt(a) * BigInt(b)) % BigInt(c);
      expect(mulDivFloor(a, b, c)).toBe(Number(exact));
      expect(mulDivCeil(a, b, c)).toBe(Number(exact + (rem > 0n ? 1n : 0n)));
    }
  });

  it('is exact at tick boundaries', () => {
    // 10^9 ns is exactly 1193182 PIT ticks and 32768 RTC cycles.
    expect(mulDivFloor(1e9, 596591, 500000000)).toBe(1193182);
    expect(mulDivFloor(1e9 - 1, 596591, 500000000)).toBe(1193181);
    expect(mulDivCeil(1193182, 500000000, 596591)).toBe(1e9);
    expect(mulDivFloor(3600e9 * 24 * 365, 4096, 125000000)).toBe(32768 * 3600 * 24 * 365);
  });

  it('floorDiv/floorMod round toward minus infinity', () => {
    expect(floorDiv(-1, 7)).toBe(-1);
    expect(floorMod(-1, 7)).toBe(6);
    expect(floorDiv(-7, 7)).toBe(-1);
    expect(floorMod(14, 7)).toBe(0);
    expect(floorDiv(2 ** 53 - 1, 3)).toBe(Number((2n ** 53n - 1n) / 3n));
  });
});

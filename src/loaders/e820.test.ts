import { describe, expect, it } from 'vitest';
import { E820_RAM, E820_RESERVED, checkE820, contiguousUsableFrom, defaultE820 } from './e820.js';
import { expectLoaderError } from './testdata/expect-error.js';

const MiB = 1024 * 1024;

describe('defaultE820', () => {
  it('gives the PC map for 128 MiB', () => {
    expect(defaultE820(128 * MiB)).toEqual([
      { base: 0, length: 0x9fc00, type: E820_RAM },
      { base: 0x9fc00, length: 0x400, type: E820_RESERVED },
      { base: 0xf0000, length: 0x10000, type: E820_RESERVED },
      { base: 0x100000, length: 127 * MiB, type: E820_RAM },
    ]);
  });

  it('adds MMIO windows as reserved entries, sorted by base', () => {
    const map = defaultE820(64 * MiB, [
      { base: 0xfee00000, length: 0x1000 },
      { base: 0xfec00000, length: 0x1000 },
    ]);
    expect(map.slice(4)).toEqual([
      { base: 0xfec00000, length: 0x1000, type: E820_RESERVED },
      { base: 0xfee00000, length: 0x1000, type: E820_RESERVED },
    ]);
    expect(() => checkE820(map)).not.toThrow();
  });

  it('cuts usable RAM around a window that lies inside it, and merges touching windows', () => {
    const map = defaultE820(16 * MiB, [
      { base: 8 * MiB, length: 0x1000 },
      { base: 8 * MiB + 0x1000, length: 0x1000 },
    ]);
    expect(map).toEqual([
      { base: 0, length: 0x9fc00, type: E820_RAM },
      { base: 0x9fc00, length: 0x400, type: E820_RESERVED },
      { base: 0xf0000, length: 0x10000, type: E820_RESERVED },
      { base: 0x100000, length: 7 * MiB, type: E820_RAM },
      { base: 8 * MiB, length: 0x2000, type: E820_RESERVED },
      { base: 8 * MiB + 0x2000, length: 8 * MiB - 0x2000, type: E820_RAM },
    ]);
    expect(contiguousUsableFrom(map, 0x100000)).toBe(7 * MiB);
  });

  it('handles RAM smaller than conventional memory', () => {
    expect(defaultE820(0x10000)).toEqual([
      { base: 0, length: 0x10000, type: E820_RAM },
      { base: 0xf0000, length: 0x10000, type: E820_RESERVED },
    ]);
  });

  it('refuses bad arguments with a LoaderError', () => {
    expectLoaderError(() => defaultE820(0), 'invalid', /RAM size/);
    expectLoaderError(() => defaultE820(MiB, [{ base: 0x1000, length: 0 }]), 'invalid', /Reserved range 0/);
    expectLoaderError(() => defaultE820(MiB, [{ base: -1, length: 4 }]), 'invalid', /Reserved range 0/);
  });
});

describe('checkE820', () => {
  it('refuses overlapping entries and bad types', () => {
    expectLoaderError(
      () => checkE820([{ base: 0, length: 0x2000, type: 1 }, { base: 0x1000, length: 0x1000, type: 2 }]),
      'invalid',
      /entries 0x0-0x1fff and 0x1000-0x1fff overlap/,
    );
    expectLoaderError(() => checkE820([{ base: 0, length: 0x1000, type: 1.5 }]), 'invalid', /type 1.5/);
  });
});

import { describe, expect, it } from 'vitest';
import { GuestMemory } from '../machine/memory.js';
import { loadFlat } from './flat.js';
import { expectLoaderError } from './testdata/expect-error.js';
import { pattern } from './testdata/images.js';

describe('loadFlat', () => {
  it('copies the bytes verbatim to the given address', () => {
    const mem = new GuestMemory(0x20000);
    const bytes = pattern(300);
    expect(loadFlat(mem, bytes, 0x10000)).toEqual({ start: 0x10000, end: 0x10000 + 300 });
    expect(mem.readBytes(0x10000, 300)).toEqual(bytes);
    expect(mem.read8(0x10000 + 300)).toBe(0);
  });

  it('accepts an image that ends exactly at the end of RAM, and an empty image', () => {
    const mem = new GuestMemory(0x1000);
    loadFlat(mem, pattern(16), 0x1000 - 16);
    expect(mem.read8(0xfff)).toBe(pattern(16)[15]);
    expect(loadFlat(mem, new Uint8Array(0), 0x1000)).toEqual({ start: 0x1000, end: 0x1000 });
  });

  it('refuses an image that would run past the end of RAM, writing nothing', () => {
    const mem = new GuestMemory(0x1000);
    expectLoaderError(() => loadFlat(mem, pattern(32), 0xff0), 'outside-ram', /flat image .*0xff0-0x100f.* outside guest RAM/);
    expect(mem.ram.every((b) => b === 0)).toBe(true);
  });

  it('refuses an image over an MMIO window', () => {
    const mem = new GuestMemory(0x4000);
    mem.addMmio(0x2000, 0x1000, { mmioRead: () => 0, mmioWrite: () => {} }, 'test-dev');
    expectLoaderError(() => loadFlat(mem, pattern(0x100), 0x1f80), 'outside-ram', /overlaps the MMIO window "test-dev"/);
  });

  it('refuses a bad address argument', () => {
    const mem = new GuestMemory(0x1000);
    expectLoaderError(() => loadFlat(mem, pattern(4), -1), 'invalid', /non-negative integer/);
    expectLoaderError(() => loadFlat(mem, pattern(4), 1.5), 'invalid', /non-negative integer/);
  });
});

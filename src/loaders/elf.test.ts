import { describe, expect, it } from 'vitest';
import { GuestMemory } from '../machine/memory.js';
import { EM_386, EM_X86_64, PF_R, PF_W, PF_X, isElf, loadElf, parseElf } from './elf.js';
import { LoaderError } from './errors.js';
import { expectLoaderError, lcg } from './testdata/expect-error.js';
import { buildElf, pattern, type TestElf } from './testdata/images.js';

const MiB = 1024 * 1024;

/** text at 1 MiB, data + bss at 1 MiB + 4 KiB (memsz > filesz). */
function twoSegments(elfClass: 32 | 64): TestElf {
  return {
    elfClass,
    entry: 0x100010,
    segments: [
      { paddr: 0x100000, data: pattern(0x40, 1), flags: PF_R | PF_X },
      { paddr: 0x101000, data: pattern(0x30, 9), memSize: 0x1800, flags: PF_R | PF_W },
    ],
  };
}

function filledMemory(size: number, fill: number): GuestMemory {
  const mem = new GuestMemory(size);
  mem.ram.fill(fill);
  return mem;
}

describe.each([32, 64] as const)('loadElf (ELF%i)', (elfClass) => {
  it('copies p_filesz bytes to p_paddr, zero-fills up to p_memsz, and leaves the rest alone', () => {
    const mem = filledMemory(2 * MiB, 0xaa);
    const result = loadElf(mem, buildElf(twoSegments(elfClass)));
    expect(mem.readBytes(0x100000, 0x40)).toEqual(pattern(0x40, 1));
    expect(mem.readBytes(0x101000, 0x30)).toEqual(pattern(0x30, 9));
    expect(mem.readBytes(0x101030, 0x1800 - 0x30)!.every((b) => b === 0)).toBe(true);
    expect(mem.read8(0x100040)).toBe(0xaa); // between segments: untouched
    expect(mem.read8(0x102800)).toBe(0xaa); // after the bss
    expect(mem.read8(0x0fffff)).toBe(0xaa);
    expect(result.elfClass).toBe(elfClass);
    expect(result.machine).toBe(elfClass === 32 ? EM_386 : EM_X86_64);
    expect(result.entry).toBe(0x100010);
    expect(result.physicalEntry).toBe(0x100010);
    expect(result.entryHalves).toEqual([0x100010, 0]);
    expect(result.lowestAddress).toBe(0x100000);
    expect(result.highestAddress).toBe(0x102800);
    expect(result.segments.map((s) => [s.index, s.loadAddress, s.fileSize, s.memSize, s.flags])).toEqual([
      [0, 0x100000, 0x40, 0x40, PF_R | PF_X],
      [1, 0x101000, 0x30, 0x1800, PF_R | PF_W],
    ]);
  });

  it('places by p_paddr and translates a virtual entry point through its segment', () => {
    const vbase = elfClass === 32 ? 0xc0100000 : 0xffffffff80100000n;
    const entry = elfClass === 32 ? 0xc0100020 : 0xffffffff80100020n;
    const mem = new GuestMemory(2 * MiB);
    const image = buildElf({ elfClass, entry, segments: [{ paddr: 0x100000, vaddr: vbase, data: pattern(0x80) }] });
    const result = loadElf(mem, image);
    expect(mem.readBytes(0x100000, 0x80)).toEqual(pattern(0x80));
    expect(result.physicalEntry).toBe(0x100020);
    expect(result.entryHalves).toEqual(elfClass === 32 ? [0xc0100020, 0] : [0x80100020, 0xffffffff]);
    expect(result.segments[0].paddr).toBe(0x100000);
  });

  it("places by p_vaddr when asked (placement: 'vaddr')", () => {
    const mem = new GuestMemory(4 * MiB);
    const image = buildElf({ elfClass, entry: 0x200004, segments: [{ paddr: 0x100000, vaddr: 0x200000, data: pattern(16) }] });
    const result = loadElf(mem, image, { placement: 'vaddr' });
    expect(mem.readBytes(0x200000, 16)).toEqual(pattern(16));
    expect(mem.read8(0x100000)).toBe(0);
    expect(result.physicalEntry).toBe(0x200004);
    expect(result.placement).toBe('vaddr');
  });

  it('ignores non-PT_LOAD program headers and empty PT_LOAD segments', () => {
    const mem = new GuestMemory(2 * MiB);
    const image = buildElf({
      elfClass,
      entry: 0x100000,
      segments: [
        { type: 4 /* PT_NOTE */, paddr: 0x1f0000, data: pattern(8) },
        { paddr: 0x100000, data: pattern(8) },
        { paddr: 0x180000, data: new Uint8Array(0), memSize: 0 },
      ],
    });
    const result = loadElf(mem, image);
    expect(result.segments.map((s) => s.index)).toEqual([1]);
    expect(mem.read8(0x1f0000)).toBe(0);
  });

  it('refuses a segment outside guest RAM and writes nothing', () => {
    const mem = new GuestMemory(MiB);
    const image = buildElf({
      elfClass,
      entry: 0x10000,
      segments: [
        { paddr: 0x10000, data: pattern(16) },
        { paddr: 0xff000, data: pattern(16), memSize: 0x2000 },
      ],
    });
    expectLoaderError(() => loadElf(mem, image), 'outside-ram', /ELF segment 1 \(0xff000-0x100fff\) lies outside guest RAM, which is 0x0-0xfffff/);
    expect(mem.ram.every((b) => b === 0)).toBe(true);
  });

  it('refuses a segment over an MMIO window', () => {
    const mem = new GuestMemory(2 * MiB);
    mem.addMmio(0x180000, 0x1000, { mmioRead: () => 0, mmioWrite: () => {} }, 'hole');
    const image = buildElf({ elfClass, entry: 0x17f000, segments: [{ paddr: 0x17f000, data: pattern(16), memSize: 0x2000 }] });
    expectLoaderError(() => loadElf(mem, image), 'outside-ram', /ELF segment 0 .* overlaps the MMIO window "hole"/);
  });
});

describe('parseElf rejects malformed images with a LoaderError', () => {
  const good32 = (): Uint8Array => buildElf(twoSegments(32));
  const good64 = (): Uint8Array => buildElf(twoSegments(64));

  it('wrong or missing magic', () => {
    expectLoaderError(() => parseElf(new Uint8Array(0)), 'bad-magic', /Not an ELF image: it starts with nothing/);
    expectLoaderError(() => parseElf(new Uint8Array([0x4d, 0x5a, 0x90, 0])), 'bad-magic', /starts with 4d 5a 90 00 instead of the magic 7f 45 4c 46/);
    expect(isElf(good32())).toBe(true);
    expect(isElf(new Uint8Array([0x7f, 0x45]))).toBe(false);
  });

  it('truncated identification or header', () => {
    expectLoaderError(() => parseElf(good32().subarray(0, 10)), 'truncated', /shorter than the 16-byte e_ident/);
    expectLoaderError(() => parseElf(good32().subarray(0, 40)), 'truncated', /ELF32 image is truncated: 40 bytes is shorter than its 52-byte ELF header/);
    expectLoaderError(() => parseElf(good64().subarray(0, 60)), 'truncated', /ELF64 image is truncated: 60 bytes .* 64-byte ELF header/);
  });

  it('bad class, data encoding, version', () => {
    const img = good32();
    img[4] = 3;
    expectLoaderError(() => parseElf(img), 'unsupported', /class 3/);
    const be = good32();
    be[5] = 2;
    expectLoaderError(() => parseElf(be), 'unsupported', /data encoding 2 in e_ident\[EI_DATA\]; only 1 \(little-endian/);
    const ver = good32();
    ver[6] = 0;
    expectLoaderError(() => parseElf(ver), 'unsupported', /version 0/);
    const ever = good32();
    new DataView(ever.buffer).setUint32(20, 7, true);
    expectLoaderError(() => parseElf(ever), 'unsupported', /e_version 7/);
  });

  it('not an executable', () => {
    expectLoaderError(() => parseElf(buildElf({ ...twoSegments(64), type: 3 })), 'unsupported', /e_type 3 \(ET_DYN, a shared object or PIE\); only ET_EXEC/);
    expectLoaderError(() => parseElf(buildElf({ ...twoSegments(32), type: 1 })), 'unsupported', /ET_REL/);
  });

  it('not x86', () => {
    expectLoaderError(() => parseElf(buildElf({ ...twoSegments(32), machine: 40 })), 'unsupported', /ELF32 image has e_machine 40; expected 3 \(EM_386\) or 62/);
    expectLoaderError(() => parseElf(buildElf({ ...twoSegments(64), machine: EM_386 })), 'unsupported', /ELF64 image has e_machine 3; expected 62/);
    // ELF32 for x86-64 (the x32 layout) is an x86 executable too.
    expect(parseElf(buildElf({ ...twoSegments(32), machine: EM_X86_64 })).machine).toBe(EM_X86_64);
  });

  it('bad program header table', () => {
    expectLoaderError(() => parseElf(buildElf({ elfClass: 32, entry: 0, segments: [] })), 'invalid', /no program headers/);
    const ent = good64();
    new DataView(ent.buffer).setUint16(54, 32, true);
    expectLoaderError(() => parseElf(ent), 'invalid', /e_phentsize 32; a program header entry is 56 bytes/);
    const xnum = good32();
    new DataView(xnum.buffer).setUint16(44, 0xffff, true);
    expectLoaderError(() => parseElf(xnum), 'unsupported', /PN_XNUM/);
    const far = good32();
    new DataView(far.buffer).setUint32(28, 0x10000, true);
    expectLoaderError(() => parseElf(far), 'truncated', /program header table \(offset 0x10000, 2 × 32 bytes\) runs past the end/);
  });

  it('bad segments', () => {
    const s = twoSegments(32);
    expectLoaderError(
      () => parseElf(buildElf({ ...s, segments: [{ ...s.segments[0], fileSize: 0x50, memSize: 0x40 }] })),
      'invalid',
      /segment 0 has p_filesz 0x50 larger than p_memsz 0x40/,
    );
    expectLoaderError(
      () => parseElf(buildElf({ ...s, segments: [{ ...s.segments[0], offset: 0x1000 }] })),
      'truncated',
      /segment 0's file data \(offset 0x1000, 0x40 bytes\) runs past the end/,
    );
    // The image cut in the middle of the second segment's data.
    const full = good32();
    expectLoaderError(() => parseElf(full.subarray(0, full.length - 4)), 'truncated', /segment 1's file data/);
    expectLoaderError(
      () => parseElf(buildElf({ elfClass: 32, entry: 0xfffff000, segments: [{ paddr: 0xfffff000, data: pattern(4), memSize: 0x2000 }] })),
      'outside-ram',
      /segment 0 \(p_paddr 0xfffff000, 0x2000 bytes\) extends beyond the 4 GiB address space/,
    );
  });

  it('no loadable segment', () => {
    expectLoaderError(
      () => parseElf(buildElf({ elfClass: 32, entry: 0x1000, segments: [{ type: 4, paddr: 0x1000, data: pattern(4) }] })),
      'invalid',
      /no loadable \(PT_LOAD\) segment/,
    );
  });

  it('overlapping segments', () => {
    expectLoaderError(
      () =>
        parseElf(
          buildElf({
            elfClass: 64,
            entry: 0x100000,
            segments: [
              { paddr: 0x100000, data: pattern(0x100), memSize: 0x2000 },
              { paddr: 0x101000, data: pattern(0x10) },
            ],
          }),
        ),
      'overlap',
      /ELF segments 0 \(0x100000-0x101fff\) and 1 \(0x101000-0x10100f\) overlap/,
    );
  });

  it('entry point outside every segment', () => {
    expectLoaderError(() => parseElf(buildElf({ ...twoSegments(32), entry: 0x200000 })), 'invalid', /entry point 0x200000 is not inside any loadable segment/);
  });

  it('never lets anything but a LoaderError escape: every truncation and random corruption', () => {
    const mem = new GuestMemory(4 * MiB);
    for (const image of [good32(), good64()]) {
      for (let n = 0; n < image.length; n++) {
        try {
          parseElf(image.subarray(0, n));
        } catch (e) {
          expect(e).toBeInstanceOf(LoaderError);
        }
      }
      const next = lcg(elfClassSeed(image));
      for (let round = 0; round < 2000; round++) {
        const copy = image.slice();
        const flips = 1 + (next() % 4);
        for (let k = 0; k < flips; k++) copy[next() % 0x80] = next() & 0xff;
        try {
          loadElf(mem, copy);
        } catch (e) {
          expect(e).toBeInstanceOf(LoaderError);
        }
      }
    }
  });
});

function elfClassSeed(image: Uint8Array): number {
  return image[4] * 7919;
}

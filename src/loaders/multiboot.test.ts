import { describe, expect, it } from 'vitest';
import { GuestMemory } from '../machine/memory.js';
import { E820_RAM, E820_RESERVED, defaultE820, type E820Entry } from './e820.js';
import { LoaderError } from './errors.js';
import { findMultibootHeader } from './multiboot-header.js';
import { DEFAULT_MULTIBOOT_INFO_ADDRESS, loadMultiboot, qemuStyleCmdline } from './multiboot.js';
import { expectLoaderError, lcg } from './testdata/expect-error.js';
import { buildElf, concat, multibootHeader, pattern, type TestElf } from './testdata/images.js';

const MiB = 1024 * 1024;
const TEXT = 0x100000;
const DATA = 0x101000;
const BSS_END = 0x104000;

/** An ELF32 multiboot kernel: header at the start of .text (1 MiB), data + bss at 1 MiB + 4 KiB. */
function elfKernelSpec(flags = 0x3, elfClass: 32 | 64 = 32): TestElf {
  const text = concat(multibootHeader(flags), new Uint8Array(4), pattern(0x30, 3));
  return {
    elfClass,
    machine: elfClass === 32 ? 3 : 62,
    entry: TEXT + 0x10,
    segments: [
      { paddr: TEXT, data: text, flags: 5 },
      { paddr: DATA, data: pattern(0x20, 5), memSize: BSS_END - DATA, flags: 6 },
    ],
  };
}
const elfKernel = (flags = 0x3): Uint8Array => buildElf(elfKernelSpec(flags));

function rd32(mem: GuestMemory, gpa: number): number {
  const v = mem.read32(gpa);
  if (v === null) throw new Error(`read32 ${gpa.toString(16)} outside RAM`);
  return v;
}
function rd64(mem: GuestMemory, gpa: number): number {
  return rd32(mem, gpa) + rd32(mem, gpa + 4) * 0x1_0000_0000;
}
function cstring(mem: GuestMemory, gpa: number): string {
  const bytes: number[] = [];
  for (let a = gpa; ; a++) {
    const b = mem.read8(a);
    if (b === null || b === 0) break;
    bytes.push(b);
  }
  return new TextDecoder().decode(new Uint8Array(bytes));
}

describe('findMultibootHeader', () => {
  it('finds the first valid header at a 4-byte-aligned offset within 8192 bytes', () => {
    const image = concat(new Uint8Array(0x1ff4), multibootHeader(0x10003, { headerAddr: 0, loadAddr: 0, loadEndAddr: 0, bssEndAddr: 0, entryAddr: 0 }).subarray(0, 12));
    // The address fields would end past 8192: refused.
    expectLoaderError(() => findMultibootHeader(image), 'truncated', /flags bit 16 but its address fields end at 0x2014/);
    const h = findMultibootHeader(concat(new Uint8Array(0x1ff4), multibootHeader(3)));
    expect(h).toEqual({ offset: 0x1ff4, flags: 3, checksum: -(0x1badb002 + 3) >>> 0, addresses: null });
  });

  it('ignores a misaligned magic and one past 8192 bytes', () => {
    expectLoaderError(() => findMultibootHeader(concat(new Uint8Array(2), multibootHeader(0))), 'bad-magic', /No multiboot header: the magic 0x1badb002 is not at any 4-byte-aligned offset in the first 14 bytes/);
    expectLoaderError(() => findMultibootHeader(concat(new Uint8Array(8192), multibootHeader(0))), 'bad-magic', /first 8192 bytes of the 8204-byte image/);
  });

  it('reports a bad checksum when no valid header follows, and skips it when one does', () => {
    expectLoaderError(() => findMultibootHeader(concat(new Uint8Array(8), multibootHeader(3, undefined, 0x12345678))), 'bad-checksum', /header at offset 0x8 has a bad checksum: magic \+ flags \+ checksum is 0x/);
    const h = findMultibootHeader(concat(multibootHeader(3, undefined, 0), multibootHeader(1)));
    expect(h.offset).toBe(12);
  });

  it('honours requirement bits 0-2 and refuses unknown ones', () => {
    expect(findMultibootHeader(multibootHeader(0x7)).flags).toBe(7);
    expectLoaderError(() => findMultibootHeader(multibootHeader(0x8)), 'unsupported', /requirement bits 0x8 that this loader does not know/);
    expect(findMultibootHeader(multibootHeader(0x00020003)).flags).toBe(0x20003); // bit 17: optional, ignored
  });
});

describe('loadMultiboot with an ELF32 kernel', () => {
  it('loads the kernel, modules and the information structure (spec 3.3 layout)', () => {
    const mem = new GuestMemory(64 * MiB);
    mem.ram.fill(0xcc, TEXT, 0x200000);
    const env = new TextEncoder().encode('KEY=VAL\nHVSIM=1\n');
    const second = pattern(5000, 77);
    const r = loadMultiboot(mem, elfKernel(), {
      cmdline: 'x86/msr.flat arg1 arg2',
      modules: [{ data: env, string: 'env' }, { data: second, string: 'second module' }],
    });

    // Kernel.
    expect(r.kernel.format).toBe('elf32');
    expect(r.kernel.entry).toBe(TEXT + 0x10);
    expect(mem.readBytes(TEXT, 12)).toEqual(multibootHeader(3));
    expect(mem.readBytes(DATA, 0x20)).toEqual(pattern(0x20, 5));
    expect(mem.readBytes(DATA + 0x20, BSS_END - DATA - 0x20)!.every((b) => b === 0)).toBe(true);

    // Entry state (3.2).
    const s = r.state;
    expect(s.eax).toBe(0x2badb002);
    expect(s.ebx).toBe(DEFAULT_MULTIBOOT_INFO_ADDRESS);
    expect(s.eip).toBe(TEXT + 0x10);
    expect(s.cr0 & 1).toBe(1); // PE
    expect(s.cr0 & 0x80000000).toBe(0); // PG
    expect(s.eflags & (1 << 9)).toBe(0); // IF
    expect(s.eflags & (1 << 17)).toBe(0); // VM
    expect(s.a20).toBe(true);
    expect(s.cs).toMatchObject({ base: 0, limit: 0xffffffff, type: 0xb, s: 1, present: 1, db: 1, l: 0, g: 1, dpl: 0 });
    for (const seg of [s.ds, s.es, s.fs, s.gs, s.ss]) {
      expect(seg).toMatchObject({ base: 0, limit: 0xffffffff, type: 0x3, s: 1, present: 1, db: 1, g: 1, dpl: 0 });
    }
    // GDTR holds descriptors matching the caches, at the selectors given.
    expect(s.gdtr.limit).toBe(23);
    expect(rd32(mem, s.gdtr.base + s.cs.selector)).toBe(0x0000ffff);
    expect(rd32(mem, s.gdtr.base + s.cs.selector + 4)).toBe(0x00cf9b00);
    expect(rd32(mem, s.gdtr.base + s.ds.selector + 4)).toBe(0x00cf9300);

    // Information structure, field by field at the offsets of spec 3.3.
    const mbi = s.ebx;
    expect(rd32(mem, mbi + 0)).toBe(0x24d); // flags: mem, cmdline, mods, mmap, boot_loader_name
    expect(rd32(mem, mbi + 4)).toBe(639); // mem_lower (KiB, 0..0x9fc00)
    expect(rd32(mem, mbi + 8)).toBe(63 * 1024); // mem_upper (KiB from 1 MiB)
    expect(rd32(mem, mbi + 12)).toBe(0); // boot_device: not provided
    expect(cstring(mem, rd32(mem, mbi + 16))).toBe('x86/msr.flat arg1 arg2');
    expect(rd32(mem, mbi + 20)).toBe(2); // mods_count
    const mods = rd32(mem, mbi + 24);
    for (let off = 28; off < 44; off += 4) expect(rd32(mem, mbi + off)).toBe(0); // syms
    const map = defaultE820(64 * MiB);
    expect(rd32(mem, mbi + 44)).toBe(24 * map.length); // mmap_length
    const mmap = rd32(mem, mbi + 48);
    for (const off of [52, 56, 60, 68]) expect(rd32(mem, mbi + off)).toBe(0);
    expect(cstring(mem, rd32(mem, mbi + 64))).toBe('hvsim');

    // Modules: page-aligned, after the kernel's bss, in order, mod_end exclusive.
    const m0 = { start: rd32(mem, mods), end: rd32(mem, mods + 4), string: rd32(mem, mods + 8), reserved: rd32(mem, mods + 12) };
    const m1 = { start: rd32(mem, mods + 16), end: rd32(mem, mods + 20), string: rd32(mem, mods + 24) };
    expect(m0.start).toBe(BSS_END);
    expect(m0.end - m0.start).toBe(env.length);
    expect(m0.reserved).toBe(0);
    expect(cstring(mem, m0.string)).toBe('env');
    expect(mem.readBytes(m0.start, env.length)).toEqual(env);
    expect(m1.start).toBe(BSS_END + 0x1000);
    expect(m1.start % 4096).toBe(0);
    expect(m1.end).toBe(m1.start + 5000);
    expect(mem.readBytes(m1.start, 5000)).toEqual(second);
    expect(cstring(mem, m1.string)).toBe('second module');
    expect(r.modules).toEqual([
      { start: m0.start, end: m0.end, stringAddress: m0.string, string: 'env' },
      { start: m1.start, end: m1.end, stringAddress: m1.string, string: 'second module' },
    ]);

    // Memory map: size (20, not counting itself), base_addr, length, type.
    map.forEach((e, i) => {
      const at = mmap + 24 * i;
      expect(rd32(mem, at)).toBe(20);
      expect(rd64(mem, at + 4)).toBe(e.base);
      expect(rd64(mem, at + 12)).toBe(e.length);
      expect(rd32(mem, at + 20)).toBe(e.type);
    });

    // The whole block is below 640 KiB and clear of kernel and modules.
    expect(r.info.address + r.info.size).toBeLessThanOrEqual(0x9fc00);
  });

  it('gives kvm-unit-tests what lib/x86/setup.c and cstart64.S read', () => {
    // x86_64 kvm-unit-tests are linked at 4 MiB; QEMU runs them as
    //   -kernel x86/msr.flat -append "arg1 arg2" -initrd env_file
    const mem = new GuestMemory(256 * MiB);
    const spec = elfKernelSpec(0);
    spec.segments = spec.segments.map((seg) => ({ ...seg, paddr: seg.paddr + 3 * MiB }));
    spec.entry = TEXT + 3 * MiB + 0x10;
    const envText = 'QEMU_ACCEL=tcg\nBOOTLOADER=1\n';
    const r = loadMultiboot(mem, buildElf(spec), {
      cmdline: qemuStyleCmdline('x86/msr.flat', 'arg1 arg2'),
      modules: [{ data: new TextEncoder().encode(envText), string: 'env_file' }],
    });
    const bi = r.state.ebx;
    // setup_multiboot(): mods_count must be exactly 1; initrd = mods->start, size = end - start.
    expect(rd32(mem, bi + 20)).toBe(1);
    const mod = rd32(mem, bi + 24);
    const start = rd32(mem, mod);
    const size = rd32(mem, mod + 4) - start;
    expect(new TextDecoder().decode(mem.readBytes(start, size)!)).toBe(envText);
    // cstart64.S: __args = *(u32 *)(bootinfo + 16); __setup_args splits it on blanks.
    expect(cstring(mem, rd32(mem, bi + 16)).split(/[ \t]+/).filter((w) => w !== '')).toEqual(['x86/msr.flat', 'arg1', 'arg2']);
    // phys_alloc_init(edata, mem_upper * 1024 - edata): the information block must not lie in there.
    const memUpperBytes = rd32(mem, bi + 8) * 1024;
    expect(memUpperBytes).toBe(255 * MiB);
    expect(r.info.address + r.info.size).toBeLessThanOrEqual(r.kernel.lowestAddress);
    // find_highmem(): walks mmap entries with `mmap += size + 4` while below mmap_addr + mmap_length.
    const found: E820Entry[] = [];
    const mmapAddr = rd32(mem, bi + 48);
    for (let p = mmapAddr; p < mmapAddr + rd32(mem, bi + 44); p += rd32(mem, p) + 4) {
      found.push({ base: rd64(mem, p + 4), length: rd64(mem, p + 12), type: rd32(mem, p + 20) });
    }
    expect(found).toEqual(defaultE820(256 * MiB));
    expect(found.filter((e) => e.type === E820_RAM).map((e) => e.base)).toEqual([0, MiB]);
  });

  it('reports the memory map it is given and computes mem_lower / mem_upper from it', () => {
    const mem = new GuestMemory(32 * MiB);
    const e820: E820Entry[] = [
      { base: 0, length: 0x80000, type: E820_RAM },
      { base: 0xf0000, length: 0x10000, type: E820_RESERVED },
      { base: MiB, length: 7 * MiB, type: E820_RAM },
      { base: 8 * MiB, length: MiB, type: E820_RESERVED },
      { base: 9 * MiB, length: 23 * MiB, type: E820_RAM },
      { base: 0xfee00000, length: 0x1000, type: E820_RESERVED },
    ];
    const r = loadMultiboot(mem, elfKernel(), { e820, bootDevice: 0x8000ffff });
    expect(r.info.memLower).toBe(512);
    expect(r.info.memUpper).toBe(7 * 1024);
    expect(rd32(mem, r.info.address)).toBe(0x24f); // boot_device flag too
    expect(rd32(mem, r.info.address + 12)).toBe(0x8000ffff);
    expect(r.info.mmapLength).toBe(6 * 24);
    expect(rd64(mem, r.info.mmapAddress + 5 * 24 + 4)).toBe(0xfee00000);
  });

  it('places modules past a reserved hole, and gives empty modules and strings', () => {
    const mem = new GuestMemory(16 * MiB);
    const e820: E820Entry[] = [
      { base: 0, length: 0x9fc00, type: E820_RAM },
      { base: MiB, length: 0x5000, type: E820_RAM },
      { base: MiB + 0x5000, length: 0x3000, type: E820_RESERVED },
      { base: MiB + 0x8000, length: 15 * MiB - 0x8000, type: E820_RAM },
    ];
    const r = loadMultiboot(mem, elfKernel(), {
      e820,
      modules: [{ data: pattern(0x1000) }, { data: pattern(0x2000) }, { data: new Uint8Array(0) }],
    });
    expect(r.modules.map((m) => [m.start, m.end])).toEqual([
      [0x104000, 0x105000],
      [0x108000, 0x10a000],
      [0x10a000, 0x10a000],
    ]);
    expect(r.modules.map((m) => cstring(mem, m.stringAddress))).toEqual(['', '', '']);
    expect(cstring(mem, r.info.cmdlineAddress)).toBe('');
  });

  it('uses the memory MMIO windows for the default map', () => {
    const mem = new GuestMemory(8 * MiB);
    mem.addMmio(0xfec00000, 0x1000, { mmioRead: () => 0, mmioWrite: () => {} }, 'ioapic');
    const r = loadMultiboot(mem, elfKernel());
    expect(r.info.mmapLength).toBe(5 * 24);
    expect(rd64(mem, r.info.mmapAddress + 4 * 24 + 4)).toBe(0xfec00000);
    expect(rd32(mem, r.info.mmapAddress + 4 * 24 + 20)).toBe(E820_RESERVED);
  });

  it('keeps modules clear of an information block placed right after the kernel', () => {
    const mem = new GuestMemory(8 * MiB);
    const r = loadMultiboot(mem, elfKernel(), { infoAddress: BSS_END, modules: [{ data: pattern(10), string: 'm' }] });
    expect(r.info.address).toBe(BSS_END);
    expect(r.modules[0].start).toBe(BSS_END + 0x1000);
    expect(r.modules[0].start).toBeGreaterThanOrEqual(r.info.address + r.info.size);
    expect(mem.readBytes(r.modules[0].start, 10)).toEqual(pattern(10));
  });

  it('accepts another information address', () => {
    const mem = new GuestMemory(8 * MiB);
    const r = loadMultiboot(mem, elfKernel(), { infoAddress: 0x200000, cmdline: 'x' });
    expect(r.state.ebx).toBe(0x200000);
    expect(cstring(mem, rd32(mem, 0x200000 + 16))).toBe('x');
    expect(mem.read32(DEFAULT_MULTIBOOT_INFO_ADDRESS)).toBe(0);
  });
});

describe('loadMultiboot with the a.out kludge (flags bit 16)', () => {
  /** A raw image: 0x40 bytes of padding, the header at 0x40, code after it. */
  function kludgeImage(over: Partial<{ headerAddr: number; loadAddr: number; loadEndAddr: number; bssEndAddr: number; entryAddr: number }> = {}, extra = 0x100): Uint8Array {
    const a = { headerAddr: 0x200040, loadAddr: 0x200000, loadEndAddr: 0x200000 + 0x60 + extra, bssEndAddr: 0x203000, entryAddr: 0x200060, ...over };
    return concat(pattern(0x40, 11), multibootHeader(0x10002, a), pattern(extra, 21));
  }

  it('loads the file from header offset - (header_addr - load_addr) to load_addr and zeroes to bss_end_addr', () => {
    const mem = new GuestMemory(4 * MiB);
    mem.ram.fill(0xee, 0x200000, 0x204000);
    const image = kludgeImage();
    const r = loadMultiboot(mem, image);
    expect(r.kernel.format).toBe('aout-kludge');
    expect(mem.readBytes(0x200000, image.length)).toEqual(image);
    expect(mem.readBytes(0x200000 + image.length, 0x3000 - image.length)!.every((b) => b === 0)).toBe(true);
    expect(mem.read8(0x203000)).toBe(0xee);
    expect(r.state.eip).toBe(0x200060);
    expect(r.kernel.highestAddress).toBe(0x203000);
    expect(r.header.addresses).toEqual({ headerAddr: 0x200040, loadAddr: 0x200000, loadEndAddr: 0x200160, bssEndAddr: 0x203000, entryAddr: 0x200060 });
  });

  it('loads the whole rest of the file when load_end_addr is 0, with no bss when bss_end_addr is 0', () => {
    const mem = new GuestMemory(4 * MiB);
    // Header at offset 0x40 but the text starts 0x20 into the file.
    const image = kludgeImage({ headerAddr: 0x200020, loadEndAddr: 0, bssEndAddr: 0, entryAddr: 0x200020 });
    const r = loadMultiboot(mem, image);
    expect(mem.readBytes(0x200000, image.length - 0x20)).toEqual(image.subarray(0x20));
    expect(r.kernel.highestAddress).toBe(0x200000 + image.length - 0x20);
    expect(r.modules).toEqual([]);
  });

  it('refuses inconsistent address fields', () => {
    const mem = new GuestMemory(4 * MiB);
    expectLoaderError(() => loadMultiboot(mem, kludgeImage({ loadAddr: 0x200080 })), 'invalid', /load_addr 0x200080 above header_addr 0x200040/);
    expectLoaderError(() => loadMultiboot(mem, kludgeImage({ loadAddr: 0x1fff00 })), 'invalid', /header_addr - load_addr is 0x140, more than the header's file offset 0x40/);
    expectLoaderError(() => loadMultiboot(mem, kludgeImage({ loadEndAddr: 0x100000 })), 'invalid', /load_end_addr 0x100000 below load_addr/);
    expectLoaderError(() => loadMultiboot(mem, kludgeImage({ loadEndAddr: 0x210000 })), 'truncated', /load_end_addr asks for 0x10000 bytes from file offset 0x0, but the image is only 0x160 bytes long/);
    expectLoaderError(() => loadMultiboot(mem, kludgeImage({ bssEndAddr: 0x200100 })), 'invalid', /bss_end_addr 0x200100 below the end of the loaded text and data at 0x200160/);
    expectLoaderError(() => loadMultiboot(mem, kludgeImage({ entryAddr: 0x300000 })), 'invalid', /entry_addr 0x300000 is outside the loaded kernel \(0x200000-0x202fff\)/);
    expectLoaderError(
      () => loadMultiboot(mem, kludgeImage({ headerAddr: 0xfffff040, loadAddr: 0xfffff000, loadEndAddr: 0xfffff160, bssEndAddr: 0, entryAddr: 0xfffff060 })),
      'outside-ram',
      /Multiboot kernel segment 0 \(0xfffff000-0xfffff15f\) lies outside guest RAM/,
    );
    expectLoaderError(
      () => loadMultiboot(mem, kludgeImage({ headerAddr: 0xffffff40, loadAddr: 0xffffff00, loadEndAddr: 0, bssEndAddr: 0, entryAddr: 0xffffff60 })),
      'outside-ram',
      /Multiboot kernel \(0xffffff00-0x10000005f\) extends beyond the 4 GiB address space/,
    );
    expect(mem.ram.every((b) => b === 0)).toBe(true);
  });
});

describe('loadMultiboot refuses bad images and impossible placements with a LoaderError', () => {
  it('no header, bad checksum', () => {
    const mem = new GuestMemory(4 * MiB);
    expectLoaderError(() => loadMultiboot(mem, buildElf({ ...elfKernelSpec(), segments: [{ paddr: TEXT, data: pattern(64) }] })), 'bad-magic', /No multiboot header/);
    const bad = elfKernel();
    const off = findMultibootHeader(bad).offset;
    bad[off + 8] ^= 1;
    expectLoaderError(() => loadMultiboot(mem, bad), 'bad-checksum', /bad checksum/);
  });

  it('a 64-bit ELF kernel, or an ELF32 one for x86-64', () => {
    const mem = new GuestMemory(4 * MiB);
    expectLoaderError(() => loadMultiboot(mem, buildElf(elfKernelSpec(3, 64))), 'unsupported', /Multiboot kernel is a 64-bit ELF image; multiboot v1 loads only 32-bit ELF kernels \(convert it with objcopy -O elf32-i386/);
    expectLoaderError(() => loadMultiboot(mem, buildElf({ ...elfKernelSpec(), machine: 62 })), 'unsupported', /ELF32 image for e_machine 62 \(x86-64\)/);
  });

  it('neither ELF nor the a.out kludge', () => {
    expectLoaderError(() => loadMultiboot(new GuestMemory(MiB), concat(multibootHeader(3), pattern(100))), 'unsupported', /not an ELF image and its header does not set flags bit 16/);
  });

  it('a kernel outside RAM', () => {
    const mem = new GuestMemory(MiB);
    expectLoaderError(() => loadMultiboot(mem, elfKernel()), 'outside-ram', /Multiboot kernel segment 0 \(0x100000-0x10003f\) lies outside guest RAM, which is 0x0-0xfffff/);
  });

  it('a kernel over the information block', () => {
    const mem = new GuestMemory(4 * MiB);
    const spec = elfKernelSpec();
    spec.segments = [{ paddr: 0x8000, data: spec.segments[0].data, memSize: 0x2000 }];
    spec.entry = 0x8010;
    expectLoaderError(() => loadMultiboot(mem, buildElf(spec)), 'overlap', /kernel segment 0 \(0x8000-0x9fff\) overlaps the boot information block at 0x9000-0x9/);
    expect(mem.ram.every((b) => b === 0)).toBe(true);
  });

  it('an information block outside usable memory or RAM', () => {
    const mem = new GuestMemory(4 * MiB);
    expectLoaderError(() => loadMultiboot(mem, elfKernel(), { infoAddress: 0x9fc00 }), 'no-space', /information block \(0x9fc00-0x9fcff\) does not lie within one usable range/);
    expectLoaderError(() => loadMultiboot(mem, elfKernel(), { infoAddress: 4 * MiB - 8 }), 'outside-ram', /information block .* lies outside guest RAM/);
    expectLoaderError(() => loadMultiboot(mem, elfKernel(), { infoAddress: 0x9004 }), 'invalid', /0x9004 is not 8-byte aligned/);
    expectLoaderError(() => loadMultiboot(mem, elfKernel(), { cmdline: 'x'.repeat(0x9fc00) }), 'no-space', /information block .* does not lie within one usable range/);
  });

  it('modules too big for RAM', () => {
    const mem = new GuestMemory(4 * MiB);
    expectLoaderError(
      () => loadMultiboot(mem, elfKernel(), { modules: [{ data: pattern(MiB), string: 'a' }, { data: new Uint8Array(3 * MiB), string: 'initrd.img' }] }),
      'no-space',
      /Module 1 "initrd.img" \(3145728 bytes\) does not fit in usable guest RAM above 0x204000 \(guest RAM ends at 0x400000\)/,
    );
    expect(mem.ram.every((b) => b === 0)).toBe(true);
  });

  it('bad options', () => {
    const mem = new GuestMemory(4 * MiB);
    expectLoaderError(() => loadMultiboot(mem, elfKernel(), { cmdline: 'a\0b' }), 'invalid', /kernel command line contains a NUL/);
    expectLoaderError(() => loadMultiboot(mem, elfKernel(), { bootDevice: -1 }), 'invalid', /boot device -1/);
    expectLoaderError(
      () => loadMultiboot(mem, elfKernel(), { e820: [{ base: 0, length: 0x1000, type: 1 }, { base: 0x800, length: 0x1000, type: 1 }] }),
      'invalid',
      /Memory map entries .* overlap/,
    );
  });

  it('never lets anything but a LoaderError escape: every truncation and random corruption', () => {
    const images = [
      elfKernel(),
      concat(pattern(0x40, 11), multibootHeader(0x10002, { headerAddr: 0x200040, loadAddr: 0x200000, loadEndAddr: 0x200100, bssEndAddr: 0x203000, entryAddr: 0x200060 }), pattern(0xc0)),
    ];
    const mem = new GuestMemory(4 * MiB);
    images.forEach((image, which) => {
      for (let n = 0; n < image.length; n++) {
        try {
          loadMultiboot(mem, image.subarray(0, n));
        } catch (e) {
          expect(e).toBeInstanceOf(LoaderError);
        }
      }
      const next = lcg(1234 + which);
      const headerOffset = findMultibootHeader(image).offset;
      for (let round = 0; round < 1000; round++) {
        const copy = image.slice();
        const flips = 1 + (next() % 3);
        for (let k = 0; k < flips; k++) {
          // Corrupt the ELF headers or the multiboot address fields, keeping the checksum right half the time.
          const at = round % 2 === 0 ? next() % 0x80 : headerOffset + 12 + (next() % 20);
          copy[at] = next() & 0xff;
        }
        try {
          loadMultiboot(mem, copy, { modules: [{ data: pattern(100) }] });
        } catch (e) {
          expect(e).toBeInstanceOf(LoaderError);
        }
      }
    });
  });
});

// The loaders against images made by the real GNU toolchain (as, ld, objcopy), with
// readelf and nm as the reference for where things must land. Skipped without binutils.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GuestMemory } from '../machine/memory.js';
import { loadElf, parseElf } from './elf.js';
import { loadMultiboot } from './multiboot.js';
import { expectLoaderError } from './testdata/expect-error.js';

const MiB = 1024 * 1024;

function haveBinutils(): boolean {
  try {
    for (const tool of ['as', 'ld', 'objcopy', 'readelf', 'nm']) execFileSync(tool, ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

// A multiboot kernel in the style of the fixtures and kvm-unit-tests: header in its own
// section placed first, 32-bit entry code, 64-bit code after it, data, and a bss stack.
const KERNEL_S = `
    .section .multiboot, "a"
    .align 4
    .long 0x1BADB002, 0x3, -(0x1BADB002 + 0x3)
    .text
    .code32
    .globl _start
_start:
    mov $stack_top, %esp
    mov %ebx, mb_info
    hlt
    .code64
long_mode:
    movabs $0x1122334455667788, %rax
    hlt
    .data
    .globl mb_info
mb_info: .long 0
message: .ascii "loaded by hvsim"
    .bss
    .align 16
stack: .skip 0x3000
    .globl stack_top
stack_top:
`;

// The fixture layout (as fixtures/guests use): linked at 1 MiB, multiboot header first.
const LOW_LD = `
ENTRY(_start)
SECTIONS
{
    . = 0x100000;
    .text   : { *(.multiboot) *(.text) *(.text.*) }
    .rodata : { *(.rodata) *(.rodata.*) }
    .data   : ALIGN(4096) { *(.data) *(.data.*) }
    .bss    : ALIGN(4096) { *(.bss) *(.bss.*) *(COMMON) }
    /DISCARD/ : { *(.note*) *(.comment) *(.eh_frame) }
}
`;

// A higher-half kernel: linked at 0xC0100000, loaded at 1 MiB (AT()), entry virtual.
const HIGHER_HALF_LD = `
ENTRY(_start)
SECTIONS
{
    . = 0xC0100000;
    .text : AT(0x100000) { *(.multiboot) *(.text) }
    .data : AT(0x100000 + (ADDR(.data) - 0xC0100000)) { *(.data) }
    .bss : AT(0x100000 + (ADDR(.bss) - 0xC0100000)) { *(.bss) }
    /DISCARD/ : { *(.note*) *(.comment) *(.eh_frame) }
}
`;

interface ReadelfLoad {
  offset: number;
  vaddr: number;
  paddr: number;
  filesz: number;
  memsz: number;
}

function readelfLoads(file: string): ReadelfLoad[] {
  const out = execFileSync('readelf', ['-lW', file], { encoding: 'utf8' });
  return out
    .split('\n')
    .filter((l) => /^\s*LOAD\s/.test(l))
    .map((l) => {
      const f = l.trim().split(/\s+/);
      return { offset: Number(f[1]), vaddr: Number(f[2]), paddr: Number(f[3]), filesz: Number(f[4]), memsz: Number(f[5]) };
    });
}

function symbol(file: string, name: string): number {
  const out = execFileSync('nm', [file], { encoding: 'utf8' });
  const line = out.split('\n').find((l) => l.trim().endsWith(` ${name}`));
  if (line === undefined) throw new Error(`symbol ${name} not in ${file}`);
  return parseInt(line.trim().split(/\s+/)[0], 16);
}

describe.skipIf(!haveBinutils())('loaders with images from GNU as/ld/objcopy', () => {
  let dir = '';
  const path = (name: string): string => join(dir, name);

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'hvsim-loaders-'));
    writeFileSync(path('kernel.S'), KERNEL_S);
    writeFileSync(path('higher-half.ld'), HIGHER_HALF_LD);
    writeFileSync(path('low.ld'), LOW_LD);
    execFileSync('as', ['--64', '-o', path('kernel64.o'), path('kernel.S')]);
    // The fixture recipe: link as x86-64, then convert to ELF32 for multiboot loaders.
    execFileSync('ld', ['-m', 'elf_x86_64', '-T', path('low.ld'), '-o', path('kernel64.elf'), path('kernel64.o')]);
    execFileSync('objcopy', ['-O', 'elf32-i386', path('kernel64.elf'), path('kernel32.elf')]);
    // A higher-half ELF32 kernel, assembled and linked as i386 directly (no 64-bit code in it).
    writeFileSync(path('hh.S'), KERNEL_S.replace(/\.code64[\s\S]*?hlt\n/, ''));
    execFileSync('as', ['--32', '-o', path('hh.o'), path('hh.S')]);
    execFileSync('ld', ['-m', 'elf_i386', '-T', path('higher-half.ld'), '-o', path('hh.elf'), path('hh.o')]);
  });

  afterAll(() => {
    if (dir !== '') rmSync(dir, { recursive: true, force: true });
  });

  it('loads the objcopy-converted ELF32 multiboot kernel exactly where readelf says, with its bss zeroed', () => {
    const file = path('kernel32.elf');
    const image = new Uint8Array(readFileSync(file));
    const mem = new GuestMemory(16 * MiB);
    mem.ram.fill(0xff);
    const r = loadMultiboot(mem, image, { cmdline: 'kernel32.elf a b', modules: [{ data: new TextEncoder().encode('K=V\n'), string: 'env' }] });

    const loads = readelfLoads(file);
    expect(loads.length).toBeGreaterThan(0);
    expect(r.kernel.segments).toEqual(
      loads.filter((l) => l.memsz > 0).map((l) => ({ loadAddress: l.paddr, fileOffset: l.offset, fileSize: l.filesz, memSize: l.memsz })),
    );
    for (const l of loads) {
      expect(mem.readBytes(l.paddr, l.filesz)).toEqual(image.subarray(l.offset, l.offset + l.filesz));
      expect(mem.readBytes(l.paddr + l.filesz, l.memsz - l.filesz)!.every((b) => b === 0)).toBe(true);
    }
    expect(r.state.eip).toBe(symbol(file, '_start'));
    expect(r.kernel.highestAddress).toBe(symbol(file, 'stack_top'));
    expect(r.modules[0].start).toBe(Math.ceil(symbol(file, 'stack_top') / 4096) * 4096);
    expect(r.kernel.elf?.elfClass).toBe(32);
    // The 64-bit code survived the conversion byte for byte (movabs imm64).
    const text = loads[0];
    const bytes = Buffer.from(mem.readBytes(text.paddr, text.filesz)!);
    expect(bytes.includes(Buffer.from([0x48, 0xb8, 0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11]))).toBe(true);
  });

  it('refuses the unconverted ELF64 for multiboot but loads it as a plain ELF64', () => {
    const file = path('kernel64.elf');
    const image = new Uint8Array(readFileSync(file));
    expectLoaderError(() => loadMultiboot(new GuestMemory(16 * MiB), image), 'unsupported', /64-bit ELF image/);
    const mem = new GuestMemory(16 * MiB);
    const r = loadElf(mem, image);
    expect(r.elfClass).toBe(64);
    expect(r.entry).toBe(symbol(file, '_start'));
    expect(r.segments.map((s) => [s.loadAddress, s.fileOffset, s.fileSize, s.memSize])).toEqual(
      readelfLoads(file).filter((l) => l.memsz > 0).map((l) => [l.paddr, l.offset, l.filesz, l.memsz]),
    );
  });

  it('places a higher-half kernel at its AT() physical addresses and translates the entry point', () => {
    const file = path('hh.elf');
    const image = new Uint8Array(readFileSync(file));
    const elf = parseElf(image);
    const start = symbol(file, '_start');
    expect(start).toBeGreaterThanOrEqual(0xc0100000);
    expect(elf.entry).toBe(start);
    expect(elf.physicalEntry).toBe(start - 0xc0000000);
    const mem = new GuestMemory(16 * MiB);
    const r = loadMultiboot(mem, image);
    expect(r.state.eip).toBe(start - 0xc0000000);
    expect(r.kernel.lowestAddress).toBe(0x100000);
    for (const l of readelfLoads(file)) {
      expect(l.vaddr - l.paddr).toBe(0xc0000000);
      expect(mem.readBytes(l.paddr, l.filesz)).toEqual(image.subarray(l.offset, l.offset + l.filesz));
    }
  });
});

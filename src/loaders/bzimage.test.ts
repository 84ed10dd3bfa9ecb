// The bzImage loader against the Linux x86 boot protocol (Documentation/arch/x86/boot.rst and
// zero-page.rst): a synthetic image built here, hostile headers, and Debian's real kernel when
// scripts/linux/fetch.sh has put it in the cache (skipped otherwise).

import { describe, expect, it } from 'vitest';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { GuestMemory } from '../machine/memory.js';
import { defaultE820, E820_RAM, E820_RESERVED } from './e820.js';
import { expectLoaderError } from './testdata/expect-error.js';
import { BOOT_CS, BOOT_DS, LINUX_BOOT_PARAMS_ADDRESS, LINUX_CMDLINE_ADDRESS, isBzImage, loadBzImage } from './bzimage.js';
import { parseSetupHeader } from './linux-boot-params.js';

const MiB = 1024 * 1024;

interface SynthOptions {
  setupSects?: number;
  version?: number;
  xloadflags?: number;
  prefAddress?: number;
  initSize?: number;
  kernelAlignment?: number;
  initrdAddrMax?: number;
  cmdlineSize?: number;
  payload?: number;
}

/** A bzImage with the header fields of boot.rst's table at their offsets and a patterned payload. */
function synthBzImage(o: SynthOptions = {}): Uint8Array {
  const sects = o.setupSects ?? 4;
  const payload = o.payload ?? 0x3000;
  const img = new Uint8Array((sects === 0 ? 5 : sects + 1) * 512 + payload);
  const dv = new DataView(img.buffer);
  img[0x1f1] = sects;
  dv.setUint16(0x1fe, 0xaa55, true);
  img[0x200] = 0xeb; // jmp short
  img[0x201] = 0x6a; // header ends at 0x202 + 0x6a = 0x26c
  dv.setUint32(0x202, 0x53726448, true); // "HdrS"
  dv.setUint16(0x206, o.version ?? 0x020f, true);
  img[0x210] = 0;
  img[0x211] = 0x01; // LOADED_HIGH, as a bzImage says
  dv.setUint32(0x22c, o.initrdAddrMax ?? 0x7fffffff, true);
  dv.setUint32(0x230, o.kernelAlignment ?? 0x200000, true);
  img[0x234] = 1;
  img[0x235] = 21;
  dv.setUint16(0x236, o.xloadflags ?? 0x7f, true);
  dv.setUint32(0x238, o.cmdlineSize ?? 0x7ff, true);
  dv.setUint32(0x258, o.prefAddress ?? 0x1000000, true);
  dv.setUint32(0x260, o.initSize ?? 0x100000, true);
  const start = (sects === 0 ? 5 : sects + 1) * 512;
  for (let i = start; i < img.length; i++) img[i] = (i * 7 + 3) & 0xff;
  return img;
}

const rd32 = (m: GuestMemory, a: number): number => m.read32(a) ?? -1;
const rd64 = (m: GuestMemory, a: number): number => rd32(m, a) + rd32(m, a + 4) * 0x1_0000_0000;

describe('parseSetupHeader', () => {
  it('reads the fields boot.rst places at 0x1f1-0x26c; setup_sects 0 means 4', () => {
    const h = parseSetupHeader(synthBzImage({ setupSects: 0 }));
    expect(h.setupSects).toBe(4);
    expect(h.kernelOffset).toBe(5 * 512);
    expect(h.headerEnd).toBe(0x26c);
    expect(h.version).toBe(0x020f);
    expect(h.prefAddress).toBe(0x1000000);
    expect(h.relocatable).toBe(true);
    expect(isBzImage(synthBzImage())).toBe(true);
  });

  it('refuses what is not a 64-bit bzImage, with one sentence each', () => {
    const noFlag = synthBzImage();
    noFlag[0x1fe] = 0;
    expectLoaderError(() => parseSetupHeader(noFlag), 'bad-magic', /boot_flag at 0x1fe/);
    const noHdrS = synthBzImage();
    noHdrS[0x203] = 0;
    expectLoaderError(() => parseSetupHeader(noHdrS), 'bad-magic', /HdrS/);
    expectLoaderError(() => parseSetupHeader(synthBzImage({ version: 0x020b })), 'unsupported', /protocol 2\.11; the 64-bit entry needs 2\.12/);
    expectLoaderError(() => parseSetupHeader(synthBzImage({ xloadflags: 0 })), 'unsupported', /XLF_KERNEL_64/);
    expectLoaderError(() => parseSetupHeader(synthBzImage({ kernelAlignment: 0x30000 })), 'invalid', /not a power of two/);
    expectLoaderError(() => parseSetupHeader(synthBzImage({ initSize: 0x10 })), 'invalid', /init_size 0x10 is smaller/);
    expectLoaderError(() => parseSetupHeader(new Uint8Array(0x100)), 'truncated', /too short/);
    // setup_sects pointing past the end of the file.
    expectLoaderError(() => parseSetupHeader(synthBzImage({ setupSects: 200, payload: 0 }).subarray(0, 0x1000)), 'truncated', /no 64-bit entry point/);
  });

  it('never throws anything but a LoaderError for corrupted headers', () => {
    const base = synthBzImage();
    for (let off = 0x1f1; off < 0x270; off++) {
      for (const v of [0x00, 0xff, 0x80]) {
        const img = base.slice();
        img[off] = v;
        try {
          parseSetupHeader(img);
        } catch (e) {
          expect((e as Error).name).toBe('LoaderError');
        }
      }
    }
  });
});

describe('loadBzImage', () => {
  it('places the kernel at pref_address and fills the zero page as zero-page.rst says', () => {
    const mem = new GuestMemory(64 * MiB);
    const img = synthBzImage();
    const initrd = new Uint8Array(0x2345).fill(0x5a);
    const e820 = defaultE820(mem.size);
    const r = loadBzImage(mem, img, { cmdline: 'console=ttyS0 quiet', initrd, e820, acpiRsdp: 0xf2400 });
    // The protected-mode kernel: the image from (setup_sects + 1) * 512, at pref_address.
    expect(r.kernel.address).toBe(0x1000000);
    expect(Array.from(mem.readBytes(0x1000000, 16)!)).toEqual(Array.from(img.subarray(5 * 512, 5 * 512 + 16)));
    const bp = LINUX_BOOT_PARAMS_ADDRESS;
    // The setup header copied from 0x1f1 to its end: "HdrS" and the version.
    expect(rd32(mem, bp + 0x202)).toBe(0x53726448);
    expect(mem.read16(bp + 0x206)).toBe(0x020f);
    // type_of_loader 0xff, loadflags LOADED_HIGH | CAN_USE_HEAP.
    expect(mem.read8(bp + 0x210)).toBe(0xff);
    expect(mem.read8(bp + 0x211)! & 0x81).toBe(0x81);
    // cmd_line_ptr -> NUL-terminated command line.
    expect(rd32(mem, bp + 0x228)).toBe(LINUX_CMDLINE_ADDRESS);
    const cl = mem.readBytes(LINUX_CMDLINE_ADDRESS, 20)!;
    expect(new TextDecoder().decode(cl.subarray(0, 19))).toBe('console=ttyS0 quiet');
    expect(cl[19]).toBe(0);
    // ramdisk_image/size: page-aligned, below initrd_addr_max, clear of the kernel's init_size, data in place.
    const rdImage = rd32(mem, bp + 0x218);
    expect(rd32(mem, bp + 0x21c)).toBe(0x2345);
    expect(rdImage % 4096).toBe(0);
    expect(rdImage + 0x2345).toBeLessThanOrEqual(mem.size);
    expect(rdImage >= 0x1000000 + 0x100000 || rdImage + 0x2345 <= 0x1000000).toBe(true);
    expect(mem.read8(rdImage + 0x2344)).toBe(0x5a);
    // Loaded as high as possible: within a page of the end of RAM.
    expect(mem.size - (rdImage + 0x2345)).toBeLessThan(4096);
    // The e820 table: count at 0x1e8, 20-byte entries from 0x2d0, BIOS area 0xf0000-0xfffff reserved.
    expect(mem.read8(bp + 0x1e8)).toBe(e820.length);
    const entries = [];
    for (let i = 0; i < e820.length; i++) {
      const o = bp + 0x2d0 + 20 * i;
      entries.push({ base: rd64(mem, o), length: rd64(mem, o + 8), type: rd32(mem, o + 16) });
    }
    expect(entries).toContainEqual({ base: 0xf0000, length: 0x10000, type: E820_RESERVED });
    expect(entries).toContainEqual({ base: 0x100000, length: 63 * MiB, type: E820_RAM });
    // acpi_rsdp_addr (protocol 2.14+) at 0x70; sentinel 0x1ef stays 0.
    expect(rd64(mem, bp + 0x70)).toBe(0xf2400);
    expect(mem.read8(bp + 0x1ef)).toBe(0);
  });

  it('enters at load address + 0x200 in 64-bit mode, RSI = boot_params, __BOOT_CS/__BOOT_DS, IF=0', () => {
    const mem = new GuestMemory(64 * MiB);
    const r = loadBzImage(mem, synthBzImage(), { e820: defaultE820(mem.size) });
    const s = r.state;
    expect(s.eip).toBe(0x1000200);
    expect(s.esi).toBe(LINUX_BOOT_PARAMS_ADDRESS);
    expect(s.eflags & (1 << 9)).toBe(0);
    expect(s.cs.selector).toBe(BOOT_CS);
    expect(BOOT_CS).toBe(0x10);
    expect(BOOT_DS).toBe(0x18);
    expect(s.cs.l).toBe(1);
    expect(s.cs.db).toBe(0); // SDM 3.4.5: L=1 requires D=0
    for (const seg of [s.ds, s.es, s.ss]) expect(seg.selector).toBe(BOOT_DS);
    // Long mode: CR0.PG|PE, CR4.PAE, EFER.LME|LMA (SDM vol. 3A 9.8.5).
    expect((s.cr0 & 0x80000001) >>> 0).toBe(0x80000001);
    expect(s.cr4 & 0x20).toBe(0x20);
    expect(s.efer & 0x500).toBe(0x500);
    // The GDT descriptors at 0x10/0x18 match: 64-bit code (L bit 53) and flat data (SDM figure 3-8).
    const gdt = s.gdtr.base;
    expect(rd32(mem, gdt + 0x14)).toBe(0x00af9b00);
    expect(rd32(mem, gdt + 0x1c)).toBe(0x00cf9300);
    // The identity map: walk CR3 for a few addresses (SDM vol. 3A 4.5: 2 MiB pages, PS in the PDE).
    const walk = (va: number): number => {
      const pml4e = rd64(mem, s.cr3 + 8 * Math.floor(va / 2 ** 39));
      const pdpte = rd64(mem, (pml4e - (pml4e % 4096)) + 8 * (Math.floor(va / 2 ** 30) % 512));
      const pde = rd64(mem, (pdpte - (pdpte % 4096)) + 8 * (Math.floor(va / 2 ** 21) % 512));
      expect(pde & 0x83).toBe(0x83); // P, R/W, PS
      return pde - (pde % 0x200000) + (va % 0x200000);
    };
    for (const va of [0, 0x1000200, 0x3fffffff, 0xfee00000, 0xffffffff]) expect(walk(va)).toBe(va);
    // The tables, GDT, zero page and command line all lie below 640 KiB, in usable RAM.
    expect(s.cr3 + 6 * 4096).toBeLessThanOrEqual(0x9fc00);
  });

  it('refuses impossible placements and leaves RAM untouched', () => {
    const mem = new GuestMemory(16 * MiB);
    expectLoaderError(() => loadBzImage(mem, synthBzImage(), { e820: defaultE820(mem.size) }), 'outside-ram', /kernel with its init_size/);
    const big = new GuestMemory(32 * MiB);
    expectLoaderError(
      () => loadBzImage(big, synthBzImage({ initrdAddrMax: 0x3fffff }), { e820: defaultE820(big.size), initrd: new Uint8Array(4 * MiB) }),
      'no-space',
      /initrd/,
    );
    expect(big.readBytes(0x1000000, 16)!.every((b) => b === 0)).toBe(true);
    expectLoaderError(
      () => loadBzImage(big, synthBzImage({ cmdlineSize: 8 }), { e820: defaultE820(big.size), cmdline: 'console=ttyS0' }),
      'invalid',
      /at most 8 \(cmdline_size\)/,
    );
    expectLoaderError(() => loadBzImage(big, synthBzImage(), { e820: defaultE820(big.size), cmdline: 'a\0b' }), 'invalid', /NUL/);
    expect(big.readBytes(LINUX_BOOT_PARAMS_ADDRESS, 4096)!.every((b) => b === 0)).toBe(true);
  });

  it('writes no acpi_rsdp_addr for a protocol older than 2.14', () => {
    const mem = new GuestMemory(64 * MiB);
    loadBzImage(mem, synthBzImage({ version: 0x020d }), { e820: defaultE820(mem.size), acpiRsdp: 0xf2400 });
    expect(rd64(mem, LINUX_BOOT_PARAMS_ADDRESS + 0x70)).toBe(0);
  });
});

/** Debian's kernel from scripts/linux/fetch.sh's cache, or null. */
function cachedDebianKernel(): string | null {
  const cache = process.env.HVSIM_CACHE ?? join(homedir(), '.cache/hvsim/debian');
  if (!existsSync(cache)) return null;
  for (const d of readdirSync(cache).sort().reverse()) {
    const boot = join(cache, d, 'boot');
    if (!d.startsWith('linux-image-') || !existsSync(boot)) continue;
    const k = readdirSync(boot).find((f) => f.startsWith('vmlinuz-'));
    if (k !== undefined) return join(boot, k);
  }
  return null;
}

const debianKernel = cachedDebianKernel();
describe.skipIf(debianKernel === null)('Debian 12 cloud kernel (run scripts/linux/fetch.sh to enable)', () => {
  it('has a 64-bit protocol header and loads at 16 MiB', () => {
    const img = new Uint8Array(readFileSync(debianKernel!));
    const h = parseSetupHeader(img);
    expect(h.version).toBeGreaterThanOrEqual(0x020c);
    expect(h.xloadflags & 1).toBe(1);
    expect(h.prefAddress).toBe(0x1000000);
    const mem = new GuestMemory(256 * MiB);
    const r = loadBzImage(mem, img, { e820: defaultE820(mem.size), cmdline: 'console=ttyS0' });
    expect(r.state.eip).toBe(0x1000200);
    expect(r.kernel.initSize).toBe(h.initSize);
  });
});
if (debianKernel === null) {
  // eslint-disable-next-line no-console
  console.log('bzimage.test: no Debian kernel in the cache; run scripts/linux/fetch.sh to test the real one');
}

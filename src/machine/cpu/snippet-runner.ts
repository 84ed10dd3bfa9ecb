// hvsim's side of the snippet contract (src/machine/snippet.ts): the same memory layout,
// descriptor table, segments and paging as the /dev/kvm oracle builds
// (tools/kvm-oracle/kvm-oracle.c), so a differential test compares like with like. The run
// stops at HLT, at the first exception (reported by vector, with the state before a fault /
// after a trap), or after a budget. One Machine is reused and put back into the snippet
// environment before each case (a fresh one costs milliseconds).

import { Machine } from '../machine.js';
import { ExitKind } from '../exit.js';
import { Seg, Cr0, Cr4, Efer } from './constants.js';
import { setFlatCs, setFlatData } from './system.js';
import { SNIPPET_CODE_ADDR, SNIPPET_DATA_ADDR, SNIPPET_DATA_SIZE, type SnippetInput, type SnippetResult } from '../snippet.js';

const MEM_SIZE = 0x200000;
const STACK_TOP = 0x9000;
const BUDGET = 100_000;
// The oracle's GDT: 0x08 flat 32-bit code, 0x10 flat data, 0x18 64-bit code, 0x28 a 64-bit TSS.
const GDT_ADDR = 0x3000;
const GDT_LIMIT = 0x37;
const TSS_ADDR = 0x3800;

const dataPattern = new Uint8Array(SNIPPET_DATA_SIZE);
for (let i = 0; i < SNIPPET_DATA_SIZE; i++) dataPattern[i] = Math.imul(i, 0x9e3779b1 | 0) >>> 24;

export class SnippetRunner {
  private readonly m = new Machine({
    memoryBytes: MEM_SIZE, vcpus: 1, unhandledIo: 'ignore', ignoreUnknownMsrs: false, exitOnPause: false, personalities: [],
  });

  run(input: SnippetInput): SnippetResult {
    const m = this.m;
    const c = m.cpus[0];
    m.mem.ram.fill(0);
    m.mem.ram.set(input.code, SNIPPET_CODE_ADDR);
    m.mem.ram.set(dataPattern, SNIPPET_DATA_ADDR);
    m.mem.ram.set(SNIPPET_SYSTEM_IMAGE, 0);
    c.resetState();
    c.flushCodeCache();
    for (let r = 0; r < 16; r++) {
      c.lo[r] = input.gprs[r][0] | 0;
      c.hi[r] = input.mode === 64 ? input.gprs[r][1] | 0 : 0;
    }
    c.setFlags((input.rflags & 0xcd5) | 2);
    if (input.mode === 16) {
      const real = (seg: number, sel: number): void => {
        c.segSel[seg] = sel;
        c.segBase[seg] = sel << 4;
        c.segLimit[seg] = 0xffff;
      };
      real(Seg.CS, 0x1000);
      real(Seg.DS, 0x2000);
      real(Seg.ES, 0x2000);
      real(Seg.SS, 0);
      real(Seg.FS, 0);
      real(Seg.GS, 0);
      c.ripLo = 0;
    } else {
      c.gdtBaseLo = GDT_ADDR;
      c.gdtLimit = GDT_LIMIT;
      c.trSel = 0x28;
      c.trBaseLo = TSS_ADDR;
      c.trLimit = 0x67;
      c.trAttr = 0x8b;
      c.cr0 = Cr0.PE | Cr0.ET | Cr0.NE;
      if (input.mode === 64) {
        c.cr3Lo = 0x4000; // the page tables of the system image
        c.cr4 = Cr4.PAE;
        c.efer = Efer.LME | Efer.LMA;
        c.cr0 |= Cr0.PG | Cr0.WP;
        setFlatCs(c, 0x18, 64, 0);
      } else {
        setFlatCs(c, 0x08, 32, 0);
      }
      for (const s of [Seg.DS, Seg.ES, Seg.FS, Seg.GS, Seg.SS]) setFlatData(c, s, 0x10, 0);
      c.ripLo = SNIPPET_CODE_ADDR;
    }
    if (input.gprs[4][0] === 0 && input.gprs[4][1] === 0) c.lo[4] = STACK_TOP;
    c.updateMode();
    c.flushTlb();
    let vector = -1;
    c.exceptionHook = (vec) => {
      vector = vec;
      return true;
    };
    const exit = m.run(0, BUDGET);
    const gprs: Array<[number, number]> = [];
    for (let r = 0; r < 16; r++) gprs.push([c.lo[r] >>> 0, input.mode === 64 ? c.hi[r] >>> 0 : 0]);
    const rflags = c.getFlags() >>> 0;
    if (vector >= 0) return { outcome: 'exception', vector, gprs, rflags };
    if (exit.kind === ExitKind.Shutdown && exit.reason === 'hlt-with-interrupts-off') return { outcome: 'hlt', gprs, rflags };
    return { outcome: 'timeout', gprs, rflags };
  }
}

/**
 * The oracle's pristine system area (0x0000-0x7fff), byte for byte: the real-mode IVT, a
 * 32-bit and a 64-bit IDT whose vector N points at a HLT stub at 0x7000+N, the GDT, and the
 * 4-level page tables. Snippets may read it (16-bit addressing wraps into it), so hvsim has
 * the same bytes even though it reports exceptions through a hook rather than these stubs.
 */
export const SNIPPET_SYSTEM_IMAGE: Uint8Array = buildSystemImage();

function buildSystemImage(): Uint8Array {
  const img = new Uint8Array(0x8000);
  const v = new DataView(img.buffer);
  const STUBS = 0x7000;
  for (let n = 0; n < 256; n++) {
    const off = STUBS + n;
    v.setUint16(4 * n, off, true); // IVT: offset, segment 0
    const g32 = 0x1000 + 8 * n; // 32-bit interrupt gate, CS 0x08 (SDM vol. 3, 6.11)
    v.setUint16(g32, off & 0xffff, true);
    v.setUint16(g32 + 2, 0x08, true);
    v.setUint16(g32 + 4, 0x8e00, true);
    v.setUint16(g32 + 6, off >>> 16, true);
    const g64 = 0x2000 + 16 * n; // 64-bit interrupt gate, CS 0x18, IST 0 (SDM vol. 3, 6.14.1)
    v.setUint16(g64, off & 0xffff, true);
    v.setUint16(g64 + 2, 0x18, true);
    v.setUint16(g64 + 4, 0x8e00, true);
    v.setUint16(g64 + 6, off >>> 16, true);
    img[STUBS + n] = 0xf4; // HLT
  }
  // GDT (SDM vol. 3, 3.4.5): [low dword, high dword] per selector.
  const put = (a: number, lo: number, hi: number): void => {
    v.setUint32(a, lo >>> 0, true);
    v.setUint32(a + 4, hi >>> 0, true);
  };
  put(GDT_ADDR + 0x08, 0x0000ffff, 0x00cf9b00); // code32: base 0, limit 4 GiB, D=1
  put(GDT_ADDR + 0x10, 0x0000ffff, 0x00cf9300); // data: base 0, limit 4 GiB, writable
  put(GDT_ADDR + 0x18, 0x0000ffff, 0x00af9b00); // code64: L=1
  put(GDT_ADDR + 0x28, (TSS_ADDR << 16) | 0x67, 0x00008b00); // 64-bit TSS
  // 4-level paging: PML4 0x4000 -> PDPT 0x5000 -> PD 0x6000, PD[0] = 2 MiB page at 0.
  put(0x4000, 0x5000 | 3, 0);
  put(0x5000, 0x6000 | 3, 0);
  put(0x6000, 0x83, 0);
  return img;
}

let shared: SnippetRunner | null = null;

export function runSnippet(input: SnippetInput): SnippetResult {
  shared ??= new SnippetRunner();
  return shared.run(input);
}

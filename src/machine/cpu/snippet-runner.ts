// hvsim's side of the snippet contract (src/machine/snippet.ts): the same memory layout,
// segments and paging as the /dev/kvm oracle builds (tools/kvm-oracle/kvm-oracle.c), so a
// differential test compares like with like. The run stops at HLT, at the first exception
// (reported by vector, with the state before a fault / after a trap), or after a budget.

import { Machine } from '../machine.js';
import { ExitKind } from '../exit.js';
import { Seg, Cr0, Cr4, Efer } from './constants.js';
import { setFlatCs, setFlatData } from './system.js';
import { SNIPPET_CODE_ADDR, SNIPPET_DATA_ADDR, SNIPPET_DATA_SIZE, type SnippetInput, type SnippetResult } from '../snippet.js';

const MEM_SIZE = 0x200000;
const STACK_TOP = 0x9000;
const BUDGET = 100_000;

function dataByte(i: number): number {
  return Math.imul(i, 0x9e3779b1 | 0) >>> 24;
}

export function runSnippet(input: SnippetInput): SnippetResult {
  const m = new Machine({
    memoryBytes: MEM_SIZE, vcpus: 1, unhandledIo: 'ignore', ignoreUnknownMsrs: false, exitOnPause: false, personalities: [],
  });
  const ram = m.mem.ram;
  ram.set(input.code, SNIPPET_CODE_ADDR);
  for (let i = 0; i < SNIPPET_DATA_SIZE; i++) ram[SNIPPET_DATA_ADDR + i] = dataByte(i);
  const c = m.cpus[0];
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
    c.cr0 = Cr0.PE | Cr0.ET | Cr0.NE;
    if (input.mode === 64) {
      // PML4 at 0x4000 -> PDPT at 0x5000 -> PD at 0x6000, PD[0] = 2 MiB page at 0 (P|RW|PS).
      m.mem.write32(0x4000, 0x5000 | 3);
      m.mem.write32(0x5000, 0x6000 | 3);
      m.mem.write32(0x6000, 0x83);
      c.cr3Lo = 0x4000;
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

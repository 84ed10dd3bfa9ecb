// Running snippets for the CPU instruction tests, with registers as BigInts.
//
// runSnippet (src/machine/cpu/snippet-runner.ts) builds a new Machine per call, which costs
// ~6 ms (mostly allocating the decoded-instruction store). The instruction tests run tens of
// thousands of cases, so `run` below keeps one Machine per test worker and puts it back into
// the snippet environment before each case: the same setup as runSnippet (memory zeroed, the
// data area pattern, page tables, segments, registers, flags), plus a CPU reset and a flush of
// the decoded-instruction cache. test/cpu/runner.test.ts checks that both give identical
// results on a sample of snippets; HVSIM_FRESH_MACHINE=1 makes `run` call runSnippet itself.
// Only guest memory below 0x30000 (system area, stack, code, data area) and the last page of
// RAM are re-zeroed between cases: snippets of these tests must not write anywhere else.

import { Machine } from '../../src/machine/machine.js';
import { ExitKind } from '../../src/machine/exit.js';
import { Seg, Cr0, Cr4, Efer } from '../../src/machine/cpu/constants.js';
import { setFlatCs, setFlatData } from '../../src/machine/cpu/system.js';
import { runSnippet } from '../../src/machine/cpu/snippet-runner.js';
import type { SnippetInput, SnippetResult, SnippetMode } from '../../src/machine/snippet.js';
import { SNIPPET_CODE_ADDR, SNIPPET_DATA_ADDR, SNIPPET_DATA_SIZE, SNIPPET_STACK_TOP, snippetDataByte } from '../oracle/snippet-env.js';

const MEM_SIZE = 0x200000;
const BUDGET = 100_000;
const FRESH = process.env.HVSIM_FRESH_MACHINE === '1';

let machine: Machine | null = null;
const dataPattern = new Uint8Array(SNIPPET_DATA_SIZE);
for (let i = 0; i < SNIPPET_DATA_SIZE; i++) dataPattern[i] = snippetDataByte(i);

/** The snippet contract on a reused Machine (same environment as runSnippet). */
export function runPooled(input: SnippetInput): SnippetResult {
  if (machine === null) {
    machine = new Machine({
      memoryBytes: MEM_SIZE, vcpus: 1, unhandledIo: 'ignore', ignoreUnknownMsrs: false, exitOnPause: false, personalities: [],
    });
  }
  const m = machine;
  const c = m.cpus[0];
  const ram = m.mem.ram;
  ram.fill(0, 0, SNIPPET_DATA_ADDR + SNIPPET_DATA_SIZE);
  ram.fill(0, MEM_SIZE - 0x1000, MEM_SIZE); // the last page (REP tests run into the end of RAM)
  ram.set(input.code, SNIPPET_CODE_ADDR);
  ram.set(dataPattern, SNIPPET_DATA_ADDR);
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
    c.cr0 = Cr0.PE | Cr0.ET | Cr0.NE;
    if (input.mode === 64) {
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
  if (input.gprs[4][0] === 0 && input.gprs[4][1] === 0) c.lo[4] = SNIPPET_STACK_TOP;
  c.updateMode(); // (the TLB is empty: resetState flushed it, nothing translated since)
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
  if (exit !== null && exit.kind === ExitKind.Shutdown && exit.reason === 'hlt-with-interrupts-off') return { outcome: 'hlt', gprs, rflags };
  return { outcome: 'timeout', gprs, rflags };
}

export const run: (input: SnippetInput) => SnippetResult = FRESH ? runSnippet : runPooled;

// ---------------------------------------------------------------------------------------
// BigInt register state
// ---------------------------------------------------------------------------------------

export const REG64 = ['rax', 'rcx', 'rdx', 'rbx', 'rsp', 'rbp', 'rsi', 'rdi', 'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15'] as const;
export type RegName = (typeof REG64)[number];
export const RAX = 0, RCX = 1, RDX = 2, RBX = 3, RSP = 4, RBP = 5, RSI = 6, RDI = 7;

export interface CpuState {
  /** 16 GPRs as unsigned 64-bit BigInts (in 16/32-bit modes only the low 32 bits of 0-7 count). */
  regs: bigint[];
  rflags: number;
}

export interface Outcome {
  outcome: 'hlt' | 'exception' | 'timeout';
  vector?: number;
  state: CpuState;
}

const M64 = (1n << 64n) - 1n;

export function toGprs(regs: bigint[]): Array<[number, number]> {
  return regs.map((v) => {
    const u = v & M64;
    return [Number(u & 0xffffffffn), Number(u >> 32n)] as [number, number];
  });
}

/** Run `code` in `mode` from `state`; the result's registers as BigInts. */
export let RUNS = 0;
export function runState(mode: SnippetMode, code: Uint8Array, state: CpuState): Outcome {
  RUNS++;
  const r = run({ mode, code, gprs: toGprs(state.regs), rflags: state.rflags });
  const regs = r.gprs.map(([lo, hi]) => (BigInt(hi) << 32n) | BigInt(lo));
  return { outcome: r.outcome, vector: r.vector, state: { regs, rflags: r.rflags } };
}

/** A register file: all zero except the given registers; RSP at the stack top. */
export function regsWith(init: Partial<Record<number, bigint>>, mode: SnippetMode = 64): bigint[] {
  const regs = new Array<bigint>(16).fill(0n);
  regs[RSP] = BigInt(SNIPPET_STACK_TOP);
  for (const [k, v] of Object.entries(init)) regs[Number(k)] = BigInt.asUintN(mode === 64 ? 64 : 32, v as bigint);
  return regs;
}

/**
 * The initial register file of a case: `noise` in every register but RSP (so that upper bits an
 * instruction must preserve or clear are non-zero), RSP at the stack top, then the case's own
 * values planted over it; truncated to 32 bits outside 64-bit mode.
 */
export function initialRegs(mode: SnippetMode, noise: bigint[] | null, plant: (regs: bigint[]) => void): bigint[] {
  const regs = new Array<bigint>(16).fill(0n);
  if (noise !== null) for (let i = 0; i < 16; i++) regs[i] = noise[i] ?? 0n;
  regs[RSP] = BigInt(SNIPPET_STACK_TOP);
  plant(regs);
  return regs.map((v) => BigInt.asUintN(mode === 64 ? 64 : 32, v));
}


// Running snippets for the CPU instruction tests, with registers as BigInts. The snippet
// environment itself (memory layout, descriptor tables, paging, a reused Machine) is
// src/machine/cpu/snippet-runner.ts, the same one the /dev/kvm differential test uses.

import { runSnippet } from '../../src/machine/cpu/snippet-runner.js';
import type { SnippetInput, SnippetResult, SnippetMode } from '../../src/machine/snippet.js';
import { SNIPPET_STACK_TOP } from '../oracle/snippet-env.js';

export const run: (input: SnippetInput) => SnippetResult = runSnippet;

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


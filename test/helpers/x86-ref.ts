// Reference-model helpers for the CPU instruction tests: BigInt arithmetic as in the Intel
// SDM's "Operation" sections and flag tables (vol. 1, 3.4.3 and appendix A; vol. 2 pages),
// written without looking at hvsim's flag code. Plus the comparison of an hvsim outcome
// against an expected state, with a readable diff.

import { expect } from 'vitest';
import type { SnippetMode } from '../../src/machine/snippet.js';
import { assemble, type AsmMode } from './asm.js';
import { runState, REG64, type CpuState, type Outcome } from './cpu-run.js';

// RFLAGS bits (SDM vol. 1, figure 3-8).
export const CF = 0x1, PF = 0x4, AF = 0x10, ZF = 0x40, SF = 0x80, DF = 0x400, OF = 0x800;
export const STATUS = CF | PF | AF | ZF | SF | OF;
/** Flags a snippet may start with and that results are compared on (the contract's set). */
export const COMPARED = STATUS | DF;

export type Width = 8 | 16 | 32 | 64;
export const WIDTHS: Width[] = [8, 16, 32, 64];

export const mask = (w: number): bigint => (1n << BigInt(w)) - 1n;
export const trunc = (v: bigint, w: number): bigint => BigInt.asUintN(w, v);
export const sx = (v: bigint, w: number): bigint => BigInt.asIntN(w, v);
export const msb = (v: bigint, w: number): boolean => ((v >> BigInt(w - 1)) & 1n) === 1n;

/** PF: set if the least-significant byte of the result has an even number of 1 bits. */
export function parity(v: bigint): boolean {
  let b = Number(v & 0xffn);
  let n = 0;
  while (b) {
    n += b & 1;
    b >>= 1;
  }
  return n % 2 === 0;
}

/** SF, ZF, PF of a w-bit result. */
export function szp(res: bigint, w: number): number {
  const r = trunc(res, w);
  return (msb(r, w) ? SF : 0) | (r === 0n ? ZF : 0) | (parity(r) ? PF : 0);
}

/** Flags of ADD/ADC: dst + src + carry, computed on the mathematical (unbounded) values. */
export function addFlags(a: bigint, b: bigint, carry: bigint, w: number): { res: bigint; flags: number } {
  const ua = trunc(a, w), ub = trunc(b, w);
  const exact = ua + ub + carry;
  const res = trunc(exact, w);
  const sexact = sx(ua, w) + sx(ub, w) + carry;
  let f = szp(res, w);
  if (exact > mask(w)) f |= CF;
  if (sexact !== sx(res, w)) f |= OF;
  if ((ua & 0xfn) + (ub & 0xfn) + carry > 0xfn) f |= AF;
  return { res, flags: f };
}

/** Flags of SUB/SBB/CMP/NEG: dst - (src + borrow). */
export function subFlags(a: bigint, b: bigint, borrow: bigint, w: number): { res: bigint; flags: number } {
  const ua = trunc(a, w), ub = trunc(b, w);
  const exact = ua - ub - borrow;
  const res = trunc(exact, w);
  const sexact = sx(ua, w) - sx(ub, w) - borrow;
  let f = szp(res, w);
  if (exact < 0n) f |= CF;
  if (sexact !== sx(res, w)) f |= OF;
  if ((ua & 0xfn) - (ub & 0xfn) - borrow < 0n) f |= AF;
  return { res, flags: f };
}

/** AND/OR/XOR/TEST: OF=CF=0, SF/ZF/PF from the result, AF undefined. */
export function logicFlags(res: bigint, w: number): number {
  return szp(res, w);
}

/** Register names by width (encoding order). */
const R8 = ['al', 'cl', 'dl', 'bl', 'spl', 'bpl', 'sil', 'dil'];
const R16 = ['ax', 'cx', 'dx', 'bx', 'sp', 'bp', 'si', 'di'];
const R32 = ['eax', 'ecx', 'edx', 'ebx', 'esp', 'ebp', 'esi', 'edi'];
export function regName(r: number, w: Width): string {
  if (r >= 8) return w === 64 ? `r${r}` : w === 32 ? `r${r}d` : w === 16 ? `r${r}w` : `r${r}b`;
  return w === 64 ? REG64[r] : w === 32 ? R32[r] : w === 16 ? R16[r] : R8[r];
}
export const PTR: Record<Width, string> = { 8: 'byte ptr', 16: 'word ptr', 32: 'dword ptr', 64: 'qword ptr' };

/** Widths an instruction can have in a mode (64-bit operands only in 64-bit mode). */
export function widthsFor(mode: SnippetMode): Width[] {
  return mode === 64 ? WIDTHS : [8, 16, 32];
}

/** Write a w-bit value into a register as the SDM says (vol. 1, 3.4.1.1): 32-bit writes zero-extend. */
export function writeReg(old: bigint, v: bigint, w: Width, high8 = false): bigint {
  if (w === 64) return trunc(v, 64);
  if (w === 32) return trunc(v, 32);
  if (high8) return (old & ~0xff00n) | (trunc(v, 8) << 8n);
  return (old & ~mask(w)) | trunc(v, w);
}

export interface Expected {
  /** Expected exception vector; registers then must equal `regs` (or the initial state). */
  vector?: number;
  /** Full expected register file (defaults to the initial one). */
  regs: bigint[];
  /** Expected RFLAGS value on the COMPARED bits. */
  flags: number;
  /** Flags the SDM leaves undefined for this case: not compared. */
  undef?: number;
  /** Registers whose content the SDM leaves undefined for this case: not compared. */
  undefRegs?: number[];
}

function hex(v: bigint): string {
  return '0x' + v.toString(16);
}

function flagStr(f: number): string {
  const names: Array<[number, string]> = [[CF, 'CF'], [PF, 'PF'], [AF, 'AF'], [ZF, 'ZF'], [SF, 'SF'], [DF, 'DF'], [OF, 'OF']];
  return names.filter(([b]) => (f & b) !== 0).map(([, n]) => n).join('|') || '0';
}

/** Compare an outcome with the expectation; throws (vitest expect) with a diff on mismatch. */
export function checkOutcome(mode: SnippetMode, src: string, init: CpuState, out: Outcome, exp: Expected): void {
  const problems: string[] = [];
  const n = mode === 64 ? 16 : 8;
  const m = mode === 64 ? mask(64) : mask(32);
  const wantOutcome = exp.vector !== undefined ? `exception ${exp.vector}` : 'hlt';
  const gotOutcome = out.outcome === 'exception' ? `exception ${out.vector}` : out.outcome;
  if (wantOutcome !== gotOutcome) problems.push(`outcome: got ${gotOutcome}, want ${wantOutcome}`);
  for (let r = 0; r < n; r++) {
    if (exp.undefRegs?.includes(r)) continue;
    const want = exp.regs[r] & m;
    const got = out.state.regs[r] & m;
    if (want !== got) problems.push(`${REG64[r]}: got ${hex(got)}, want ${hex(want)}`);
  }
  const cmp = COMPARED & ~(exp.undef ?? 0);
  if ((out.state.rflags & cmp) !== (exp.flags & cmp)) {
    problems.push(`flags (compared ${flagStr(cmp)}): got ${flagStr(out.state.rflags & cmp)}, want ${flagStr(exp.flags & cmp)}`);
  }
  if (problems.length > 0) {
    const regs = init.regs.slice(0, n).map((v, r) => (v !== (r === 4 ? 0x9000n : 0n) ? `${REG64[r]}=${hex(v & m)}` : '')).filter(Boolean);
    const msg = `[${mode}-bit] ${src.replace(/\n/g, '; ')}\n  initial: ${regs.join(' ')} flags=${flagStr(init.rflags)}\n  ${problems.join('\n  ')}`;
    expect.fail(msg);
  }
}

/**
 * Assemble `src` for `mode`, run it from `init`, compute the expectation with `model`, and
 * compare. The model gets a copy of the initial state.
 */
export function runAndCheck(
  mode: SnippetMode,
  src: string,
  init: CpuState,
  model: (s: CpuState) => Expected,
): void {
  const code = assemble(mode as AsmMode, src);
  const out = runState(mode, code, init);
  const exp = model({ regs: init.regs.slice(), rflags: init.rflags });
  checkOutcome(mode, src, init, out, exp);
}

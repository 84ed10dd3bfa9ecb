// Operand locations for the CPU instruction tests: a register (incl. AH..BH) or the memory
// slot of the data area, with the Intel-syntax text for each mode and the model's accessors.

import type { SnippetMode } from '../../src/machine/snippet.js';
import { regName, PTR, trunc, writeReg, type Width } from './x86-ref.js';

export interface RegLoc {
  kind: 'reg';
  r: number;
  /** AH, CH, DH, BH (r = 0-3). */
  high8?: boolean;
}

const H8 = ['ah', 'ch', 'dh', 'bh'];

export function reg(r: number, high8 = false): RegLoc {
  return { kind: 'reg', r, high8 };
}

export function locName(l: RegLoc, w: Width): string {
  return l.high8 ? H8[l.r] : regName(l.r, w);
}

/** Read a w-bit operand from a register file. */
export function getLoc(regs: bigint[], l: RegLoc, w: Width): bigint {
  return l.high8 ? (regs[l.r] >> 8n) & 0xffn : trunc(regs[l.r], w);
}

/** Write a w-bit operand into a register file (SDM vol. 1, 3.4.1.1 for 32-bit zero-extension). */
export function setLoc(regs: bigint[], l: RegLoc, w: Width, v: bigint): void {
  regs[l.r] = writeReg(regs[l.r], v, w, l.high8);
}

/** Put a w-bit test value into a register, keeping the register's other (random) bits. */
export function plantLoc(regs: bigint[], l: RegLoc, w: Width, v: bigint): void {
  if (l.high8) regs[l.r] = (regs[l.r] & ~0xff00n) | (trunc(v, 8) << 8n);
  else regs[l.r] = (regs[l.r] & ~((1n << BigInt(w)) - 1n)) | trunc(v, w);
}

/** The memory slot used by the tests: [base + 0x40], with the base register set by the case. */
export interface MemSlot {
  /** Base register number. */
  base: number;
  /** Base register value. */
  baseVal: bigint;
  /** Offset of the slot in the data area. */
  offset: number;
  /** Intel-syntax operand with a size keyword. */
  text(w: Width): string;
}

export function memSlot(mode: SnippetMode, disp = 0x40): MemSlot {
  // 64-bit: r13 (REX.B; its rm=101 encoding needs a displacement); 32-bit: edi; 16-bit: di (DS).
  const base = mode === 64 ? 13 : 7;
  const baseVal = mode === 16 ? 0x100n : 0x20100n;
  const bname = mode === 64 ? 'r13' : mode === 32 ? 'edi' : 'di';
  return {
    base,
    baseVal,
    offset: 0x100 + disp,
    text: (w) => `${PTR[w]} [${bname}+${disp}]`,
  };
}

/** Signed decimal text of a w-bit immediate. */
export function immText(v: bigint, w: number): string {
  return BigInt.asIntN(w, v).toString();
}

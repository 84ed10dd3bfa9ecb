// Reading and writing the operands a decoded instruction names: ModRM.reg, ModRM.rm
// (register or memory) and immediates. 64-bit values come back as a low half plus the
// high half in cpu.rHi. A read-modify-write instruction reads with readRm and writes back
// with writeRmBack, which reuses the address computed by the read.

import type { Cpu } from './cpu.js';
import { Info } from './decoded.js';
import { Vec } from './constants.js';

/** Linear address (and, outside 64-bit mode, segment and offset) of the last memory operand
 *  read by readRm, for writeRmBack. */
let memLo = 0;
let memHi = 0;

let memSeg = 0;
let memOff = 0;

export function readRm(c: Cpu, d: number, size: number): number {
  const info = c.store.info[d];
  if ((info & Info.MEM) !== 0) {
    memLo = c.ea(d);
    memHi = c.eaHi;
    if (c.codeSize !== 3) {
      memSeg = c.eaSeg;
      memOff = c.eaOff;
      c.checkSeg(memSeg, memOff, 1 << size, false);
    }
    return c.rdSize(size, memLo, memHi);
  }
  const r = (info >> Info.RM_SHIFT) & 31;
  if (size === 3) {
    c.rHi = c.hi[r];
    return c.lo[r];
  }
  c.rHi = 0;
  return c.getReg(size, r);
}

/** Write to the operand last read by readRm (same register or memory address). */
export function writeRmBack(c: Cpu, d: number, size: number, v: number, vHi: number): void {
  const info = c.store.info[d];
  if ((info & Info.MEM) !== 0) {
    if (c.codeSize !== 3) c.checkSeg(memSeg, memOff, 1 << size, true);
    c.wrSize(size, memLo, memHi, v, vHi);
    return;
  }
  writeRmReg(c, (info >> Info.RM_SHIFT) & 31, size, v, vHi);
}

/** Write the rm operand without a previous read (MOV, SETcc, POP r/m...). */
export function writeRm(c: Cpu, d: number, size: number, v: number, vHi: number): void {
  const info = c.store.info[d];
  if ((info & Info.MEM) !== 0) {
    const lo = c.ea(d);
    if (c.codeSize !== 3) c.checkSeg(c.eaSeg, c.eaOff, 1 << size, true);
    c.wrSize(size, lo, c.eaHi, v, vHi);
    return;
  }
  writeRmReg(c, (info >> Info.RM_SHIFT) & 31, size, v, vHi);
}

function writeRmReg(c: Cpu, r: number, size: number, v: number, vHi: number): void {
  if (size === 3) {
    c.lo[r] = v;
    c.hi[r] = vHi;
  } else c.setReg(size, r, v);
}

export function regField(c: Cpu, d: number): number {
  return (c.store.info[d] >> Info.REG_SHIFT) & 31;
}
export function rmField(c: Cpu, d: number): number {
  return (c.store.info[d] >> Info.RM_SHIFT) & 31;
}
export function osizeOf(c: Cpu, d: number): number {
  return c.store.info[d] & Info.OSIZE_MASK;
}
export function isMem(c: Cpu, d: number): boolean {
  return (c.store.info[d] & Info.MEM) !== 0;
}

export function readReg(c: Cpu, r: number, size: number): number {
  if (size === 3) {
    c.rHi = c.hi[r];
    return c.lo[r];
  }
  c.rHi = 0;
  return c.getReg(size, r);
}

export function writeReg(c: Cpu, r: number, size: number, v: number, vHi: number): void {
  if (size === 3) {
    c.lo[r] = v;
    c.hi[r] = vHi;
  } else c.setReg(size, r, v);
}

/** The immediate sized to the operand (sign-extended to 64 bits where the ISA says so). */
export function immOf(c: Cpu, d: number, size: number): number {
  const v = c.store.imm[d];
  c.rHi = size === 3 ? v >> 31 : 0;
  return size === 0 ? v & 0xff : size === 1 ? v & 0xffff : v;
}

/** The far pointer last read by readFarPointer: offset (with its high half) and selector. */
export const farPtr = { off: 0, offHi: 0, sel: 0 };

/**
 * Read the m16:16/32/64 operand of a far JMP/CALL or LxS into farPtr: the offset of the
 * operand size, then the 16-bit selector (SDM vol. 2, JMP/CALL/LDS). #UD for a register
 * operand; segment checks cover both parts (SDM vol. 3, 5.3).
 */
export function readFarPointer(c: Cpu, d: number): void {
  if ((c.store.info[d] & Info.MEM) === 0) c.fault(Vec.UD);
  const size = c.store.info[d] & Info.OSIZE_MASK;
  const lo = c.ea(d);
  const hi = c.eaHi;
  const n = size === 1 ? 2 : size === 2 ? 4 : 8;
  if (c.codeSize !== 3) c.checkSeg(c.eaSeg, c.eaOff, n + 2, false);
  const off = c.rdSize(size, lo, hi);
  farPtr.offHi = size === 3 ? c.rHi : 0;
  farPtr.off = size === 1 ? off & 0xffff : off;
  const t = (lo >>> 0) + n;
  farPtr.sel = c.rd16(t | 0, (hi + (t > 0xffffffff ? 1 : 0)) | 0);
}

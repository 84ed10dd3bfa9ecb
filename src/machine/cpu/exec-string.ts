// String instructions MOVS/CMPS/STOS/LODS/SCAS/INS/OUTS with REP/REPE/REPNE (SDM vol. 2,
// and vol. 1, 7.3.9). Each iteration is architecturally interruptible: RCX/RSI/RDI are
// updated per element, so a fault mid-way leaves the registers describing the remaining work.
// A REP instruction runs at most REP_CHUNK elements per retired "instruction step" so long
// copies do not delay interrupts; the CPU re-executes it (RIP unchanged) until RCX = 0.

import type { Cpu } from './cpu.js';
import { Info } from './decoded.js';
import { Seg, Flag, Vec } from './constants.js';
import { alu, alu64, AluOp } from './exec-alu.js';
import { checkIoPermission } from './exec-data.js';

export const enum Str { MOVS = 0, CMPS = 1, STOS = 2, LODS = 3, SCAS = 4, INS = 5, OUTS = 6 }

const REP_CHUNK = 4096;

/** Read an index register (RSI/RDI/RCX) at the address size; hi half in c.rHi. */
function getIdx(c: Cpu, r: number, asize: number): number {
  if (asize === 3) {
    c.rHi = c.hi[r];
    return c.lo[r];
  }
  c.rHi = 0;
  return asize === 2 ? c.lo[r] : c.lo[r] & 0xffff;
}

function addIdx(c: Cpu, r: number, asize: number, delta: number): void {
  if (asize === 3) {
    const t = (c.lo[r] >>> 0) + delta;
    c.lo[r] = t | 0;
    c.hi[r] = (c.hi[r] + (t > 0xffffffff ? 1 : t < 0 ? -1 : 0)) | 0;
  } else if (asize === 2) {
    c.lo[r] = (c.lo[r] + delta) | 0;
    c.hi[r] = 0;
  } else {
    c.lo[r] = (c.lo[r] & ~0xffff) | ((c.lo[r] + delta) & 0xffff);
  }
}

/** Linear address of seg:index, after the segment checks for an access of `bytes`. */
function linear(c: Cpu, seg: number, r: number, asize: number, bytes: number, write: boolean): number {
  const off = getIdx(c, r, asize);
  c.checkSeg(seg, off, bytes, write);
  if (asize === 3) {
    let lo = off;
    let hi = c.rHi;
    if (seg >= Seg.FS) {
      const t = (lo >>> 0) + (c.segBase[seg] >>> 0);
      lo = t | 0;
      hi = (hi + c.segBaseHi[seg] + (t > 0xffffffff ? 1 : 0)) | 0;
    }
    c.eaHi = hi;
    return lo;
  }
  return c.segAddr(seg, off);
}

function countZero(c: Cpu, asize: number): boolean {
  if (asize === 3) return (c.lo[1] | c.hi[1]) === 0;
  return (asize === 2 ? c.lo[1] : c.lo[1] & 0xffff) === 0;
}

export function stringOp(c: Cpu, d: number, kind: Str): void {
  const info = c.store.info[d];
  const size = info & Info.OSIZE_MASK;
  const asize = (info >> Info.ASIZE_SHIFT) & 3;
  const srcSeg = (info >> Info.SEG_SHIFT) & 7; // DS unless overridden
  const rep = (info >> Info.REP_SHIFT) & 3;
  const bytes = 1 << size;
  const delta = (c.flagsReg & Flag.DF) !== 0 ? -bytes : bytes;
  if (kind === Str.INS || kind === Str.OUTS) {
    checkIoPermission(c, c.lo[2] & 0xffff, bytes);
    c.breakLoop = true;
  }
  if (rep === 0) {
    step(c, kind, size, asize, srcSeg, delta);
    return;
  }
  for (let i = 0; i < REP_CHUNK; i++) {
    if (countZero(c, asize)) return;
    step(c, kind, size, asize, srcSeg, delta);
    addIdx(c, 1, asize, -1);
    // REPE/REPNE stop on the ZF condition for CMPS/SCAS only.
    if (kind === Str.CMPS || kind === Str.SCAS) {
      const zf = c.getZF();
      if ((rep === 1 && !zf) || (rep === 2 && zf)) return;
    }
  }
  if (!countZero(c, asize)) {
    // Not finished: run this instruction again from its start. Each chunk counts as one
    // instruction step, so the count stays a pure function of the guest's state.
    c.ripLo = c.curLo;
    c.ripHi = c.curHi;
  }
}

function step(c: Cpu, kind: Str, size: number, asize: number, srcSeg: number, delta: number): void {
  switch (kind) {
    case Str.MOVS: {
      const s = linear(c, srcSeg, 6, asize, 1 << size, false);
      const v = c.rdSize(size, s, c.eaHi);
      const vh = c.rHi;
      const t = linear(c, Seg.ES, 7, asize, 1 << size, true);
      c.wrSize(size, t, c.eaHi, v, vh);
      addIdx(c, 6, asize, delta);
      addIdx(c, 7, asize, delta);
      return;
    }
    case Str.STOS: {
      const t = linear(c, Seg.ES, 7, asize, 1 << size, true);
      c.wrSize(size, t, c.eaHi, size === 3 ? c.lo[0] : c.getReg(size, 0), c.hi[0]);
      addIdx(c, 7, asize, delta);
      return;
    }
    case Str.LODS: {
      const s = linear(c, srcSeg, 6, asize, 1 << size, false);
      const v = c.rdSize(size, s, c.eaHi);
      if (size === 3) {
        c.lo[0] = v;
        c.hi[0] = c.rHi;
      } else c.setReg(size, 0, v);
      addIdx(c, 6, asize, delta);
      return;
    }
    case Str.CMPS: {
      const s = linear(c, srcSeg, 6, asize, 1 << size, false);
      const a = c.rdSize(size, s, c.eaHi);
      const ah = c.rHi;
      const t = linear(c, Seg.ES, 7, asize, 1 << size, false);
      const b = c.rdSize(size, t, c.eaHi);
      if (size === 3) alu64(c, AluOp.CMP, a, ah, b, c.rHi);
      else alu(c, AluOp.CMP, size, a, b);
      addIdx(c, 6, asize, delta);
      addIdx(c, 7, asize, delta);
      return;
    }
    case Str.SCAS: {
      const t = linear(c, Seg.ES, 7, asize, 1 << size, false);
      const b = c.rdSize(size, t, c.eaHi);
      if (size === 3) alu64(c, AluOp.CMP, c.lo[0], c.hi[0], b, c.rHi);
      else alu(c, AluOp.CMP, size, c.getReg(size, 0), b);
      addIdx(c, 7, asize, delta);
      return;
    }
    case Str.INS: {
      const t = linear(c, Seg.ES, 7, asize, 1 << size, true);
      const th = c.eaHi;
      const bytes = 1 << size;
      const v = c.host.ioRead(c, c.lo[2] & 0xffff, bytes);
      c.wrSize(size, t, th, v, 0);
      addIdx(c, 7, asize, delta);
      return;
    }
    case Str.OUTS: {
      const s = linear(c, srcSeg, 6, asize, 1 << size, false);
      const v = c.rdSize(size, s, c.eaHi);
      const bytes = 1 << size;
      c.host.ioWrite(c, c.lo[2] & 0xffff, bytes, size === 2 ? v >>> 0 : v);
      addIdx(c, 6, asize, delta);
      return;
    }
    default:
      c.fault(Vec.UD);
  }
}

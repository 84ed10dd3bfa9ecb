// MMX (SDM vol. 1, chapter 9; vol. 2 pages of the same names): the 64-bit forms (no 66/F2/F3
// prefix) of the packed-integer instructions, MOVD/MOVQ, EMMS, and the MMX instructions SSE and
// SSE2 added (PSHUFW, PINSRW, PEXTRW, PMOVMSKB, MOVNTQ, MASKMOVQ, PADDQ/PSUBQ/PMULUDQ...).
//
// MM0-MM7 are the mantissas of the physical x87 registers R0-R7 (vol. 1, 9.5): every MMX
// instruction sets TOP to 0 and tags all registers valid, a write to MMi sets bits 79:64 of Ri
// to all ones, EMMS tags them all empty. The arithmetic reuses the 128-bit code on a scratch
// register (XMM index 16) holding the operand in its low half.

import type { Cpu } from './cpu.js';
import { Info } from './decoded.js';
import { Cr0, Vec } from './constants.js';
import { Fsw } from './fpu-state.js';
import { SRC, memAddr, memLo, memHi } from './exec-sse-operands.js';
import { readRm, writeRm } from './operands.js';
import { integerOp, shiftImmLanes } from './exec-sse.js';

/** Scratch register (lane index) for MMX arithmetic. */
const T = 64;

/** The MMX exception checks: #UD with CR0.EM, #NM with CR0.TS, #MF for a pending x87 exception. */
function mmxAvailable(c: Cpu): void {
  if ((c.cr0 & Cr0.EM) !== 0) c.fault(Vec.UD);
  if ((c.cr0 & Cr0.TS) !== 0) c.fault(Vec.NM);
  if ((c.fpu.fsw & Fsw.ES) !== 0 && (c.cr0 & Cr0.NE) !== 0) c.fault(Vec.MF);
}

/** The x87 side effect of an MMX instruction: TOP = 0, all tags valid. */
export function enterMmx(c: Cpu): void {
  c.fpu.top = 0;
  c.fpu.tagValid = 0xff;
}

export function writeMm(c: Cpu, r: number, lo: number, hi: number): void {
  const st = c.fpu.st;
  st[3 * r] = lo;
  st[3 * r + 1] = hi;
  st[3 * r + 2] = 0xffff;
}

/** Load mm/m64 into SRC[0..1] (SRC[2..3] = 0). */
function loadSrc(c: Cpu, d: number, info: number): void {
  if ((info & Info.MEM) !== 0) {
    memAddr(c, d, 8, false, false);
    SRC[0] = c.rd64(memLo, memHi);
    SRC[1] = c.rHi;
  } else {
    const r = (info >> Info.RM_SHIFT) & 7;
    SRC[0] = c.fpu.st[3 * r];
    SRC[1] = c.fpu.st[3 * r + 1];
  }
  SRC[2] = 0;
  SRC[3] = 0;
}

/** True when `op` (no mandatory prefix) is an MMX instruction this file executes. */
export function isMmxOp(op: number): boolean {
  return (op >= 0x160 && op <= 0x16b) || (op >= 0x16e && op <= 0x177) || op === 0x17e || op === 0x17f ||
    op === 0x1c4 || op === 0x1c5 || (op >= 0x1d1 && op <= 0x1fe && op !== 0x1d6 && op !== 0x1e6 && op !== 0x1f0);
}

export function executeMmx(c: Cpu, d: number, op: number, info: number): void {
  mmxAvailable(c);
  const f = c.fpu;
  const x = f.xmm;
  const mem = (info & Info.MEM) !== 0;
  const reg = (info >> Info.REG_SHIFT) & 7;
  switch (op) {
    case 0x177: // EMMS
      f.tagValid = 0;
      return;
    case 0x16e: { // MOVD/MOVQ mm, r/m32/64
      const q = (info & Info.REXW) !== 0;
      const v = readRm(c, d, q ? 3 : 2);
      enterMmx(c);
      writeMm(c, reg, v, q ? c.rHi : 0);
      return;
    }
    case 0x17e: { // MOVD/MOVQ r/m32/64, mm
      const q = (info & Info.REXW) !== 0;
      enterMmx(c);
      writeRm(c, d, q ? 3 : 2, f.st[3 * reg], q ? f.st[3 * reg + 1] : 0);
      return;
    }
    case 0x16f: // MOVQ mm, mm/m64
      loadSrc(c, d, info);
      enterMmx(c);
      writeMm(c, reg, SRC[0], SRC[1]);
      return;
    case 0x17f: case 0x1e7: // MOVQ mm/m64, mm; MOVNTQ m64, mm
      if (op === 0x1e7 && !mem) c.fault(Vec.UD);
      if (mem) {
        memAddr(c, d, 8, true, false);
        c.wr64(memLo, memHi, f.st[3 * reg], f.st[3 * reg + 1]);
        enterMmx(c);
      } else {
        enterMmx(c);
        writeMm(c, (info >> Info.RM_SHIFT) & 7, f.st[3 * reg], f.st[3 * reg + 1]);
      }
      return;
    case 0x170: { // PSHUFW mm, mm/m64, imm8
      loadSrc(c, d, info);
      const imm = c.store.imm[d];
      const w = (i: number): number => (SRC[i >> 1] >>> ((i & 1) * 16)) & 0xffff;
      const lo = w(imm & 3) | (w((imm >> 2) & 3) << 16);
      const hi = w((imm >> 4) & 3) | (w((imm >> 6) & 3) << 16);
      enterMmx(c);
      writeMm(c, reg, lo, hi);
      return;
    }
    case 0x171: case 0x172: case 0x173: { // shifts by an immediate, mm register only
      const sub = reg;
      if (mem || (op === 0x173 && (sub === 3 || sub === 7))) c.fault(Vec.UD);
      const r = (info >> Info.RM_SHIFT) & 7;
      x[T] = f.st[3 * r]; x[T + 1] = f.st[3 * r + 1]; x[T + 2] = 0; x[T + 3] = 0;
      shiftImmLanes(c, T, op, sub, c.store.imm[d] & 0xff);
      enterMmx(c);
      writeMm(c, r, x[T], x[T + 1]);
      return;
    }
    case 0x1c4: { // PINSRW mm, r32/m16, imm8
      const v = mem ? readRm(c, d, 1) : c.lo[(info >> Info.RM_SHIFT) & 15];
      const k = c.store.imm[d] & 3;
      let lo = f.st[3 * reg];
      let hi = f.st[3 * reg + 1];
      const sh = (k & 1) * 16;
      const m = ~(0xffff << sh);
      if (k < 2) lo = (lo & m) | ((v & 0xffff) << sh);
      else hi = (hi & m) | ((v & 0xffff) << sh);
      enterMmx(c);
      writeMm(c, reg, lo, hi);
      return;
    }
    case 0x1c5: { // PEXTRW r32, mm, imm8
      if (!mem) {
        const r = (info >> Info.RM_SHIFT) & 7;
        const k = c.store.imm[d] & 3;
        const v = (f.st[3 * r + (k >> 1)] >>> ((k & 1) * 16)) & 0xffff;
        enterMmx(c);
        const g = (info >> Info.REG_SHIFT) & 15;
        c.lo[g] = v;
        c.hi[g] = 0;
        return;
      }
      c.fault(Vec.UD);
      return;
    }
    case 0x1d7: { // PMOVMSKB r32, mm
      if (mem) c.fault(Vec.UD);
      const r = (info >> Info.RM_SHIFT) & 7;
      let v = 0;
      for (let i = 0; i < 8; i++) v |= ((f.st[3 * r + (i >> 2)] >>> (8 * (i & 3) + 7)) & 1) << i;
      enterMmx(c);
      const g = (info >> Info.REG_SHIFT) & 15;
      c.lo[g] = v;
      c.hi[g] = 0;
      return;
    }
    case 0x1f7: { // MASKMOVQ mm, mm: byte-masked store to DS:rDI
      if (mem) c.fault(Vec.UD);
      const r = (info >> Info.RM_SHIFT) & 7;
      const asize = (info >> Info.ASIZE_SHIFT) & 3;
      const seg = (info & Info.SEGOVR) !== 0 ? (info >> Info.SEG_SHIFT) & 7 : 3;
      const off = asize === 1 ? c.lo[7] & 0xffff : c.lo[7];
      let lo = off;
      let hi = asize === 3 ? c.hi[7] : 0;
      if (asize === 3) {
        if (seg >= 4) {
          const t = (lo >>> 0) + (c.segBase[seg] >>> 0);
          lo = t | 0;
          hi = (hi + c.segBaseHi[seg] + (t > 0xffffffff ? 1 : 0)) | 0;
        }
      } else {
        c.checkSeg(seg, off, 8, true);
        lo = c.segAddr(seg, off);
        hi = c.eaHi;
      }
      for (let i = 0; i < 8; i++) {
        const byteOf = (w: number): number => (w >>> (8 * (i & 3))) & 0xff;
        if ((byteOf(f.st[3 * r + (i >> 2)]) & 0x80) === 0) continue;
        const t = (lo >>> 0) + i;
        c.wr8(t | 0, t > 0xffffffff ? (hi + 1) | 0 : hi, byteOf(f.st[3 * reg + (i >> 2)]));
      }
      enterMmx(c);
      return;
    }
  }
  // Element-wise and shift-by-register instructions: the 128-bit code on the low half.
  loadSrc(c, d, info);
  x[T] = f.st[3 * reg]; x[T + 1] = f.st[3 * reg + 1]; x[T + 2] = 0; x[T + 3] = 0;
  let eff = op;
  if (op === 0x168 || op === 0x169 || op === 0x16a) {
    // PUNPCKH*: the high doublewords, as the low unpack of the operands shifted down.
    x[T] = x[T + 1]; x[T + 1] = 0;
    SRC[0] = SRC[1]; SRC[1] = 0;
    eff = op - 8;
  }
  integerOp(c, T, eff);
  if (op === 0x163 || op === 0x167 || op === 0x16b) x[T + 1] = x[T + 2]; // packs: source half after the destination's
  enterMmx(c);
  writeMm(c, reg, x[T], x[T + 1]);
}

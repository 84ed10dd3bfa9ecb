// 0F AE /0-/3: FXSAVE, FXRSTOR, LDMXCSR, STMXCSR (SDM vol. 2 pages of the same names; the
// 512-byte area is vol. 1, 10.5.1, tables 10-2 and 10-3).

import type { Cpu } from './cpu.js';
import { Info } from './decoded.js';
import { Cr0, Vec } from './constants.js';
import { Mxcsr } from './fpu-state.js';
import { memAddr, memLo, memHi, sseAvailable } from './exec-sse-operands.js';

export function ldmxcsr(c: Cpu, d: number): void {
  sseAvailable(c);
  memAddr(c, d, 4, false, false);
  const v = c.rd32(memLo, memHi);
  // Setting a reserved bit is #GP(0) (SDM LDMXCSR).
  if ((v & ~Mxcsr.MASK) !== 0) c.fault(Vec.GP, 0);
  c.fpu.mxcsr = v;
}

export function stmxcsr(c: Cpu, d: number): void {
  sseAvailable(c);
  memAddr(c, d, 4, true, false);
  c.wr32(memLo, memHi, c.fpu.mxcsr);
}

/** FXSAVE/FXRSTOR: #NM when CR0.TS or CR0.EM is set; the operand must be 16-byte aligned. */
function fxArea(c: Cpu, d: number, write: boolean): void {
  if ((c.cr0 & (Cr0.TS | Cr0.EM)) !== 0) c.fault(Vec.NM);
  memAddr(c, d, 512, write, true);
  // Check both ends so a fault leaves memory (or the registers) untouched.
  const t = (memLo >>> 0) + 511;
  const hi2 = t > 0xffffffff ? (memHi + 1) | 0 : memHi;
  c.translate(memLo, memHi, write ? 1 : 0, c.cpl === 3);
  c.translate(t | 0, hi2, write ? 1 : 0, c.cpl === 3);
}

/** Address of byte `off` of the area. */
function at(off: number): number {
  const t = (memLo >>> 0) + off;
  atHi = t > 0xffffffff ? (memHi + 1) | 0 : memHi;
  return t | 0;
}
let atHi = 0;

export function fxsave(c: Cpu, d: number): void {
  fxArea(c, d, true);
  const f = c.fpu;
  const rexW = (c.store.info[d] & Info.REXW) !== 0 && c.codeSize === 3;
  c.wr16(at(0), atHi, f.fcw);
  c.wr16(at(2), atHi, f.statusWord());
  c.wr16(at(4), atHi, f.tagValid & 0xff); // abridged tag (byte 4) and reserved byte 5
  c.wr16(at(6), atHi, f.fop & 0x7ff);
  if (rexW) {
    c.wr64(at(8), atHi, f.fipLo, f.fipHi);
    c.wr64(at(16), atHi, f.fdpLo, f.fdpHi);
  } else {
    c.wr32(at(8), atHi, f.fipLo);
    c.wr32(at(12), atHi, f.fcs & 0xffff);
    c.wr32(at(16), atHi, f.fdpLo);
    c.wr32(at(20), atHi, f.fds & 0xffff);
  }
  c.wr32(at(24), atHi, f.mxcsr);
  c.wr32(at(28), atHi, Mxcsr.MASK);
  // ST0-ST7 in stack order, 10 bytes each in 16-byte slots; the reserved bytes 10-15 of each
  // slot are left as they are (table 10-2 marks them reserved).
  for (let i = 0; i < 8; i++) {
    const r = 3 * ((f.top + i) & 7);
    const a = 32 + 16 * i;
    c.wr64(at(a), atHi, f.st[r], f.st[r + 1]);
    c.wr16(at(a + 8), atHi, f.st[r + 2]);
  }
  const n = c.codeSize === 3 ? 16 : 8;
  for (let i = 0; i < n; i++) {
    const a = 160 + 16 * i;
    c.wr64(at(a), atHi, f.xmm[4 * i], f.xmm[4 * i + 1]);
    c.wr64(at(a + 8), atHi, f.xmm[4 * i + 2], f.xmm[4 * i + 3]);
  }
}

export function fxrstor(c: Cpu, d: number): void {
  fxArea(c, d, false);
  const f = c.fpu;
  const rexW = (c.store.info[d] & Info.REXW) !== 0 && c.codeSize === 3;
  const mxcsr = c.rd32(at(24), atHi);
  if ((mxcsr & ~Mxcsr.MASK) !== 0) c.fault(Vec.GP, 0);
  f.fcw = c.rd16(at(0), atHi);
  f.setStatusWord(c.rd16(at(2), atHi));
  f.tagValid = c.rd8(at(4), atHi);
  f.fop = c.rd16(at(6), atHi) & 0x7ff;
  if (rexW) {
    f.fipLo = c.rd64(at(8), atHi);
    f.fipHi = c.rHi;
    f.fdpLo = c.rd64(at(16), atHi);
    f.fdpHi = c.rHi;
    f.fcs = f.fds = 0;
  } else {
    f.fipLo = c.rd32(at(8), atHi);
    f.fcs = c.rd16(at(12), atHi);
    f.fdpLo = c.rd32(at(16), atHi);
    f.fds = c.rd16(at(20), atHi);
    f.fipHi = f.fdpHi = 0;
  }
  f.mxcsr = mxcsr;
  for (let i = 0; i < 8; i++) {
    const r = 3 * ((f.top + i) & 7);
    const a = 32 + 16 * i;
    f.st[r] = c.rd64(at(a), atHi);
    f.st[r + 1] = c.rHi;
    f.st[r + 2] = c.rd16(at(a + 8), atHi);
  }
  const n = c.codeSize === 3 ? 16 : 8;
  for (let i = 0; i < n; i++) {
    const a = 160 + 16 * i;
    f.xmm[4 * i] = c.rd64(at(a), atHi);
    f.xmm[4 * i + 1] = c.rHi;
    f.xmm[4 * i + 2] = c.rd64(at(a + 8), atHi);
    f.xmm[4 * i + 3] = c.rHi;
  }
}

// SSE/SSE2 dispatch, data movement and the 128-bit integer instructions (SDM vol. 2 pages
// of the same names; vol. 1, chapters 10 and 11). Forms without a 66/F2/F3 prefix that act
// on MMX registers are exec-sse-mmx.ts; floating point is exec-sse-fp.ts.

import type { Cpu } from './cpu.js';
import { Info } from './decoded.js';
import { Vec } from './constants.js';
import {
  Pfx, pfxOf, sseAvailable, xmmReg, xmmRm, loadSrc128, loadSrc64, loadSrc32, store128, store64, store32,
  SRC, SRC_U8, SRC_S8, SRC_U16, SRC_S16, RES, RES_U8, RES_U16,
} from './exec-sse-operands.js';
import { readRm, writeRm } from './operands.js';
import { executeSseFp } from './exec-sse-fp.js';
import { executeMmx, isMmxOp } from './exec-sse-mmx.js';

/** True for the 0F-map op ids this unit executes. */
export function isSseOp(op: number): boolean {
  return (op >= 0x110 && op <= 0x117) || (op >= 0x128 && op <= 0x12f) || (op >= 0x150 && op <= 0x17f) ||
    (op >= 0x1c2 && op <= 0x1c6) || (op >= 0x1d0 && op <= 0x1fe);
}

export function executeSse(c: Cpu, d: number, op: number): void {
  const info = c.store.info[d];
  const p = pfxOf(info);
  if (op === 0x1c3) {
    // MOVNTI m32/m64, r: a GPR store with a hint; no SSE state involved (SDM MOVNTI).
    if ((info & Info.MEM) === 0 || p !== Pfx.NONE) c.fault(Vec.UD);
    const size = (info & Info.OSIZE_MASK) === 3 ? 3 : 2;
    const r = (info >> Info.REG_SHIFT) & 15;
    writeRm(c, d, size, c.lo[r], c.hi[r]);
    return;
  }
  // Integer forms without a prefix act on MMX registers (exec-sse-mmx.ts).
  if (p === Pfx.NONE && isMmxOp(op)) {
    executeMmx(c, d, op, info);
    return;
  }
  if (op >= 0x160 && op !== 0x170 && op !== 0x17e && op !== 0x17f && op !== 0x1c2 && op !== 0x1c6 && p === Pfx.NONE) c.fault(Vec.UD);
  sseAvailable(c);
  const x = c.fpu.xmm;
  const dst = xmmReg(info) << 2;
  const mem = (info & Info.MEM) !== 0;
  switch (op) {
    case 0x110: case 0x111: moveUps(c, d, info, p, op === 0x111); return;
    case 0x112: case 0x113: case 0x116: case 0x117: moveHalf(c, d, info, p, op); return;
    case 0x114: case 0x115: if (p > Pfx.P66) c.fault(Vec.UD); unpackFp(c, d, info, p, op === 0x115); return;
    case 0x128: // MOVAPS/MOVAPD load
      if (p > Pfx.P66) c.fault(Vec.UD);
      loadSrc128(c, d, info, true);
      copySrc(x, dst);
      return;
    case 0x129: // MOVAPS/MOVAPD store
      if (p > Pfx.P66) c.fault(Vec.UD);
      if (mem) store128(c, d, xmmReg(info), true);
      else copyReg(x, xmmRm(info) << 2, dst);
      return;
    case 0x12b: // MOVNTPS/MOVNTPD
      if (p > Pfx.P66 || !mem) c.fault(Vec.UD);
      store128(c, d, xmmReg(info), true);
      return;
    case 0x150: // MOVMSKPS/MOVMSKPD r32, xmm
      if (p > Pfx.P66 || mem) c.fault(Vec.UD);
      movmsk(c, info, p);
      return;
    case 0x154: case 0x155: case 0x156: case 0x157: // ANDPS/ANDNPS/ORPS/XORPS and PD forms
      if (p > Pfx.P66) c.fault(Vec.UD);
      loadSrc128(c, d, info, true);
      logic(x, dst, op - 0x154);
      return;
    case 0x16e: // MOVD/MOVQ xmm, r/m32/64
      movdToXmm(c, d, info, dst);
      return;
    case 0x16f: // MOVDQA / MOVDQU load
      if (p === Pfx.F2) c.fault(Vec.UD);
      loadSrc128(c, d, info, p === Pfx.P66);
      copySrc(x, dst);
      return;
    case 0x17f: // MOVDQA / MOVDQU store
      if (p !== Pfx.P66 && p !== Pfx.F3) c.fault(Vec.UD);
      if (mem) store128(c, d, xmmReg(info), p === Pfx.P66);
      else copyReg(x, dst, xmmRm(info) << 2);
      return;
    case 0x17e:
      if (p === Pfx.F3) { // MOVQ xmm, xmm/m64 (zero-extends)
        loadSrc64(c, d, info);
        x[dst] = SRC[0]; x[dst + 1] = SRC[1]; x[dst + 2] = 0; x[dst + 3] = 0;
        return;
      }
      if (p !== Pfx.P66) c.fault(Vec.UD);
      movdFromXmm(c, d, info, dst);
      return;
    case 0x1d6: // MOVQ xmm/m64, xmm (MOVQ2DQ/MOVDQ2Q with F3/F2: exec-sse-fp.ts)
      if (p >= Pfx.F3) { executeSseFp(c, d, op, info, p); return; }
      if (p !== Pfx.P66) c.fault(Vec.UD);
      if (mem) store64(c, d, x[dst], x[dst + 1]);
      else {
        const r = xmmRm(info) << 2;
        x[r] = x[dst]; x[r + 1] = x[dst + 1]; x[r + 2] = 0; x[r + 3] = 0;
      }
      return;
    case 0x1e7: // MOVNTDQ m128, xmm
      if (p !== Pfx.P66 || !mem) c.fault(Vec.UD);
      store128(c, d, xmmReg(info), true);
      return;
    case 0x1d7: // PMOVMSKB r32/64, xmm
      if (p !== Pfx.P66 || mem) c.fault(Vec.UD);
      pmovmskb(c, info);
      return;
    case 0x1c5: // PEXTRW r32/64, xmm, imm8
      if (p !== Pfx.P66 || mem) c.fault(Vec.UD);
      {
        const r = (info >> Info.REG_SHIFT) & 15;
        c.lo[r] = c.fpu.xmmU16[(xmmRm(info) << 3) + (c.store.imm[d] & 7)];
        c.hi[r] = 0;
      }
      return;
    case 0x1c4: // PINSRW xmm, r32/m16, imm8
      if (p !== Pfx.P66) c.fault(Vec.UD);
      {
        const v = mem ? readRm(c, d, 1) : c.lo[(info >> Info.RM_SHIFT) & 15];
        c.fpu.xmmU16[(dst << 1) + (c.store.imm[d] & 7)] = v;
      }
      return;
    case 0x1c6: // SHUFPS / SHUFPD
      if (p > Pfx.P66) c.fault(Vec.UD);
      loadSrc128(c, d, info, true);
      shufFp(x, dst, p, c.store.imm[d]);
      return;
    case 0x170: // PSHUFD / PSHUFHW / PSHUFLW
      if (p === Pfx.NONE) c.fault(Vec.UD);
      loadSrc128(c, d, info, true);
      pshuf(c, dst, p, c.store.imm[d]);
      return;
    case 0x171: case 0x172: case 0x173: // shift by immediate (groups 12-14), register forms only
      if (!mem) shiftImm(c, info, op, c.store.imm[d] & 0xff);
      else c.fault(Vec.UD);
      return;
    case 0x1f7: // MASKMOVDQU xmm, xmm: byte-masked store to [DS:rDI]
      if (p !== Pfx.P66 || mem) c.fault(Vec.UD);
      maskmov(c, d, info);
      return;
    default:
      if (op >= 0x160 && op !== 0x1c2 && op !== 0x1e6) {
        if (p !== Pfx.P66) c.fault(Vec.UD);
        loadSrc128(c, d, info, true);
        integerOp(c, dst, op);
        return;
      }
      executeSseFp(c, d, op, info, p);
  }
}

function copySrc(x: Int32Array, dst: number): void {
  x[dst] = SRC[0]; x[dst + 1] = SRC[1]; x[dst + 2] = SRC[2]; x[dst + 3] = SRC[3];
}
function copyReg(x: Int32Array, from: number, to: number): void {
  x[to] = x[from]; x[to + 1] = x[from + 1]; x[to + 2] = x[from + 2]; x[to + 3] = x[from + 3];
}

/** 0F 10/11: MOVUPS, MOVUPD, MOVSS, MOVSD (load and store forms). */
function moveUps(c: Cpu, d: number, info: number, p: number, store: boolean): void {
  const x = c.fpu.xmm;
  const reg = xmmReg(info) << 2;
  const mem = (info & Info.MEM) !== 0;
  if (p <= Pfx.P66) {
    if (!store) { loadSrc128(c, d, info, false); copySrc(x, reg); }
    else if (mem) store128(c, d, xmmReg(info), false);
    else copyReg(x, reg, xmmRm(info) << 2);
    return;
  }
  const n = p === Pfx.F3 ? 1 : 2; // lanes moved: MOVSS 1, MOVSD 2
  if (!store) {
    if (mem) {
      // A memory source zeroes the rest of the register.
      if (n === 1) { loadSrc32(c, d, info); x[reg] = SRC[0]; x[reg + 1] = 0; }
      else { loadSrc64(c, d, info); x[reg] = SRC[0]; x[reg + 1] = SRC[1]; }
      x[reg + 2] = 0; x[reg + 3] = 0;
    } else {
      const r = xmmRm(info) << 2;
      x[reg] = x[r];
      if (n === 2) x[reg + 1] = x[r + 1];
    }
    return;
  }
  if (mem) {
    if (n === 1) store32(c, d, x[reg]);
    else store64(c, d, x[reg], x[reg + 1]);
  } else {
    const r = xmmRm(info) << 2;
    x[r] = x[reg];
    if (n === 2) x[r + 1] = x[reg + 1];
  }
}

/** 0F 12/13/16/17: MOVLPS/MOVLPD/MOVHPS/MOVHPD, MOVHLPS/MOVLHPS (register forms of 12/16). */
function moveHalf(c: Cpu, d: number, info: number, p: number, op: number): void {
  if (p > Pfx.P66) c.fault(Vec.UD); // MOVSLDUP/MOVSHDUP/MOVDDUP are SSE3
  const x = c.fpu.xmm;
  const reg = xmmReg(info) << 2;
  const mem = (info & Info.MEM) !== 0;
  const high = op >= 0x116 ? 2 : 0;
  if (op === 0x112 || op === 0x116) {
    if (!mem) {
      if (p !== Pfx.NONE) c.fault(Vec.UD);
      const r = xmmRm(info) << 2;
      if (op === 0x112) { x[reg] = x[r + 2]; x[reg + 1] = x[r + 3]; } // MOVHLPS
      else { x[reg + 2] = x[r]; x[reg + 3] = x[r + 1]; } // MOVLHPS
      return;
    }
    loadSrc64(c, d, info);
    x[reg + high] = SRC[0];
    x[reg + high + 1] = SRC[1];
    return;
  }
  if (!mem) c.fault(Vec.UD);
  store64(c, d, x[reg + high], x[reg + high + 1]);
}

/** UNPCKLPS/UNPCKHPS/UNPCKLPD/UNPCKHPD. */
function unpackFp(c: Cpu, d: number, info: number, p: number, high: boolean): void {
  loadSrc128(c, d, info, true);
  const x = c.fpu.xmm;
  const dst = xmmReg(info) << 2;
  const h = high ? 2 : 0;
  if (p === Pfx.NONE) {
    RES[0] = x[dst + h]; RES[1] = SRC[h]; RES[2] = x[dst + h + 1]; RES[3] = SRC[h + 1];
  } else {
    RES[0] = x[dst + h]; RES[1] = x[dst + h + 1]; RES[2] = SRC[h]; RES[3] = SRC[h + 1];
  }
  x[dst] = RES[0]; x[dst + 1] = RES[1]; x[dst + 2] = RES[2]; x[dst + 3] = RES[3];
}

function logic(x: Int32Array, dst: number, kind: number): void {
  for (let i = 0; i < 4; i++) {
    const a = x[dst + i];
    const b = SRC[i];
    x[dst + i] = kind === 0 ? a & b : kind === 1 ? ~a & b : kind === 2 ? a | b : a ^ b;
  }
}

function movmsk(c: Cpu, info: number, p: number): void {
  const x = c.fpu.xmm;
  const r = xmmRm(info) << 2;
  const v = p === Pfx.NONE
    ? (x[r] >>> 31) | ((x[r + 1] >>> 31) << 1) | ((x[r + 2] >>> 31) << 2) | ((x[r + 3] >>> 31) << 3)
    : (x[r + 1] >>> 31) | ((x[r + 3] >>> 31) << 1);
  const g = (info >> Info.REG_SHIFT) & 15;
  c.lo[g] = v;
  c.hi[g] = 0;
}

function pmovmskb(c: Cpu, info: number): void {
  const b = c.fpu.xmmU8;
  const r = xmmRm(info) << 4;
  let v = 0;
  for (let i = 0; i < 16; i++) v |= (b[r + i] >> 7) << i;
  const g = (info >> Info.REG_SHIFT) & 15;
  c.lo[g] = v;
  c.hi[g] = 0;
}

/** 66 0F 6E: MOVD xmm, r/m32; with REX.W MOVQ xmm, r/m64. The rest of the register is zeroed. */
function movdToXmm(c: Cpu, d: number, info: number, dst: number): void {
  if (pfxOf(info) !== Pfx.P66) c.fault(Vec.UD);
  const x = c.fpu.xmm;
  const q = (info & Info.REXW) !== 0;
  const v = readRm(c, d, q ? 3 : 2);
  x[dst] = v;
  x[dst + 1] = q ? c.rHi : 0;
  x[dst + 2] = 0;
  x[dst + 3] = 0;
}

/** 66 0F 7E: MOVD r/m32, xmm; with REX.W MOVQ r/m64, xmm. */
function movdFromXmm(c: Cpu, d: number, info: number, src: number): void {
  const x = c.fpu.xmm;
  const q = (info & Info.REXW) !== 0;
  if ((info & Info.MEM) !== 0) {
    if (q) store64(c, d, x[src], x[src + 1]);
    else store32(c, d, x[src]);
    return;
  }
  // A 32-bit register destination is zero-extended to 64 bits.
  writeRm(c, d, q ? 3 : 2, x[src], q ? x[src + 1] : 0);
}

function shufFp(x: Int32Array, dst: number, p: number, imm: number): void {
  if (p === Pfx.NONE) {
    RES[0] = x[dst + (imm & 3)];
    RES[1] = x[dst + ((imm >> 2) & 3)];
    RES[2] = SRC[(imm >> 4) & 3];
    RES[3] = SRC[(imm >> 6) & 3];
  } else {
    const a = (imm & 1) * 2;
    const b = ((imm >> 1) & 1) * 2;
    RES[0] = x[dst + a]; RES[1] = x[dst + a + 1];
    RES[2] = SRC[b]; RES[3] = SRC[b + 1];
  }
  x[dst] = RES[0]; x[dst + 1] = RES[1]; x[dst + 2] = RES[2]; x[dst + 3] = RES[3];
}

function pshuf(c: Cpu, dst: number, p: number, imm: number): void {
  const x = c.fpu.xmm;
  if (p === Pfx.P66) {
    for (let i = 0; i < 4; i++) RES[i] = SRC[(imm >> (2 * i)) & 3];
  } else {
    // PSHUFHW (F3) shuffles words 4-7, PSHUFLW (F2) words 0-3; the other half is copied.
    const base = p === Pfx.F3 ? 4 : 0;
    const keep = p === Pfx.F3 ? 0 : 4;
    for (let i = 0; i < 4; i++) {
      RES_U16[base + i] = SRC_U16[base + ((imm >> (2 * i)) & 3)];
      RES_U16[keep + i] = SRC_U16[keep + i];
    }
  }
  x[dst] = RES[0]; x[dst + 1] = RES[1]; x[dst + 2] = RES[2]; x[dst + 3] = RES[3];
}

/** 66 0F 71/72/73 /r ib: PSRLW/PSRAW/PSLLW, PSRLD/PSRAD/PSLLD, PSRLQ/PSRLDQ/PSLLQ/PSLLDQ. */
function shiftImm(c: Cpu, info: number, op: number, n: number): void {
  if (pfxOf(info) !== Pfx.P66) c.fault(Vec.UD);
  shiftImmLanes(c, xmmRm(info) << 2, op, (info >> Info.REG_SHIFT) & 7, n);
}

/** The shift of group 12-14 member `sub` on the register at lane index r (also MMX's scratch). */
export function shiftImmLanes(c: Cpu, r: number, op: number, sub: number, n: number): void {
  const width = op === 0x171 ? 16 : op === 0x172 ? 32 : 64;
  if (op === 0x173 && (sub === 3 || sub === 7)) {
    byteShift(c.fpu.xmm, c.fpu.xmmU8, r, n, sub === 7);
    return;
  }
  if (sub === 2) shiftLanes(c, r, width, 0, n);
  else if (sub === 6) shiftLanes(c, r, width, 1, n);
  else if (sub === 4 && width !== 64) shiftLanes(c, r, width, 2, n);
  else c.fault(Vec.UD);
}

/** PSRLDQ / PSLLDQ: whole-register byte shift (counts above 15 clear it). */
function byteShift(x: Int32Array, u8: Uint8Array, r: number, n: number, left: boolean): void {
  for (let i = 0; i < 4; i++) RES[i] = x[r + i];
  const count = n > 16 ? 16 : n;
  const base = r << 2;
  for (let i = 0; i < 16; i++) {
    const from = left ? i - count : i + count;
    u8[base + i] = from >= 0 && from < 16 ? RES_U8[from] : 0;
  }
}

/**
 * Shift every `width`-bit lane of register r (lane index base r*4) by `n`: kind 0 logical
 * right, 1 left, 2 arithmetic right. Counts of the width or more give 0 (or the sign).
 */
function shiftLanes(c: Cpu, r: number, width: number, kind: number, n: number): void {
  const f = c.fpu;
  if (width === 16) {
    const w = f.xmmU16;
    const sw = f.xmmS16;
    const b = r << 1;
    for (let i = 0; i < 8; i++) {
      if (kind === 2) sw[b + i] = sw[b + i] >> (n > 15 ? 15 : n);
      else if (n > 15) w[b + i] = 0;
      else w[b + i] = kind === 0 ? w[b + i] >>> n : w[b + i] << n;
    }
  } else if (width === 32) {
    const x = f.xmm;
    for (let i = 0; i < 4; i++) {
      if (kind === 2) x[r + i] = x[r + i] >> (n > 31 ? 31 : n);
      else if (n > 31) x[r + i] = 0;
      else x[r + i] = kind === 0 ? x[r + i] >>> n : x[r + i] << n;
    }
  } else {
    const x = f.xmm;
    for (let i = 0; i < 4; i += 2) {
      const lo = x[r + i];
      const hi = x[r + i + 1];
      if (n > 63) { x[r + i] = 0; x[r + i + 1] = 0; }
      else if (n === 0) continue;
      else if (kind === 0) {
        if (n >= 32) { x[r + i] = hi >>> (n - 32); x[r + i + 1] = 0; }
        else { x[r + i] = (lo >>> n) | (hi << (32 - n)); x[r + i + 1] = hi >>> n; }
      } else if (n >= 32) { x[r + i + 1] = lo << (n - 32); x[r + i] = 0; }
      else { x[r + i + 1] = (hi << n) | (lo >>> (32 - n)); x[r + i] = lo << n; }
    }
  }
}

/** Shift count of PSxx xmm, xmm/m128: the low quadword of the source, saturated. */
function shiftCount(): number {
  return SRC[1] !== 0 || SRC[0] < 0 || SRC[0] > 255 ? 255 : SRC[0];
}

function maskmov(c: Cpu, d: number, info: number): void {
  const b = c.fpu.xmmU8;
  const src = xmmReg(info) << 4;
  const mask = xmmRm(info) << 4;
  // The destination is DS:rDI (segment overridable), with the address size (SDM MASKMOVDQU).
  const asize = (info >> Info.ASIZE_SHIFT) & 3;
  const seg = (info & Info.SEGOVR) !== 0 ? (info >> Info.SEG_SHIFT) & 7 : 3;
  const off = asize === 1 ? c.lo[7] & 0xffff : c.lo[7];
  let lo: number;
  let hi: number;
  if (asize === 3) {
    lo = off;
    hi = c.hi[7];
    if (seg >= 4) {
      const t = (lo >>> 0) + (c.segBase[seg] >>> 0);
      lo = t | 0;
      hi = (hi + c.segBaseHi[seg] + (t > 0xffffffff ? 1 : 0)) | 0;
    }
  } else {
    c.checkSeg(seg, off, 16, true);
    lo = c.segAddr(seg, off);
    hi = c.eaHi;
  }
  void d;
  for (let i = 0; i < 16; i++) {
    if ((b[mask + i] & 0x80) === 0) continue;
    const t = (lo >>> 0) + i;
    c.wr8(t | 0, t > 0xffffffff ? (hi + 1) | 0 : hi, b[src + i]);
  }
}

const satS8 = (v: number): number => (v > 127 ? 127 : v < -128 ? -128 : v);
const satU8 = (v: number): number => (v > 255 ? 255 : v < 0 ? 0 : v);
const satS16 = (v: number): number => (v > 32767 ? 32767 : v < -32768 ? -32768 : v);
const satU16 = (v: number): number => (v > 65535 ? 65535 : v < 0 ? 0 : v);

/** The 66 0F 60-6D, 74-76 and D1-FE integer instructions with SRC loaded. */
export function integerOp(c: Cpu, dst: number, op: number): void {
  const f = c.fpu;
  const x = f.xmm;
  const u8 = f.xmmU8;
  const s8 = f.xmmS8;
  const u16 = f.xmmU16;
  const s16 = f.xmmS16;
  const b8 = dst << 2;
  const b16 = dst << 1;
  switch (op) {
    // ---- unpack and pack (results mix positions: built in RES) ----
    case 0x160: case 0x168: { // PUNPCKLBW / PUNPCKHBW
      const h = op === 0x168 ? 8 : 0;
      for (let i = 0; i < 8; i++) { RES_U8[2 * i] = u8[b8 + h + i]; RES_U8[2 * i + 1] = SRC_U8[h + i]; }
      break;
    }
    case 0x161: case 0x169: { // PUNPCKLWD / PUNPCKHWD
      const h = op === 0x169 ? 4 : 0;
      for (let i = 0; i < 4; i++) { RES_U16[2 * i] = u16[b16 + h + i]; RES_U16[2 * i + 1] = SRC_U16[h + i]; }
      break;
    }
    case 0x162: case 0x16a: { // PUNPCKLDQ / PUNPCKHDQ
      const h = op === 0x16a ? 2 : 0;
      RES[0] = x[dst + h]; RES[1] = SRC[h]; RES[2] = x[dst + h + 1]; RES[3] = SRC[h + 1];
      break;
    }
    case 0x16c: case 0x16d: { // PUNPCKLQDQ / PUNPCKHQDQ
      const h = op === 0x16d ? 2 : 0;
      RES[0] = x[dst + h]; RES[1] = x[dst + h + 1]; RES[2] = SRC[h]; RES[3] = SRC[h + 1];
      break;
    }
    case 0x163: // PACKSSWB
      for (let i = 0; i < 8; i++) { RES_U8[i] = satS8(s16[b16 + i]); RES_U8[8 + i] = satS8(SRC_S16[i]); }
      break;
    case 0x167: // PACKUSWB
      for (let i = 0; i < 8; i++) { RES_U8[i] = satU8(s16[b16 + i]); RES_U8[8 + i] = satU8(SRC_S16[i]); }
      break;
    case 0x16b: // PACKSSDW
      for (let i = 0; i < 4; i++) { RES_U16[i] = satS16(x[dst + i]); RES_U16[4 + i] = satS16(SRC[i]); }
      break;
    // ---- compares ----
    case 0x164: for (let i = 0; i < 16; i++) u8[b8 + i] = s8[b8 + i] > SRC_S8[i] ? 0xff : 0; return;
    case 0x165: for (let i = 0; i < 8; i++) u16[b16 + i] = s16[b16 + i] > SRC_S16[i] ? 0xffff : 0; return;
    case 0x166: for (let i = 0; i < 4; i++) x[dst + i] = x[dst + i] > SRC[i] ? -1 : 0; return;
    case 0x174: for (let i = 0; i < 16; i++) u8[b8 + i] = u8[b8 + i] === SRC_U8[i] ? 0xff : 0; return;
    case 0x175: for (let i = 0; i < 8; i++) u16[b16 + i] = u16[b16 + i] === SRC_U16[i] ? 0xffff : 0; return;
    case 0x176: for (let i = 0; i < 4; i++) x[dst + i] = x[dst + i] === SRC[i] ? -1 : 0; return;
    // ---- shifts by a register/memory count ----
    case 0x1d1: shiftLanes(c, dst, 16, 0, shiftCount()); return;
    case 0x1d2: shiftLanes(c, dst, 32, 0, shiftCount()); return;
    case 0x1d3: shiftLanes(c, dst, 64, 0, shiftCount()); return;
    case 0x1e1: shiftLanes(c, dst, 16, 2, shiftCount()); return;
    case 0x1e2: shiftLanes(c, dst, 32, 2, shiftCount()); return;
    case 0x1f1: shiftLanes(c, dst, 16, 1, shiftCount()); return;
    case 0x1f2: shiftLanes(c, dst, 32, 1, shiftCount()); return;
    case 0x1f3: shiftLanes(c, dst, 64, 1, shiftCount()); return;
    // ---- add/subtract ----
    case 0x1fc: for (let i = 0; i < 16; i++) u8[b8 + i] = u8[b8 + i] + SRC_U8[i]; return;
    case 0x1fd: for (let i = 0; i < 8; i++) u16[b16 + i] = u16[b16 + i] + SRC_U16[i]; return;
    case 0x1fe: for (let i = 0; i < 4; i++) x[dst + i] = (x[dst + i] + SRC[i]) | 0; return;
    case 0x1d4: add64(x, dst, 0, false); add64(x, dst, 2, false); return;
    case 0x1f8: for (let i = 0; i < 16; i++) u8[b8 + i] = u8[b8 + i] - SRC_U8[i]; return;
    case 0x1f9: for (let i = 0; i < 8; i++) u16[b16 + i] = u16[b16 + i] - SRC_U16[i]; return;
    case 0x1fa: for (let i = 0; i < 4; i++) x[dst + i] = (x[dst + i] - SRC[i]) | 0; return;
    case 0x1fb: add64(x, dst, 0, true); add64(x, dst, 2, true); return;
    case 0x1ec: for (let i = 0; i < 16; i++) s8[b8 + i] = satS8(s8[b8 + i] + SRC_S8[i]); return;
    case 0x1ed: for (let i = 0; i < 8; i++) s16[b16 + i] = satS16(s16[b16 + i] + SRC_S16[i]); return;
    case 0x1dc: for (let i = 0; i < 16; i++) u8[b8 + i] = satU8(u8[b8 + i] + SRC_U8[i]); return;
    case 0x1dd: for (let i = 0; i < 8; i++) u16[b16 + i] = satU16(u16[b16 + i] + SRC_U16[i]); return;
    case 0x1e8: for (let i = 0; i < 16; i++) s8[b8 + i] = satS8(s8[b8 + i] - SRC_S8[i]); return;
    case 0x1e9: for (let i = 0; i < 8; i++) s16[b16 + i] = satS16(s16[b16 + i] - SRC_S16[i]); return;
    case 0x1d8: for (let i = 0; i < 16; i++) u8[b8 + i] = satU8(u8[b8 + i] - SRC_U8[i]); return;
    case 0x1d9: for (let i = 0; i < 8; i++) u16[b16 + i] = satU16(u16[b16 + i] - SRC_U16[i]); return;
    // ---- multiply ----
    case 0x1d5: for (let i = 0; i < 8; i++) u16[b16 + i] = Math.imul(s16[b16 + i], SRC_S16[i]); return; // PMULLW
    case 0x1e5: for (let i = 0; i < 8; i++) u16[b16 + i] = Math.imul(s16[b16 + i], SRC_S16[i]) >> 16; return; // PMULHW
    case 0x1e4: for (let i = 0; i < 8; i++) u16[b16 + i] = (u16[b16 + i] * SRC_U16[i]) >>> 16; return; // PMULHUW
    case 0x1f4: pmuludq(x, dst, 0); pmuludq(x, dst, 2); return;
    case 0x1f5: // PMADDWD
      for (let i = 0; i < 4; i++) {
        x[dst + i] = (Math.imul(s16[b16 + 2 * i], SRC_S16[2 * i]) + Math.imul(s16[b16 + 2 * i + 1], SRC_S16[2 * i + 1])) | 0;
      }
      return;
    case 0x1f6: { // PSADBW
      for (let q = 0; q < 2; q++) {
        let sum = 0;
        for (let i = 0; i < 8; i++) {
          const t = u8[b8 + 8 * q + i] - SRC_U8[8 * q + i];
          sum += t < 0 ? -t : t;
        }
        x[dst + 2 * q] = sum;
        x[dst + 2 * q + 1] = 0;
      }
      return;
    }
    // ---- min/max/average ----
    case 0x1da: for (let i = 0; i < 16; i++) if (SRC_U8[i] < u8[b8 + i]) u8[b8 + i] = SRC_U8[i]; return;
    case 0x1de: for (let i = 0; i < 16; i++) if (SRC_U8[i] > u8[b8 + i]) u8[b8 + i] = SRC_U8[i]; return;
    case 0x1ea: for (let i = 0; i < 8; i++) if (SRC_S16[i] < s16[b16 + i]) s16[b16 + i] = SRC_S16[i]; return;
    case 0x1ee: for (let i = 0; i < 8; i++) if (SRC_S16[i] > s16[b16 + i]) s16[b16 + i] = SRC_S16[i]; return;
    case 0x1e0: for (let i = 0; i < 16; i++) u8[b8 + i] = (u8[b8 + i] + SRC_U8[i] + 1) >> 1; return;
    case 0x1e3: for (let i = 0; i < 8; i++) u16[b16 + i] = (u16[b16 + i] + SRC_U16[i] + 1) >> 1; return;
    // ---- logic ----
    case 0x1db: for (let i = 0; i < 4; i++) x[dst + i] &= SRC[i]; return;
    case 0x1df: for (let i = 0; i < 4; i++) x[dst + i] = ~x[dst + i] & SRC[i]; return;
    case 0x1eb: for (let i = 0; i < 4; i++) x[dst + i] |= SRC[i]; return;
    case 0x1ef: for (let i = 0; i < 4; i++) x[dst + i] ^= SRC[i]; return;
    default:
      c.fault(Vec.UD);
  }
  x[dst] = RES[0]; x[dst + 1] = RES[1]; x[dst + 2] = RES[2]; x[dst + 3] = RES[3];
}

function add64(x: Int32Array, dst: number, i: number, sub: boolean): void {
  const aLo = x[dst + i] >>> 0;
  const bLo = SRC[i] >>> 0;
  if (!sub) {
    const t = aLo + bLo;
    x[dst + i] = t | 0;
    x[dst + i + 1] = (x[dst + i + 1] + SRC[i + 1] + (t > 0xffffffff ? 1 : 0)) | 0;
  } else {
    x[dst + i] = (aLo - bLo) | 0;
    x[dst + i + 1] = (x[dst + i + 1] - SRC[i + 1] - (aLo < bLo ? 1 : 0)) | 0;
  }
}

/** PMULUDQ lane: unsigned 32x32 -> 64 of the even doublewords, exact without BigInt. */
function pmuludq(x: Int32Array, dst: number, i: number): void {
  const a = x[dst + i] >>> 0;
  const b = SRC[i] >>> 0;
  const aL = a & 0xffff, aH = a >>> 16, bL = b & 0xffff, bH = b >>> 16;
  const ll = aL * bL;
  const mid = aH * bL + aL * bH; // < 2^33
  const hh = aH * bH;
  const lowSum = ll + (mid % 0x10000) * 0x10000; // < 2^33
  const lo = lowSum % 0x100000000;
  const hi = hh + Math.floor(mid / 0x10000) + Math.floor(lowSum / 0x100000000);
  x[dst + i] = lo | 0;
  x[dst + i + 1] = hi | 0;
}

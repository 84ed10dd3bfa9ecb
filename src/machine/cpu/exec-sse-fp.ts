// SSE/SSE2 floating point (SDM vol. 1, 10.4 and 11.4; vol. 2 pages of the same names): packed
// and scalar ADD/SUB/MUL/DIV/SQRT/MIN/MAX, RCP/RSQRT, CMP, (U)COMIS, and the conversions.
//
// Arithmetic is JS double arithmetic, which is IEEE 754 round-to-nearest-even: exact for
// double operands, and for single operands Math.fround of the double result is the correctly
// rounded single result (the double has more than 2p+2 bits). NaN operands are handled on
// their bit patterns (SDM vol. 1, table 4-7: the first operand's NaN wins, quieted; an
// invalid operation gives the QNaN indefinite). Exceptions are computed per instruction and
// raised (#XM, or #UD when CR4.OSXMMEXCPT=0) before anything is written when unmasked.

import type { Cpu } from './cpu.js';
import { Info } from './decoded.js';
import { Vec, Cr4, ARITH_FLAGS, Flag } from './constants.js';
import { Mxcsr } from './fpu-state.js';
import { Pfx, xmmReg, loadSrc128, loadSrc64, loadSrc32, SRC, SRC_F32, SRC_F64, RES } from './exec-sse-operands.js';
import { readRm, writeReg } from './operands.js';
import { addDir, mulDir, divDir, sqrtDir, directed } from './exec-sse-round.js';
import { enterMmx, writeMm } from './exec-sse-mmx.js';

const RES_F64 = new Float64Array(RES.buffer);
const DST = new Int32Array(4);
const DST_F32 = new Float32Array(DST.buffer);
const DST_F64 = new Float64Array(DST.buffer);

/** Exception flags gathered by the instruction being executed. */
let exc = 0;
let mx = 0;

const enum K { ADD = 0, MUL = 1, SUB = 2, MIN = 3, DIV = 4, MAX = 5, SQRT = 6 }
const TWO32 = 4294967296;

export function executeSseFp(c: Cpu, d: number, op: number, info: number, p: number): void {
  mx = c.fpu.mxcsr;
  exc = 0;
  const x = c.fpu.xmm;
  const dst = xmmReg(info) << 2;
  switch (op) {
    case 0x151: arith(c, d, info, p, K.SQRT); return;
    case 0x158: arith(c, d, info, p, K.ADD); return;
    case 0x159: arith(c, d, info, p, K.MUL); return;
    case 0x15c: arith(c, d, info, p, K.SUB); return;
    case 0x15d: arith(c, d, info, p, K.MIN); return;
    case 0x15e: arith(c, d, info, p, K.DIV); return;
    case 0x15f: arith(c, d, info, p, K.MAX); return;
    case 0x152: case 0x153: approx(c, d, info, p, op === 0x152); return;
    case 0x1c2: compare(c, d, info, p, c.store.imm[d] & 7); return;
    case 0x12e: case 0x12f: comis(c, d, info, p, op === 0x12f); return;
    case 0x12a:
      if (p <= Pfx.P66) cvtPi2(c, d, info, p);
      else cvtIntToFp(c, d, info, p);
      return;
    case 0x12c: case 0x12d:
      if (p <= Pfx.P66) cvt2Pi(c, d, info, p, op === 0x12c);
      else cvtFpToInt(c, d, info, p, op === 0x12c);
      return;
    case 0x1d6: movq2dq(c, info, p); return;
    case 0x15a: cvtFpFp(c, d, info, p, dst, x); return;
    case 0x15b: case 0x1e6: cvtPackedInt(c, d, info, p, op, dst, x); return;
    default: c.fault(Vec.UD);
  }
}

/** Raise the gathered exceptions: #XM/#UD when one is unmasked (SDM vol. 1, 11.5.1), flags set either way. */
function commitFlags(c: Cpu): void {
  if (exc === 0) return;
  c.fpu.mxcsr |= exc;
  if ((exc & ~(mx >> 7) & 0x3f) !== 0) c.fault((c.cr4 & Cr4.OSXMMEXCPT) !== 0 ? Vec.XM : Vec.UD);
}

// ---------------------------------------------------------------------------------------
// Bit-level classification
// ---------------------------------------------------------------------------------------

const isNanS = (b: number): boolean => (b & 0x7f800000) === 0x7f800000 && (b & 0x7fffff) !== 0;
const isSnanS = (b: number): boolean => isNanS(b) && (b & 0x400000) === 0;
const isDenS = (b: number): boolean => (b & 0x7f800000) === 0 && (b & 0x7fffff) !== 0;
const isNanD = (hi: number, lo: number): boolean => (hi & 0x7ff00000) === 0x7ff00000 && ((hi & 0xfffff) !== 0 || lo !== 0);
const isSnanD = (hi: number, lo: number): boolean => isNanD(hi, lo) && (hi & 0x80000) === 0;
const isDenD = (hi: number, lo: number): boolean => (hi & 0x7ff00000) === 0 && ((hi & 0xfffff) !== 0 || lo !== 0);

const DEFAULT_NAN_S = 0xffc00000 | 0;
const DEFAULT_NAN_D_HI = 0xfff80000 | 0;

/** An operand's value with DAZ applied and DE noted. */
function inS(bits: number, v: number): number {
  if (isDenS(bits)) {
    if ((mx & Mxcsr.DAZ) !== 0) return bits < 0 ? -0 : 0;
    exc |= Mxcsr.DE;
  }
  return v;
}
function inD(hi: number, lo: number, v: number): number {
  if (isDenD(hi, lo)) {
    if ((mx & Mxcsr.DAZ) !== 0) return hi < 0 ? -0 : 0;
    exc |= Mxcsr.DE;
  }
  return v;
}

/** The same for conversions to integers, which do not report DE (SDM CVTSS2SI & co.: Invalid, Precision). */
function inSq(bits: number, v: number): number {
  return isDenS(bits) && (mx & Mxcsr.DAZ) !== 0 ? 0 : v;
}
function inDq(hi: number, lo: number, v: number): number {
  return isDenD(hi, lo) && (mx & Mxcsr.DAZ) !== 0 ? 0 : v;
}

// ---------------------------------------------------------------------------------------
// ADD/SUB/MUL/DIV/SQRT/MIN/MAX
// ---------------------------------------------------------------------------------------

function arith(c: Cpu, d: number, info: number, p: number, k: K): void {
  const x = c.fpu.xmm;
  const dst = xmmReg(info) << 2;
  const single = p === Pfx.NONE || p === Pfx.F3;
  const scalar = p >= Pfx.F3;
  if (scalar) {
    if (single) loadSrc32(c, d, info);
    else loadSrc64(c, d, info);
  } else loadSrc128(c, d, info, true);
  for (let i = 0; i < 4; i++) DST[i] = x[dst + i];
  if (single) {
    const n = scalar ? 1 : 4;
    for (let i = 0; i < n; i++) RES[i] = opS(k, DST[i], DST_F32[i], SRC[i], SRC_F32[i]);
    commitFlags(c);
    for (let i = 0; i < n; i++) x[dst + i] = RES[i];
  } else {
    const n = scalar ? 1 : 2;
    for (let i = 0; i < n; i++) {
      RES[2 * i + 1] = opD(k, DST[2 * i + 1], DST[2 * i], DST_F64[i], SRC[2 * i + 1], SRC[2 * i], SRC_F64[i]);
      RES[2 * i] = resLo;
    }
    commitFlags(c);
    for (let i = 0; i < 2 * n; i++) x[dst + i] = RES[i];
  }
}

/** One single-precision operation on bit patterns a, b (values av, bv); returns the result bits. */
function opS(k: K, a: number, av: number, b: number, bv: number): number {
  if (k === K.MIN || k === K.MAX) {
    // Any NaN, or both zeros: the second operand (SDM MINPS/MAXPS).
    if (isNanS(a) || isNanS(b)) {
      exc |= Mxcsr.IE;
      return b;
    }
    const x = inS(a, av);
    const y = inS(b, bv);
    if (k === K.MIN ? x < y : x > y) return a;
    return b;
  }
  if (k === K.SQRT) {
    if (isNanS(b)) {
      if (isSnanS(b)) exc |= Mxcsr.IE;
      return b | 0x400000;
    }
    const y = inS(b, bv);
    if (y < 0) {
      exc |= Mxcsr.IE;
      return DEFAULT_NAN_S;
    }
    const f = Math.fround(Math.sqrt(y));
    return finishS(f, Number.isFinite(y) ? sgn(y - f * f) : 0, false);
  }
  if (isNanS(a) || isNanS(b)) {
    if (isSnanS(a) || isSnanS(b)) exc |= Mxcsr.IE;
    return isNanS(a) ? a | 0x400000 : b | 0x400000;
  }
  const x = inS(a, av);
  const y = inS(b, bv);
  let r: number;
  let f: number;
  let dir: number;
  switch (k) {
    case K.ADD: case K.SUB: {
      const yy = k === K.SUB ? -y : y;
      r = x + yy;
      if (r !== r) break;
      f = Math.fround(r);
      dir = !Number.isFinite(x) || !Number.isFinite(yy) ? 0 : r !== f ? sgn(r - f) : addDir(x, yy, r);
      if (r === 0 && dir === 0 && ((mx >> Mxcsr.RC_SHIFT) & 3) === 1 && !(Object.is(x, 0) && Object.is(yy, 0))) return 0x80000000 | 0;
      return finishS(f, dir, Number.isFinite(f) || !Number.isFinite(r) ? false : true);
    }
    case K.MUL:
      r = x * y;
      if (r !== r) break;
      f = Math.fround(r);
      return finishS(f, sgn(r - f), Number.isFinite(x) && Number.isFinite(y) && !Number.isFinite(f));
    default: // DIV
      if (y === 0 && x === x && Number.isFinite(x) && x !== 0) exc |= Mxcsr.ZE;
      r = x / y;
      if (r !== r) break;
      f = Math.fround(r);
      if (!Number.isFinite(f)) dir = Number.isFinite(r) && y !== 0 ? (f > 0 ? -1 : 1) : 0;
      else dir = x === 0 || !Number.isFinite(x) || !Number.isFinite(y) ? 0 : sgn(x - f * y) * sgn(y);
      return finishS(f, dir, y !== 0 && Number.isFinite(x) && Number.isFinite(y) && !Number.isFinite(f));
  }
  exc |= Mxcsr.IE;
  return DEFAULT_NAN_S;
}

const sgn = (v: number): number => (v > 0 ? 1 : v < 0 ? -1 : 0);
const MIN_NORMAL_S = 1.1754943508222875e-38;
const MIN_NORMAL_D = 2.2250738585072014e-308;

/**
 * Finish a single result: f rounded to nearest, dir = sign(true - f), overflow for a finite
 * true result beyond the range. Applies MXCSR.RC, sets PE/OE/UE, flushes tiny results with FZ.
 */
function finishS(f: number, dir: number, overflow: boolean): number {
  const rc = (mx >> Mxcsr.RC_SHIFT) & 3;
  const v = directed(f, dir, rc, true);
  if (dir !== 0) exc |= Mxcsr.PE;
  if (overflow) exc |= Mxcsr.OE | Mxcsr.PE;
  const tiny = v !== 0 ? Math.abs(v) < MIN_NORMAL_S : dir !== 0;
  if (tiny) {
    if ((mx & Mxcsr.FZ) !== 0 && (mx & Mxcsr.UM) !== 0) {
      exc |= Mxcsr.UE | Mxcsr.PE;
      return v < 0 || Object.is(v, -0) || (v === 0 && dir < 0) ? 0x80000000 | 0 : 0;
    }
    if (dir !== 0 || (mx & Mxcsr.UM) === 0) exc |= Mxcsr.UE;
  }
  return packS(v);
}

const BITS = new Float64Array(1);
const BITS_I = new Int32Array(BITS.buffer);
const BITS_F = new Float32Array(BITS.buffer);

function packS(f: number): number {
  BITS_F[0] = f;
  return BITS_I[0];
}

/** Low half of the last double result. */
let resLo = 0;

function packD(v: number): number {
  BITS[0] = v;
  resLo = BITS_I[0];
  return BITS_I[1];
}

/** One double-precision operation; returns the high half (low half in resLo). */
function opD(k: K, aHi: number, aLo: number, av: number, bHi: number, bLo: number, bv: number): number {
  if (k === K.MIN || k === K.MAX) {
    if (isNanD(aHi, aLo) || isNanD(bHi, bLo)) {
      exc |= Mxcsr.IE;
      resLo = bLo;
      return bHi;
    }
    const x = inD(aHi, aLo, av);
    const y = inD(bHi, bLo, bv);
    if (k === K.MIN ? x < y : x > y) {
      resLo = aLo;
      return aHi;
    }
    resLo = bLo;
    return bHi;
  }
  if (k === K.SQRT) {
    if (isNanD(bHi, bLo)) {
      if (isSnanD(bHi, bLo)) exc |= Mxcsr.IE;
      resLo = bLo;
      return bHi | 0x80000;
    }
    const y = inD(bHi, bLo, bv);
    if (y < 0) {
      exc |= Mxcsr.IE;
      resLo = 0;
      return DEFAULT_NAN_D_HI;
    }
    const r = Math.sqrt(y);
    return finishD(r, y > 0 && Number.isFinite(y) ? sqrtDir(y, r) : 0, false);
  }
  if (isNanD(aHi, aLo) || isNanD(bHi, bLo)) {
    if (isSnanD(aHi, aLo) || isSnanD(bHi, bLo)) exc |= Mxcsr.IE;
    if (isNanD(aHi, aLo)) {
      resLo = aLo;
      return aHi | 0x80000;
    }
    resLo = bLo;
    return bHi | 0x80000;
  }
  const x = inD(aHi, aLo, av);
  const y = inD(bHi, bLo, bv);
  const finite = Number.isFinite(x) && Number.isFinite(y);
  let r: number;
  switch (k) {
    case K.ADD: case K.SUB: {
      const yy = k === K.SUB ? -y : y;
      r = x + yy;
      if (r !== r) break;
      const dir = finite ? addDir(x, yy, r) : 0;
      if (r === 0 && dir === 0 && ((mx >> Mxcsr.RC_SHIFT) & 3) === 1 && !(Object.is(x, 0) && Object.is(yy, 0))) {
        resLo = 0;
        return 0x80000000 | 0;
      }
      return finishD(r, dir, finite && !Number.isFinite(r));
    }
    case K.MUL:
      r = x * y;
      if (r !== r) break;
      return finishD(r, finite ? mulDir(x, y, r) : 0, finite && !Number.isFinite(r));
    default:
      if (y === 0 && Number.isFinite(x) && x !== 0) exc |= Mxcsr.ZE;
      r = x / y;
      if (r !== r) break;
      return finishD(r, finite && y !== 0 ? divDir(x, y, r) : 0, finite && y !== 0 && !Number.isFinite(r));
  }
  exc |= Mxcsr.IE;
  resLo = 0;
  return DEFAULT_NAN_D_HI;
}

function finishD(r: number, dir: number, overflow: boolean): number {
  const v = directed(r, dir, (mx >> Mxcsr.RC_SHIFT) & 3, false);
  if (dir !== 0) exc |= Mxcsr.PE;
  if (overflow) exc |= Mxcsr.OE | Mxcsr.PE;
  const tiny = v !== 0 ? Math.abs(v) < MIN_NORMAL_D : dir !== 0;
  if (tiny) {
    if ((mx & Mxcsr.FZ) !== 0 && (mx & Mxcsr.UM) !== 0) {
      exc |= Mxcsr.UE | Mxcsr.PE;
      resLo = 0;
      return v < 0 || Object.is(v, -0) || (v === 0 && dir < 0) ? 0x80000000 | 0 : 0;
    }
    if (dir !== 0 || (mx & Mxcsr.UM) === 0) exc |= Mxcsr.UE;
  }
  return packD(v);
}

// ---------------------------------------------------------------------------------------
// RCPPS/RCPSS/RSQRTPS/RSQRTSS: approximations; these return the correctly rounded value,
// which is within the architectural bound (relative error <= 1.5 * 2^-12) but not the
// hardware's table-based bits. They raise no exceptions; denormal inputs count as zero.
// ---------------------------------------------------------------------------------------

function approx(c: Cpu, d: number, info: number, p: number, rsqrt: boolean): void {
  if (p !== Pfx.NONE && p !== Pfx.F3) c.fault(Vec.UD);
  const x = c.fpu.xmm;
  const dst = xmmReg(info) << 2;
  const n = p === Pfx.F3 ? 1 : 4;
  if (n === 1) loadSrc32(c, d, info);
  else loadSrc128(c, d, info, true);
  for (let i = 0; i < n; i++) {
    const b = SRC[i];
    if (isNanS(b)) {
      x[dst + i] = b | 0x400000;
      continue;
    }
    const v = isDenS(b) ? (b < 0 ? -0 : 0) : SRC_F32[i];
    if (rsqrt && v < 0) {
      x[dst + i] = DEFAULT_NAN_S;
      continue;
    }
    const r = Math.fround(rsqrt ? 1 / Math.sqrt(v) : 1 / v);
    // Results below the normal range are flushed to zero by the hardware approximations.
    x[dst + i] = packS(r !== 0 && Math.abs(r) < 1.1754943508222875e-38 ? (r < 0 ? -0 : 0) : r);
  }
}

// ---------------------------------------------------------------------------------------
// CMPPS/CMPPD/CMPSS/CMPSD (predicates 0-7), COMISS/UCOMISS/COMISD/UCOMISD
// ---------------------------------------------------------------------------------------

/** Predicate pred on a, b; unordered is signalled for an SNaN, and for a QNaN by LT/LE/NLT/NLE. */
function cmpPred(pred: number, x: number, y: number, unord: boolean, snan: boolean): boolean {
  if (snan || (unord && (pred & 3) !== 0 && (pred & 3) !== 3)) exc |= Mxcsr.IE;
  switch (pred) {
    case 0: return !unord && x === y;
    case 1: return !unord && x < y;
    case 2: return !unord && x <= y;
    case 3: return unord;
    case 4: return unord || x !== y;
    case 5: return unord || !(x < y);
    case 6: return unord || !(x <= y);
    default: return !unord;
  }
}

function compare(c: Cpu, d: number, info: number, p: number, pred: number): void {
  const x = c.fpu.xmm;
  const dst = xmmReg(info) << 2;
  const single = p === Pfx.NONE || p === Pfx.F3;
  const scalar = p >= Pfx.F3;
  if (scalar) {
    if (single) loadSrc32(c, d, info);
    else loadSrc64(c, d, info);
  } else loadSrc128(c, d, info, true);
  for (let i = 0; i < 4; i++) DST[i] = x[dst + i];
  if (single) {
    const n = scalar ? 1 : 4;
    for (let i = 0; i < n; i++) {
      const a = DST[i];
      const b = SRC[i];
      const unord = isNanS(a) || isNanS(b);
      const t = cmpPred(pred, unord ? 0 : inS(a, DST_F32[i]), unord ? 0 : inS(b, SRC_F32[i]), unord, isSnanS(a) || isSnanS(b));
      RES[i] = t ? -1 : 0;
    }
    commitFlags(c);
    for (let i = 0; i < n; i++) x[dst + i] = RES[i];
  } else {
    const n = scalar ? 1 : 2;
    for (let i = 0; i < n; i++) {
      const aH = DST[2 * i + 1], aL = DST[2 * i], bH = SRC[2 * i + 1], bL = SRC[2 * i];
      const unord = isNanD(aH, aL) || isNanD(bH, bL);
      const t = cmpPred(pred, unord ? 0 : inD(aH, aL, DST_F64[i]), unord ? 0 : inD(bH, bL, SRC_F64[i]), unord, isSnanD(aH, aL) || isSnanD(bH, bL));
      RES[2 * i] = RES[2 * i + 1] = t ? -1 : 0;
    }
    commitFlags(c);
    for (let i = 0; i < 2 * n; i++) x[dst + i] = RES[i];
  }
}

/** COMISS/COMISD (signal on any NaN) and UCOMISS/UCOMISD (on SNaN only): ZF, PF, CF; OF, SF, AF cleared. */
function comis(c: Cpu, d: number, info: number, p: number, signalQnan: boolean): void {
  if (p > Pfx.P66) c.fault(Vec.UD);
  const x = c.fpu.xmm;
  const dst = xmmReg(info) << 2;
  let unord: boolean;
  let snan: boolean;
  let a = 0;
  let b = 0;
  if (p === Pfx.NONE) {
    loadSrc32(c, d, info);
    const ab = x[dst];
    unord = isNanS(ab) || isNanS(SRC[0]);
    snan = isSnanS(ab) || isSnanS(SRC[0]);
    if (!unord) {
      DST[0] = ab;
      a = inS(ab, DST_F32[0]);
      b = inS(SRC[0], SRC_F32[0]);
    }
  } else {
    loadSrc64(c, d, info);
    const aH = x[dst + 1], aL = x[dst];
    unord = isNanD(aH, aL) || isNanD(SRC[1], SRC[0]);
    snan = isSnanD(aH, aL) || isSnanD(SRC[1], SRC[0]);
    if (!unord) {
      DST[0] = aL;
      DST[1] = aH;
      a = inD(aH, aL, DST_F64[0]);
      b = inD(SRC[1], SRC[0], SRC_F64[0]);
    }
  }
  if (snan || (unord && signalQnan)) exc |= Mxcsr.IE;
  commitFlags(c);
  const f = unord ? Flag.ZF | Flag.PF | Flag.CF : a > b ? 0 : a < b ? Flag.CF : Flag.ZF;
  c.setArith(ARITH_FLAGS, f);
}

// ---------------------------------------------------------------------------------------
// Conversions
// ---------------------------------------------------------------------------------------

/** Round an integral-or-not double by MXCSR.RC (or truncate). */
function roundRc(v: number, rc: number): number {
  switch (rc) {
    case 1: return Math.floor(v);
    case 2: return Math.ceil(v);
    case 3: return Math.trunc(v);
    default: {
      const f = Math.floor(v);
      const diff = v - f;
      if (diff > 0.5) return f + 1;
      if (diff < 0.5) return f;
      return f % 2 === 0 ? f : f + 1;
    }
  }
}

/**
 * Float -> int32/int64 (CVT(T)SS2SI, CVT(T)SD2SI, CVT(T)PS2DQ, CVT(T)PD2DQ): NaN or out of
 * range gives the integer indefinite (80000000H / 8000000000000000H) and IE; inexact sets PE.
 * Returns the low half; the high half in cvtHi.
 */
let cvtHi = 0;
function toInt(v: number, nan: boolean, trunc: boolean, q: boolean): number {
  if (nan) {
    exc |= Mxcsr.IE;
    cvtHi = q ? 0x80000000 | 0 : 0;
    return q ? 0 : 0x80000000 | 0;
  }
  const r = roundRc(v, trunc ? 3 : (mx >> Mxcsr.RC_SHIFT) & 3);
  const limit = q ? 9223372036854775808 : 2147483648;
  if (!(r >= -limit && r < limit)) {
    exc |= Mxcsr.IE;
    cvtHi = q ? 0x80000000 | 0 : 0;
    return q ? 0 : 0x80000000 | 0;
  }
  if (r !== v) exc |= Mxcsr.PE;
  if (!q) {
    cvtHi = 0;
    return r | 0;
  }
  const hi = Math.floor(r / TWO32);
  cvtHi = hi | 0;
  return (r - hi * TWO32) | 0;
}

/** 0F 2A / 66 0F 2A: CVTPI2PS (two int32 to the low singles) and CVTPI2PD xmm, mm/m64. */
function cvtPi2(c: Cpu, d: number, info: number, p: number): void {
  const mm = (info & Info.MEM) === 0;
  if (mm) {
    const r = (info >> Info.RM_SHIFT) & 7;
    SRC[0] = c.fpu.st[3 * r];
    SRC[1] = c.fpu.st[3 * r + 1];
  } else loadSrc64(c, d, info);
  const x = c.fpu.xmm;
  const dst = xmmReg(info) << 2;
  if (p === Pfx.NONE) {
    for (let i = 0; i < 2; i++) {
      const f = Math.fround(SRC[i]);
      RES[i] = finishS(f, sgn(SRC[i] - f), false);
    }
    commitFlags(c);
    x[dst] = RES[0];
    x[dst + 1] = RES[1];
  } else {
    RES_F64[0] = SRC[0];
    RES_F64[1] = SRC[1];
    for (let i = 0; i < 4; i++) x[dst + i] = RES[i];
  }
  if (mm) enterMmx(c);
}

/** 0F 2C/2D: CVT(T)PS2PI mm, xmm/m64; 66 0F 2C/2D: CVT(T)PD2PI mm, xmm/m128. */
function cvt2Pi(c: Cpu, d: number, info: number, p: number, trunc: boolean): void {
  if (p === Pfx.NONE) {
    loadSrc64(c, d, info);
    for (let i = 0; i < 2; i++) {
      const nan = isNanS(SRC[i]);
      RES[i] = toInt(nan ? 0 : inSq(SRC[i], SRC_F32[i]), nan, trunc, false);
    }
  } else {
    loadSrc128(c, d, info, true);
    for (let i = 0; i < 2; i++) {
      const nan = isNanD(SRC[2 * i + 1], SRC[2 * i]);
      RES[i] = toInt(nan ? 0 : inDq(SRC[2 * i + 1], SRC[2 * i], SRC_F64[i]), nan, trunc, false);
    }
  }
  commitFlags(c);
  enterMmx(c);
  writeMm(c, (info >> Info.REG_SHIFT) & 7, RES[0], RES[1]);
}

/** F3 0F D6 MOVQ2DQ xmm, mm and F2 0F D6 MOVDQ2Q mm, xmm (register operands only). */
function movq2dq(c: Cpu, info: number, p: number): void {
  if ((info & Info.MEM) !== 0 || p < Pfx.F3) c.fault(Vec.UD);
  const x = c.fpu.xmm;
  const st = c.fpu.st;
  if (p === Pfx.F3) {
    const r = (info >> Info.RM_SHIFT) & 7;
    const dst = xmmReg(info) << 2;
    x[dst] = st[3 * r];
    x[dst + 1] = st[3 * r + 1];
    x[dst + 2] = 0;
    x[dst + 3] = 0;
  } else {
    const s = (info >> Info.RM_SHIFT & 15) << 2;
    writeMm(c, (info >> Info.REG_SHIFT) & 7, x[s], x[s + 1]);
  }
  enterMmx(c);
}

/** F3/F2 0F 2C/2D: CVT(T)SS2SI / CVT(T)SD2SI r32/r64, xmm/m. */
function cvtFpToInt(c: Cpu, d: number, info: number, p: number, trunc: boolean): void {
  if (p < Pfx.F3) c.fault(Vec.UD); // CVTPS2PI & co. use MMX registers
  const q = (info & Info.REXW) !== 0;
  let v: number;
  let nan: boolean;
  if (p === Pfx.F3) {
    loadSrc32(c, d, info);
    nan = isNanS(SRC[0]);
    v = nan ? 0 : inSq(SRC[0], SRC_F32[0]);
  } else {
    loadSrc64(c, d, info);
    nan = isNanD(SRC[1], SRC[0]);
    v = nan ? 0 : inDq(SRC[1], SRC[0], SRC_F64[0]);
  }
  const lo = toInt(v, nan, trunc, q);
  const hi = cvtHi;
  commitFlags(c);
  writeReg(c, (info >> Info.REG_SHIFT) & 15, q ? 3 : 2, lo, hi);
}

/** F3/F2 0F 2A: CVTSI2SS / CVTSI2SD xmm, r/m32 or r/m64. */
function cvtIntToFp(c: Cpu, d: number, info: number, p: number): void {
  if (p < Pfx.F3) c.fault(Vec.UD);
  const q = (info & Info.REXW) !== 0;
  let lo = readRm(c, d, q ? 3 : 2);
  let hi = q ? c.rHi : lo >> 31;
  const dst = xmmReg(info) << 2;
  // The exact value, with bits below the 53rd significant one folded into a sticky bit so
  // the single conversion rounds once (|value| >= 2^53 only happens for 64-bit sources).
  const neg = hi < 0;
  if (neg) {
    lo = (~lo + 1) | 0;
    hi = (~hi + (lo === 0 ? 1 : 0)) | 0;
  }
  const uh = hi >>> 0;
  let ul = lo >>> 0;
  let v: number;
  if (p === Pfx.F2) {
    v = uh * TWO32 + ul; // one correct rounding of the exact sum
  } else {
    if (uh >= 0x200000) ul = ((ul & ~0xfff) | ((ul & 0xfff) !== 0 ? 0x800 : 0)) >>> 0;
    v = uh * TWO32 + ul;
  }
  if (neg) v = -v;
  const dst0 = dst;
  if (p === Pfx.F2) {
    // Above 2^53 the conversion may round: compare the exact magnitude with the result's.
    let dir = 0;
    if (uh >= 0x200000) {
      const back = Math.abs(v);
      const bh = Math.floor(back / TWO32);
      const bl = back - bh * TWO32;
      const m = uh !== bh ? (uh > bh ? 1 : -1) : ul !== bl ? (ul > bl ? 1 : -1) : 0;
      dir = neg ? -m : m;
    }
    const hiOut = finishD(v, dir, false);
    const loOut = resLo;
    commitFlags(c);
    c.fpu.xmm[dst0] = loOut;
    c.fpu.xmm[dst0 + 1] = hiOut;
    return;
  }
  const f = Math.fround(v);
  const bits = finishS(f, sgn(v - f), false);
  commitFlags(c);
  c.fpu.xmm[dst0] = bits;
}

/** 0F 5A: CVTPS2PD, CVTPD2PS, CVTSS2SD, CVTSD2SS. */
function cvtFpFp(c: Cpu, d: number, info: number, p: number, dst: number, x: Int32Array): void {
  switch (p) {
    case Pfx.NONE: // CVTPS2PD xmm, xmm/m64
      loadSrc64(c, d, info);
      for (let i = 0; i < 2; i++) {
        RES[2 * i + 1] = s2d(SRC[i], SRC_F32[i]);
        RES[2 * i] = resLo;
      }
      commitFlags(c);
      for (let i = 0; i < 4; i++) x[dst + i] = RES[i];
      return;
    case Pfx.F3: // CVTSS2SD
      loadSrc32(c, d, info);
      RES[1] = s2d(SRC[0], SRC_F32[0]);
      RES[0] = resLo;
      commitFlags(c);
      x[dst] = RES[0];
      x[dst + 1] = RES[1];
      return;
    case Pfx.P66: // CVTPD2PS xmm, xmm/m128: upper half zeroed
      loadSrc128(c, d, info, true);
      RES[0] = d2s(SRC[1], SRC[0], SRC_F64[0]);
      RES[1] = d2s(SRC[3], SRC[2], SRC_F64[1]);
      commitFlags(c);
      x[dst] = RES[0];
      x[dst + 1] = RES[1];
      x[dst + 2] = 0;
      x[dst + 3] = 0;
      return;
    default: // CVTSD2SS
      loadSrc64(c, d, info);
      RES[0] = d2s(SRC[1], SRC[0], SRC_F64[0]);
      commitFlags(c);
      x[dst] = RES[0];
  }
}

/** Single -> double bits (high half returned, low in resLo); exact, NaNs quieted with their payload. */
function s2d(b: number, v: number): number {
  if (isNanS(b)) {
    if (isSnanS(b)) exc |= Mxcsr.IE;
    resLo = (b & 7) << 29;
    return (b & 0x80000000) | 0x7ff80000 | ((b & 0x7fffff) >>> 3);
  }
  return packD(inS(b, v));
}

/** Double -> single bits, rounded; NaNs quieted keeping the top payload bits. */
function d2s(hi: number, lo: number, v: number): number {
  if (isNanD(hi, lo)) {
    if (isSnanD(hi, lo)) exc |= Mxcsr.IE;
    return (hi & 0x80000000) | 0x7fc00000 | ((hi & 0xfffff) << 3) | (lo >>> 29);
  }
  const r = inD(hi, lo, v);
  const f = Math.fround(r);
  return finishS(f, Number.isFinite(r) ? sgn(r - f) : 0, Number.isFinite(r) && !Number.isFinite(f));
}

/** 0F 5B (CVTDQ2PS, CVTPS2DQ, CVTTPS2DQ) and 0F E6 (CVTTPD2DQ, CVTDQ2PD, CVTPD2DQ). */
function cvtPackedInt(c: Cpu, d: number, info: number, p: number, op: number, dst: number, x: Int32Array): void {
  if (op === 0x15b) {
    if (p === Pfx.F2) c.fault(Vec.UD);
    loadSrc128(c, d, info, true);
    for (let i = 0; i < 4; i++) {
      if (p === Pfx.NONE) {
        const f = Math.fround(SRC[i]);
        RES[i] = finishS(f, sgn(SRC[i] - f), false);
      } else {
        const nan = isNanS(SRC[i]);
        RES[i] = toInt(nan ? 0 : inSq(SRC[i], SRC_F32[i]), nan, p === Pfx.F3, false);
      }
    }
    commitFlags(c);
    for (let i = 0; i < 4; i++) x[dst + i] = RES[i];
    return;
  }
  if (p === Pfx.NONE) c.fault(Vec.UD);
  if (p === Pfx.F3) { // CVTDQ2PD xmm, xmm/m64
    loadSrc64(c, d, info);
    RES_F64[0] = SRC[0];
    RES_F64[1] = SRC[1];
    for (let i = 0; i < 4; i++) x[dst + i] = RES[i];
    return;
  }
  loadSrc128(c, d, info, true); // CVTTPD2DQ (66) / CVTPD2DQ (F2): upper half zeroed
  for (let i = 0; i < 2; i++) {
    const nan = isNanD(SRC[2 * i + 1], SRC[2 * i]);
    RES[i] = toInt(nan ? 0 : inDq(SRC[2 * i + 1], SRC[2 * i], SRC_F64[i]), nan, p === Pfx.P66, false);
  }
  commitFlags(c);
  x[dst] = RES[0];
  x[dst + 1] = RES[1];
  x[dst + 2] = 0;
  x[dst + 3] = 0;
}

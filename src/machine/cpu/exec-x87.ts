// The x87 FPU (SDM vol. 1, chapter 8; vol. 2 pages F*; opcode map vol. 2, A.5).
//
// Registers hold exact 80-bit values (fpu-state.ts): loads, stores of m80, FXCH, FILD/FIST of
// 64-bit integers, FNSAVE/FRSTOR and FXSAVE/FXRSTOR keep every bit. Arithmetic converts the
// operands to doubles and rounds the result to 53 bits (round to nearest): deterministic, but
// not the 64-bit precision of real hardware; precision and rounding control bits are stored
// and ignored by arithmetic (FIST/FRNDINT do honour the rounding control). Transcendental
// instructions (FSIN, FCOS, FPTAN, FPATAN, F2XM1, FYL2X, FYL2XP1, FSINCOS) would need host
// transcendental functions, which are not deterministic: they signal an invalid operation.

import type { Cpu } from './cpu.js';
import { Info } from './decoded.js';
import { Cr0, Vec, Flag, ARITH_FLAGS } from './constants.js';
import { Fsw, f80, doubleToF80, f80ToDouble } from './fpu-state.js';
import { memAddr, memLo, memHi } from './exec-sse-operands.js';
import { addDir, mulDir, divDir, sqrtDir, directed } from './exec-sse-round.js';

const TWO32 = 4294967296;
const fbuf = new Float64Array(1);
const fbufI = new Int32Array(fbuf.buffer);
const fbufF = new Float32Array(fbuf.buffer);

/** 9B: WAIT/FWAIT: #NM when CR0.MP and CR0.TS are both set; then pending unmasked exceptions. */
export function fwait(c: Cpu): void {
  if ((c.cr0 & (Cr0.MP | Cr0.TS)) === (Cr0.MP | Cr0.TS)) c.fault(Vec.NM);
  pendingCheck(c);
}

/** A pending unmasked x87 exception is reported by the next waiting instruction: #MF with CR0.NE. */
function pendingCheck(c: Cpu): void {
  if ((c.fpu.fsw & Fsw.ES) !== 0 && (c.cr0 & Cr0.NE) !== 0) c.fault(Vec.MF);
}

export function x87(c: Cpu, d: number, op: number): void {
  // Table 2-2 (SDM vol. 3, 2.5): EM=1 or TS=1 gives #NM for every x87 instruction.
  if ((c.cr0 & (Cr0.EM | Cr0.TS)) !== 0) c.fault(Vec.NM);
  const info = c.store.info[d];
  const reg = (info >> Info.REG_SHIFT) & 7;
  const mem = (info & Info.MEM) !== 0;
  const f = c.fpu;
  if (!mem) {
    const i = (info >> Info.RM_SHIFT) & 7;
    const modrm = 0xc0 | (reg << 3) | i;
    // Non-waiting control instructions: FNCLEX, FNINIT, FNSTSW AX (and the 287 NOPs).
    if (op === 0xdb && modrm >= 0xe0 && modrm <= 0xe4) {
      if (modrm === 0xe2) f.fsw &= ~(0x3f | Fsw.SF | Fsw.ES | Fsw.B);
      else if (modrm === 0xe3) f.init();
      return;
    }
    if (op === 0xdf && modrm === 0xe0) {
      c.setReg(1, 0, f.statusWord());
      return;
    }
    pendingCheck(c);
    noteInstruction(c, op, modrm);
    regForm(c, op, reg, i, modrm);
    return;
  }
  // Memory forms: control-state loads/stores first (they do not update FIP/FDP/FOP).
  const kind = (op - 0xd8) * 8 + reg;
  switch (kind) {
    case 0x0d: // D9 /5 FLDCW
      pendingCheck(c);
      memAddr(c, d, 2, false, false);
      f.fcw = c.rd16(memLo, memHi);
      unmaskedCheck(c);
      return;
    case 0x0f: // D9 /7 FNSTCW
      memAddr(c, d, 2, true, false);
      c.wr16(memLo, memHi, f.fcw);
      return;
    case 0x2f: // DD /7 FNSTSW m16
      memAddr(c, d, 2, true, false);
      c.wr16(memLo, memHi, f.statusWord());
      return;
    case 0x0e: // D9 /6 FNSTENV
      envStore(c, d, info, false);
      f.fcw |= 0x3f; // masks all exceptions after saving (SDM FSTENV)
      return;
    case 0x0c: // D9 /4 FLDENV
      envLoad(c, d, info, false);
      return;
    case 0x2e: // DD /6 FNSAVE
      envStore(c, d, info, true);
      f.init();
      return;
    case 0x2c: // DD /4 FRSTOR
      envLoad(c, d, info, true);
      return;
  }
  pendingCheck(c);
  memAddr(c, d, 0, false, false);
  noteInstruction(c, op, reg << 3);
  f.fdpLo = memLo;
  f.fdpHi = memHi;
  f.fds = c.segSel[(info >> Info.SEG_SHIFT) & 7];
  memForm(c, d, kind);
}

/** FIP/FCS/FOP of the last non-control instruction (SDM vol. 1, 8.1.8-8.1.9). */
function noteInstruction(c: Cpu, op: number, modrm: number): void {
  const f = c.fpu;
  f.fipLo = c.curLo;
  f.fipHi = c.codeSize === 3 ? c.curHi : 0;
  f.fcs = c.segSel[1];
  f.fop = ((op & 7) << 8) | modrm;
}

// ---------------------------------------------------------------------------------------
// The stack
// ---------------------------------------------------------------------------------------

const phys = (c: Cpu, i: number): number => (c.fpu.top + i) & 7;
const isEmpty = (c: Cpu, i: number): boolean => (c.fpu.tagValid & (1 << phys(c, i))) === 0;

/** Set FSW exception bits; an unmasked one also sets ES and B. Returns true when unmasked. */
function signal(c: Cpu, bits: number): boolean {
  const f = c.fpu;
  f.fsw |= bits;
  if ((bits & ~f.fcw & 0x3f) !== 0) {
    f.fsw |= Fsw.ES | Fsw.B;
    return true;
  }
  return false;
}

/** After FLDCW/FLDENV/FRSTOR: ES follows the unmasked pending exceptions. */
function unmaskedCheck(c: Cpu): void {
  const f = c.fpu;
  if ((f.fsw & ~f.fcw & 0x3f) !== 0) f.fsw |= Fsw.ES | Fsw.B;
  else f.fsw &= ~(Fsw.ES | Fsw.B);
}

/** Stack underflow (reading an empty register): IE|SF, C1=0. True when masked (go on with the indefinite). */
function underflow(c: Cpu): boolean {
  c.fpu.fsw &= ~Fsw.C1;
  return !signal(c, Fsw.IE | Fsw.SF);
}

function setPhysIndefinite(c: Cpu, p: number): void {
  const st = c.fpu.st;
  st[3 * p] = 0;
  st[3 * p + 1] = 0xc0000000 | 0;
  st[3 * p + 2] = 0xffff;
}

/** Value of ST(i) as a double. */
function stVal(c: Cpu, i: number): number {
  const p = 3 * phys(c, i);
  const st = c.fpu.st;
  return f80ToDouble(st[p], st[p + 1], st[p + 2]);
}

/** Write the f80 scratch to ST(i) and tag it valid. */
function stSetF80(c: Cpu, i: number): void {
  const p = phys(c, i);
  const st = c.fpu.st;
  st[3 * p] = f80.lo;
  st[3 * p + 1] = f80.hi;
  st[3 * p + 2] = f80.se;
  c.fpu.tagValid |= 1 << p;
}
function stSet(c: Cpu, i: number, v: number): void {
  doubleToF80(v);
  stSetF80(c, i);
}

/** Push the f80 scratch; stack overflow (ST7 valid) gives IE|SF with C1=1 and the indefinite when masked. */
function pushF80(c: Cpu): void {
  const f = c.fpu;
  const p = (f.top - 1) & 7;
  if ((f.tagValid & (1 << p)) !== 0) {
    f.fsw |= Fsw.C1;
    if (signal(c, Fsw.IE | Fsw.SF)) return;
    f.top = p;
    setPhysIndefinite(c, p);
    return;
  }
  f.fsw &= ~Fsw.C1;
  f.top = p;
  stSetF80(c, 0);
}
function push(c: Cpu, v: number): void {
  doubleToF80(v);
  pushF80(c);
}

function pop(c: Cpu): void {
  const f = c.fpu;
  f.tagValid &= ~(1 << f.top);
  f.top = (f.top + 1) & 7;
}

// ---------------------------------------------------------------------------------------
// NaN operands (SDM vol. 1, 4.8.3.5 and table 4-7) and arithmetic
// ---------------------------------------------------------------------------------------

const A = { lo: 0, hi: 0, se: 0 };
const B = { lo: 0, hi: 0, se: 0 };

function loadPhys(c: Cpu, i: number, t: { lo: number; hi: number; se: number }): void {
  const p = 3 * phys(c, i);
  const st = c.fpu.st;
  t.lo = st[p];
  t.hi = st[p + 1];
  t.se = st[p + 2];
}
function fromDouble(v: number, t: { lo: number; hi: number; se: number }): void {
  doubleToF80(v);
  t.lo = f80.lo;
  t.hi = f80.hi;
  t.se = f80.se;
}

const isNan80 = (t: { lo: number; hi: number; se: number }): boolean =>
  (t.se & 0x7fff) === 0x7fff && ((t.hi & 0x7fffffff) !== 0 || t.lo !== 0);
const isSnan80 = (t: { lo: number; hi: number; se: number }): boolean => isNan80(t) && (t.hi & 0x40000000) === 0;
const toD = (t: { lo: number; hi: number; se: number }): number => f80ToDouble(t.lo, t.hi, t.se);

/** If A or B is a NaN, put the result NaN in f80 (the larger significand, quieted) and return true. */
function nanResult(c: Cpu): boolean {
  const an = isNan80(A);
  const bn = isNan80(B);
  if (!an && !bn) return false;
  if (isSnan80(A) || isSnan80(B)) {
    if (signal(c, Fsw.IE)) {
      f80.se = -1; // unmasked: no result
      return true;
    }
  }
  let t = an ? A : B;
  if (an && bn) {
    const ah = A.hi & 0x3fffffff, bh = B.hi & 0x3fffffff;
    if (bh > ah || (bh === ah && B.lo >>> 0 > A.lo >>> 0)) t = B;
  }
  f80.lo = t.lo;
  f80.hi = t.hi | 0x40000000;
  f80.se = t.se;
  return true;
}

/** ST arithmetic: kind 0 add, 1 mul, 4 a-b, 5 b-a, 6 a/b, 7 b/a; result to f80. False: nothing to write. */
function arith(c: Cpu, kind: number): boolean {
  if (nanResult(c)) return f80.se !== -1;
  const a = toD(A);
  const b = toD(B);
  let r: number;
  switch (kind) {
    case 0: r = a + b; break;
    case 1: r = a * b; break;
    case 4: r = a - b; break;
    case 5: r = b - a; break;
    case 6: r = divide(c, a, b); break;
    default: r = divide(c, b, a);
  }
  if (r !== r) {
    if (signal(c, Fsw.IE)) return false;
    f80.lo = 0;
    f80.hi = 0xc0000000 | 0;
    f80.se = 0xffff;
    return true;
  }
  if (divZero) {
    divZero = false;
    if (signal(c, Fsw.ZE)) return false;
  }
  const rc = (c.fpu.fcw >> 10) & 3;
  // Products and quotients beyond the double range: the register has the 15-bit exponent of
  // the extended format, so compute on operands scaled into [1, 2) and add the exponents.
  if (Number.isFinite(a) && Number.isFinite(b) && a !== 0 && b !== 0 && (kind === 1 || kind >= 6) &&
      (!Number.isFinite(r) || Math.abs(r) < 2.2250738585072014e-308)) {
    const ea = expOf(a), eb = expOf(b);
    const as = scale(a, -ea), bs = scale(b, -eb);
    let q: number;
    let dir: number;
    let e: number;
    if (kind === 1) { q = as * bs; dir = mulDir(as, bs, q); e = ea + eb; }
    else if (kind === 6) { q = as / bs; dir = divDir(as, bs, q); e = ea - eb; }
    else { q = bs / as; dir = divDir(bs, as, q); e = eb - ea; }
    if (dir !== 0) {
      c.fpu.fsw |= Fsw.PE;
      q = directed(q, dir, rc, false);
    }
    doubleToF80(q);
    const exp = (f80.se & 0x7fff) + e;
    if (exp >= 0x7fff || exp <= 0) doubleToF80(exp > 0 ? (q > 0 ? Infinity : -Infinity) : q > 0 ? 0 : -0);
    else f80.se = (f80.se & 0x8000) | exp;
    return true;
  }
  // The rounding control on the 53-bit result, from the exact rounding direction (the same
  // error-free transformations as SSE, exec-sse-round.ts); PE for an inexact result.
  if (r === 0 && rc === 1 && kind !== 1 && kind < 6) {
    // An exact zero sum of operands of opposite signs is -0 when rounding down (IEEE 754 6.3).
    const x = kind === 5 ? b : a;
    const y = kind === 0 ? b : kind === 5 ? -a : -b;
    if (!(Object.is(x, 0) && Object.is(y, 0))) r = -0;
  }
  if (Number.isFinite(a) && Number.isFinite(b) && Number.isFinite(r)) {
    let dir = 0;
    switch (kind) {
      case 0: dir = addDir(a, b, r); break;
      case 1: dir = mulDir(a, b, r); break;
      case 4: dir = addDir(a, -b, r); break;
      case 5: dir = addDir(b, -a, r); break;
      case 6: dir = b !== 0 ? divDir(a, b, r) : 0; break;
      default: dir = a !== 0 ? divDir(b, a, r) : 0;
    }
    if (dir !== 0) {
      c.fpu.fsw |= Fsw.PE;
      r = directed(r, dir, rc, false);
    }
  }
  doubleToF80(r);
  return true;
}

/** e with 2^e <= |v| < 2^(e+1) (v finite, nonzero). */
function expOf(v: number): number {
  fbuf[0] = v;
  const e = (fbufI[1] >>> 20) & 0x7ff;
  if (e !== 0) return e - 1023;
  fbuf[0] = v * 18014398509481984; // 2^54
  return ((fbufI[1] >>> 20) & 0x7ff) - 1023 - 54;
}
let divZero = false;
function divide(c: Cpu, a: number, b: number): number {
  void c;
  if (b === 0 && a === a && a !== 0 && Number.isFinite(a)) divZero = true;
  return a / b;
}

/** FCOM-style comparison of A with B into C3/C2/C0; unordered signals IE (always for FCOM, SNaN only for FUCOM). */
function compare(c: Cpu, unorderedSignals: boolean): number {
  const unord = isNan80(A) || isNan80(B);
  if (unord) {
    if (unorderedSignals || isSnan80(A) || isSnan80(B)) signal(c, Fsw.IE);
    return 3;
  }
  const a = toD(A);
  const b = toD(B);
  return a > b ? 0 : a < b ? 1 : 2; // 0 greater, 1 less, 2 equal, 3 unordered
}
function setCc(c: Cpu, rel: number): void {
  const f = c.fpu;
  f.fsw &= ~(Fsw.C0 | Fsw.C1 | Fsw.C2 | Fsw.C3);
  if (rel === 1) f.fsw |= Fsw.C0;
  else if (rel === 2) f.fsw |= Fsw.C3;
  else if (rel === 3) f.fsw |= Fsw.C0 | Fsw.C2 | Fsw.C3;
}
function setEflags(c: Cpu, rel: number): void {
  c.fpu.fsw &= ~Fsw.C1;
  c.setArith(ARITH_FLAGS, rel === 1 ? Flag.CF : rel === 2 ? Flag.ZF : rel === 3 ? Flag.ZF | Flag.PF | Flag.CF : 0);
}

// ---------------------------------------------------------------------------------------
// Register forms
// ---------------------------------------------------------------------------------------

function regForm(c: Cpu, op: number, reg: number, i: number, modrm: number): void {
  const f = c.fpu;
  switch (op) {
    case 0xd8: case 0xdc: case 0xde: {
      // D8: ST0 <- ST0 op ST(i); DC: ST(i) <- ST(i) op ST0; DE: the same and pop.
      if (op === 0xde && reg === 3 && i !== 1) c.fault(Vec.UD); // only DE D9 (FCOMPP)
      if (isEmpty(c, 0) || isEmpty(c, i)) {
        if (!underflow(c)) return;
        if (reg !== 2 && reg !== 3) setPhysIndefinite(c, phys(c, op === 0xd8 ? 0 : i));
        else setCc(c, 3);
        if (op === 0xde || reg === 3) pop(c);
        if (op === 0xde && reg === 3) pop(c);
        return;
      }
      loadPhys(c, 0, A);
      loadPhys(c, i, B);
      if (reg === 2 || reg === 3) { // FCOM/FCOMP (DC D0/D8 and DE D0 are aliases)
        setCc(c, compare(c, true));
        if (reg === 3 || op === 0xde) pop(c);
        if (op === 0xde && reg === 3) pop(c); // FCOMPP
        return;
      }
      if (arith(c, reg)) stSetF80(c, op === 0xd8 ? 0 : i);
      if (op === 0xde) pop(c);
      return;
    }
    case 0xd9: d9Reg(c, reg, i, modrm); return;
    case 0xda:
      if (reg < 4) { fcmov(c, i, reg, false); return; }
      if (modrm === 0xe9) { fucom(c, 1, 2, false); return; } // FUCOMPP
      c.fault(Vec.UD);
      return;
    case 0xdb:
      if (reg < 4) { fcmov(c, i, reg, true); return; }
      if (reg === 5 || reg === 6) { fcomi(c, i, reg === 5, false); return; }
      c.fault(Vec.UD);
      return;
    case 0xdd:
      switch (reg) {
        case 0: f.tagValid &= ~(1 << phys(c, i)); return; // FFREE
        case 1: fxch(c, i); return; // alias
        case 2: case 3: // FST/FSTP ST(i)
          if (isEmpty(c, 0)) {
            if (!underflow(c)) return;
            setPhysIndefinite(c, phys(c, i));
            f.tagValid |= 1 << phys(c, i);
          } else {
            loadPhys(c, 0, A);
            const p = 3 * phys(c, i);
            f.st[p] = A.lo; f.st[p + 1] = A.hi; f.st[p + 2] = A.se;
            f.tagValid |= 1 << phys(c, i);
          }
          if (reg === 3) pop(c);
          return;
        case 4: fucom(c, i, 0, false); return;
        case 5: fucom(c, i, 1, false); return;
        default: c.fault(Vec.UD); return;
      }
    default: // 0xdf
      if (reg === 0) { f.tagValid &= ~(1 << phys(c, i)); pop(c); return; } // FFREEP
      if (reg === 1) { fxch(c, i); return; }
      if (reg === 2 || reg === 3) { dstp(c, i); return; }
      if (reg === 5 || reg === 6) { fcomi(c, i, reg === 5, true); return; }
      c.fault(Vec.UD);
  }
}

function dstp(c: Cpu, i: number): void {
  // DF D0-DF: FSTP ST(i) aliases.
  loadPhys(c, 0, A);
  const p = 3 * phys(c, i);
  c.fpu.st[p] = A.lo; c.fpu.st[p + 1] = A.hi; c.fpu.st[p + 2] = A.se;
  c.fpu.tagValid |= 1 << phys(c, i);
  pop(c);
}

function fucom(c: Cpu, i: number, pops: number, ordered: boolean): void {
  if (isEmpty(c, 0) || isEmpty(c, i)) {
    if (!underflow(c)) return;
    setCc(c, 3);
  } else {
    loadPhys(c, 0, A);
    loadPhys(c, i, B);
    setCc(c, compare(c, ordered));
  }
  for (let k = 0; k < pops; k++) pop(c);
}

/** FCOMI/FUCOMI (and the P forms): compare ST0 with ST(i) into ZF/PF/CF. */
function fcomi(c: Cpu, i: number, unordered: boolean, popIt: boolean): void {
  if (isEmpty(c, 0) || isEmpty(c, i)) {
    if (!underflow(c)) return;
    setEflags(c, 3);
  } else {
    loadPhys(c, 0, A);
    loadPhys(c, i, B);
    setEflags(c, compare(c, !unordered));
  }
  if (popIt) pop(c);
}

/** FCMOVcc: B, E, BE, U (and the N forms with `negate`). */
function fcmov(c: Cpu, i: number, cc: number, negate: boolean): void {
  if (isEmpty(c, 0) || isEmpty(c, i)) {
    if (!underflow(c)) return;
  }
  let t: boolean;
  switch (cc) {
    case 0: t = c.getCF() !== 0; break;
    case 1: t = c.getZF(); break;
    case 2: t = c.getCF() !== 0 || c.getZF(); break;
    default: t = c.getPF();
  }
  if (t !== negate) {
    loadPhys(c, i, A);
    const p = 3 * phys(c, 0);
    c.fpu.st[p] = A.lo; c.fpu.st[p + 1] = A.hi; c.fpu.st[p + 2] = A.se;
    c.fpu.tagValid |= 1 << phys(c, 0);
  }
}

function fxch(c: Cpu, i: number): void {
  const f = c.fpu;
  if (isEmpty(c, 0) || isEmpty(c, i)) {
    if (!underflow(c)) return;
    // Masked: empty registers are first set to the indefinite.
    for (const k of [0, i]) if (isEmpty(c, k)) { setPhysIndefinite(c, phys(c, k)); f.tagValid |= 1 << phys(c, k); }
  }
  const p = 3 * phys(c, 0);
  const q = 3 * phys(c, i);
  for (let k = 0; k < 3; k++) {
    const t = f.st[p + k];
    f.st[p + k] = f.st[q + k];
    f.st[q + k] = t;
  }
  f.fsw &= ~Fsw.C1;
}

/** Constants of D9 E8-EE, exactly as 80-bit values (SDM vol. 1, 8.3.7 and table 8-4 rounding). */
const CONSTS: Array<[number, number, number]> = [
  [0, 0x80000000 | 0, 0x3fff], // 1
  [0xcd1b8afe | 0, 0xd49a784b | 0, 0x4000], // log2(10)
  [0x5c17f0bc, 0xb8aa3b29 | 0, 0x3fff], // log2(e)
  [0x2168c235, 0xc90fdaa2 | 0, 0x4000], // pi
  [0xfbcff799 | 0, 0x9a209a84 | 0, 0x3ffd], // log10(2)
  [0xd1cf79ac | 0, 0xb17217f7 | 0, 0x3ffe], // ln(2)
  [0, 0, 0], // +0
];

function d9Reg(c: Cpu, reg: number, i: number, modrm: number): void {
  const f = c.fpu;
  if (reg === 0) { // FLD ST(i)
    if (isEmpty(c, i)) {
      if (!underflow(c)) return;
      f80.lo = 0; f80.hi = 0xc0000000 | 0; f80.se = 0xffff;
    } else {
      loadPhys(c, i, A);
      f80.lo = A.lo; f80.hi = A.hi; f80.se = A.se;
    }
    pushF80(c);
    return;
  }
  if (reg === 1) { fxch(c, i); return; }
  if (modrm === 0xd0) return; // FNOP
  if (reg === 2 || reg === 3 || modrm === 0xe2 || modrm === 0xe3 || modrm === 0xe6 || modrm === 0xe7 || modrm === 0xef) c.fault(Vec.UD);
  if (modrm >= 0xe8 && modrm <= 0xee) {
    const k = CONSTS[modrm - 0xe8];
    f80.lo = k[0]; f80.hi = k[1]; f80.se = k[2];
    pushF80(c);
    return;
  }
  if (modrm === 0xf6) { f.top = (f.top - 1) & 7; f.fsw &= ~Fsw.C1; return; } // FDECSTP
  if (modrm === 0xf7) { f.top = (f.top + 1) & 7; f.fsw &= ~Fsw.C1; return; } // FINCSTP
  if (modrm === 0xe5) { fxam(c); return; }
  if (isEmpty(c, 0) || ((modrm === 0xf8 || modrm === 0xf5 || modrm === 0xfd) && isEmpty(c, 1))) {
    if (!underflow(c)) return;
    if (modrm === 0xe4) setCc(c, 3);
    else setPhysIndefinite(c, phys(c, 0));
    return;
  }
  loadPhys(c, 0, A);
  const st = f.st;
  const p0 = 3 * phys(c, 0);
  switch (modrm) {
    case 0xe0: st[p0 + 2] ^= 0x8000; f.fsw &= ~Fsw.C1; return; // FCHS
    case 0xe1: st[p0 + 2] &= 0x7fff; f.fsw &= ~Fsw.C1; return; // FABS
    case 0xe4: fromDouble(0, B); setCc(c, compare(c, true)); return; // FTST
    case 0xfa: { // FSQRT
      if (isNan80(A)) { fromDouble(0, B); if (nanResult(c) && f80.se !== -1) stSetF80(c, 0); return; }
      const a = toD(A);
      if (a < 0) { if (!signal(c, Fsw.IE)) setPhysIndefinite(c, phys(c, 0)); return; }
      let r = Math.sqrt(a);
      const dir = a > 0 && Number.isFinite(a) ? sqrtDir(a, r) : 0;
      if (dir !== 0) {
        f.fsw |= Fsw.PE;
        r = directed(r, dir, (f.fcw >> 10) & 3, false);
      }
      stSet(c, 0, r);
      return;
    }
    case 0xfc: { // FRNDINT
      if (isNan80(A)) { fromDouble(0, B); if (nanResult(c) && f80.se !== -1) stSetF80(c, 0); return; }
      const a = toD(A);
      const r = roundRc(a, (f.fcw >> 10) & 3);
      if (r !== a) signal(c, Fsw.PE);
      stSet(c, 0, r === 0 && a < 0 ? -0 : r);
      return;
    }
    case 0xfd: { // FSCALE: ST0 * 2^trunc(ST1)
      loadPhys(c, 1, B);
      if (nanResult(c)) { if (f80.se !== -1) stSetF80(c, 0); return; }
      const s = Math.trunc(toD(B));
      const a = toD(A);
      if ((a === 0 && s === Infinity) || (!Number.isFinite(a) && s === -Infinity)) {
        if (!signal(c, Fsw.IE)) setPhysIndefinite(c, phys(c, 0));
        return;
      }
      stSet(c, 0, scale(a, s));
      return;
    }
    case 0xf8: case 0xf5: { // FPREM, FPREM1
      loadPhys(c, 1, B);
      if (nanResult(c)) { if (f80.se !== -1) stSetF80(c, 0); return; }
      const a = toD(A);
      const b = toD(B);
      if (!Number.isFinite(a) || b === 0) {
        if (!signal(c, Fsw.IE)) setPhysIndefinite(c, phys(c, 0));
        return;
      }
      let r = a % b; // exact (IEEE fmod), the sign of a
      let qa = Number.isFinite(b) ? Math.abs(Math.trunc((a - r) / b)) % 8 : 0;
      if (modrm === 0xf5 && Number.isFinite(b)) {
        // FPREM1: the quotient rounded to nearest (ties to even); the subtraction is exact (Sterbenz).
        const ab = Math.abs(b);
        const ar = Math.abs(r);
        if (ar > ab / 2 || (ar === ab / 2 && (qa & 1) === 1)) {
          r = r < 0 ? r + ab : r - ab;
          qa = (qa + 1) % 8;
        }
      }
      f.fsw &= ~(Fsw.C0 | Fsw.C1 | Fsw.C2 | Fsw.C3);
      if (qa & 1) f.fsw |= Fsw.C1;
      if (qa & 2) f.fsw |= Fsw.C3;
      if (qa & 4) f.fsw |= Fsw.C0;
      stSet(c, 0, r === 0 && a < 0 ? -0 : r);
      return;
    }
    case 0xf4: { // FXTRACT: ST0 <- exponent, push significand
      if (isNan80(A)) { fromDouble(0, B); if (nanResult(c) && f80.se !== -1) { stSetF80(c, 0); pushF80(c); } return; }
      const a = toD(A);
      if (a === 0) {
        if (signal(c, Fsw.ZE)) return;
        stSet(c, 0, -Infinity);
        push(c, a);
        return;
      }
      if (!Number.isFinite(a)) { stSet(c, 0, Math.abs(a)); push(c, a); return; } // infinity (NaN is handled above)
      let e = 0;
      let m = Math.abs(a);
      while (m >= 2) { m /= 2; e++; }
      while (m < 1) { m *= 2; e--; }
      stSet(c, 0, e);
      push(c, a < 0 ? -m : m);
      return;
    }
    default:
      // F2XM1, FYL2X, FPTAN, FPATAN, FYL2XP1, FSINCOS, FSIN, FCOS: see the file comment.
      if (!signal(c, Fsw.IE)) setPhysIndefinite(c, phys(c, 0));
  }
}

function fxam(c: Cpu): void {
  const f = c.fpu;
  f.fsw &= ~(Fsw.C0 | Fsw.C1 | Fsw.C2 | Fsw.C3);
  loadPhys(c, 0, A);
  if ((A.se & 0x8000) !== 0) f.fsw |= Fsw.C1;
  if (isEmpty(c, 0)) { f.fsw |= Fsw.C3 | Fsw.C0; return; }
  const e = A.se & 0x7fff;
  const frac = (A.hi & 0x7fffffff) !== 0 || A.lo !== 0;
  if (e === 0x7fff) {
    if (A.hi >= 0) return; // unsupported
    f.fsw |= frac ? Fsw.C0 : Fsw.C2 | Fsw.C0; // NaN / infinity
  } else if (e === 0) {
    f.fsw |= A.hi === 0 && A.lo === 0 ? Fsw.C3 : Fsw.C3 | Fsw.C2; // zero / denormal
  } else if (A.hi < 0) f.fsw |= Fsw.C2; // normal
}

/** a * 2^s by exact power-of-two steps (no Math.pow). */
function scale(a: number, s: number): number {
  let r = a;
  let k = s;
  while (k > 0 && Number.isFinite(r) && r !== 0) { const step = k > 512 ? 512 : k; r *= pow2(step); k -= step; }
  while (k < 0 && r !== 0 && Number.isFinite(r)) { const step = k < -512 ? -512 : k; r *= pow2(step); k -= step; }
  return r;
}

/** 2^k for -1022 <= k <= 1023, built from its bits. */
function pow2(k: number): number {
  fbufI[0] = 0;
  fbufI[1] = (k + 1023) << 20;
  return fbuf[0];
}

function roundRc(v: number, rc: number): number {
  switch (rc) {
    case 1: return Math.floor(v);
    case 2: return Math.ceil(v);
    case 3: return Math.trunc(v);
    default: {
      const fl = Math.floor(v);
      const diff = v - fl;
      if (diff > 0.5) return fl + 1;
      if (diff < 0.5) return fl;
      return fl % 2 === 0 ? fl : fl + 1;
    }
  }
}

// ---------------------------------------------------------------------------------------
// Memory forms
// ---------------------------------------------------------------------------------------

/** Read the memory operand as an f80 into B: m32fp (0), m32int (1), m64fp (2), m16int (3), m64int, m80. */
function loadMem(c: Cpu, d: number, kind: number): void {
  switch (kind) {
    case 0: { // m32fp
      memAddr(c, d, 4, false, false);
      const b = c.rd32(memLo, memHi);
      fbufI[0] = b;
      if ((b & 0x7f800000) === 0x7f800000 && (b & 0x7fffff) !== 0) {
        // NaN: widen the payload (quiet bit included) without a host conversion.
        B.se = ((b >>> 31) << 15) | 0x7fff;
        B.hi = (0x80000000 | ((b & 0x7fffff) << 8)) | 0;
        B.lo = 0;
        return;
      }
      fromDouble(fbufF[0], B);
      return;
    }
    case 2: { // m64fp
      memAddr(c, d, 8, false, false);
      const lo = c.rd64(memLo, memHi);
      const hi = c.rHi;
      fbufI[0] = lo;
      fbufI[1] = hi;
      if ((hi & 0x7ff00000) === 0x7ff00000 && ((hi & 0xfffff) !== 0 || lo !== 0)) {
        B.se = ((hi >>> 31) << 15) | 0x7fff;
        B.hi = (0x80000000 | ((hi & 0xfffff) << 11) | (lo >>> 21)) | 0;
        B.lo = lo << 11;
        return;
      }
      fromDouble(fbuf[0], B);
      return;
    }
    case 1: memAddr(c, d, 4, false, false); fromDouble(c.rd32(memLo, memHi), B); return;
    default: memAddr(c, d, 2, false, false); fromDouble((c.rd16(memLo, memHi) << 16) >> 16, B);
  }
}

/** Integer (lo, hi) -> exact f80 in f80 scratch. */
function intToF80(lo: number, hi: number): void {
  const neg = hi < 0;
  if (neg) {
    lo = (~lo + 1) | 0;
    hi = (~hi + (lo === 0 ? 1 : 0)) | 0;
  }
  let mh = hi >>> 0;
  let ml = lo >>> 0;
  if (mh === 0 && ml === 0) {
    f80.lo = f80.hi = 0;
    f80.se = 0;
    return;
  }
  let e = 16383 + 63;
  while ((mh & 0x80000000) === 0) {
    mh = ((mh << 1) | (ml >>> 31)) >>> 0;
    ml = (ml << 1) >>> 0;
    e--;
  }
  f80.lo = ml | 0;
  f80.hi = mh | 0;
  f80.se = (neg ? 0x8000 : 0) | e;
}

/** ST0 (in A) to a signed integer of `bits` (16/32/64), rounded by FCW.RC or truncated; lo/hi out. */
let intHi = 0;
let intUnmasked = false;
function f80ToInt(c: Cpu, bits: number, trunc: boolean): number {
  const e = A.se & 0x7fff;
  const neg = (A.se & 0x8000) !== 0;
  const rc = trunc ? 3 : (c.fpu.fcw >> 10) & 3;
  let invalid = e === 0x7fff || (e !== 0 && A.hi >= 0);
  let mh = A.hi >>> 0;
  let ml = A.lo >>> 0;
  // Integer part and the dropped fraction (round, sticky) of the mantissa shifted by 63 - (e - 16383).
  const sh = 16383 + 63 - e;
  let round = false;
  let sticky = false;
  if (!invalid) {
    if (sh < 0) invalid = true; // |value| >= 2^64
    else if (sh === 0) { /* [2^63, 2^64): only -2^63 fits, checked below */ }
    else if (sh >= 65) { sticky = mh !== 0 || ml !== 0; mh = 0; ml = 0; }
    else {
      for (let k = 0; k < sh; k++) {
        sticky = sticky || round;
        round = (ml & 1) !== 0;
        ml = ((ml >>> 1) | ((mh & 1) << 31)) >>> 0;
        mh >>>= 1;
      }
    }
  }
  if (!invalid) {
    let up: boolean;
    switch (rc) {
      case 0: up = round && (sticky || (ml & 1) !== 0); break;
      case 1: up = neg && (round || sticky); break;
      case 2: up = !neg && (round || sticky); break;
      default: up = false;
    }
    if (up) {
      ml = (ml + 1) >>> 0;
      if (ml === 0) mh = (mh + 1) >>> 0;
    }
    // Range check: magnitude must fit, with -2^(bits-1) allowed.
    if (bits === 64) {
      if (mh > 0x80000000 || (mh === 0x80000000 && (ml !== 0 || !neg))) invalid = true;
    } else {
      const max = bits === 32 ? 2147483648 : 32768;
      if (mh !== 0 || ml > (neg ? max : max - 1)) invalid = true;
    }
    if (!invalid && (round || sticky)) signal(c, Fsw.PE);
  }
  intUnmasked = false;
  if (invalid) {
    if (signal(c, Fsw.IE)) { intUnmasked = true; return 0; }
    intHi = bits === 64 ? 0x80000000 | 0 : 0;
    return bits === 64 ? 0 : bits === 32 ? 0x80000000 | 0 : 0x8000;
  }
  let lo = ml | 0;
  let hi = mh | 0;
  if (neg) {
    lo = (~lo + 1) | 0;
    hi = (~hi + (lo === 0 ? 1 : 0)) | 0;
  }
  intHi = hi;
  return lo;
}

function memForm(c: Cpu, d: number, kind: number): void {
  const f = c.fpu;
  const op = kind >> 3;
  const reg = kind & 7;
  // D8/DA/DC/DE /0-/7: arithmetic and compares with m32fp, m32int, m64fp, m16int.
  if (op === 0 || op === 2 || op === 4 || op === 6) {
    loadMem(c, d, op === 0 ? 0 : op === 2 ? 1 : op === 4 ? 2 : 3);
    if (isEmpty(c, 0)) {
      if (!underflow(c)) return;
      if (reg === 2 || reg === 3) setCc(c, 3);
      else setPhysIndefinite(c, phys(c, 0));
      if (reg === 3) pop(c);
      return;
    }
    loadPhys(c, 0, A);
    if (reg === 2 || reg === 3) {
      setCc(c, compare(c, true));
      if (reg === 3) pop(c);
      return;
    }
    if (arith(c, reg)) stSetF80(c, 0);
    return;
  }
  switch (kind) {
    case 0x08: loadMem(c, d, 0); if (isSnan80(B) && signal(c, Fsw.IE)) return; B.hi |= isNan80(B) ? 0x40000000 : 0; pushRaw(c); return; // FLD m32
    case 0x20 + 0x08: loadMem(c, d, 2); if (isSnan80(B) && signal(c, Fsw.IE)) return; B.hi |= isNan80(B) ? 0x40000000 : 0; pushRaw(c); return; // FLD m64
    case 0x18: loadMem(c, d, 1); pushRaw(c); return; // FILD m32
    case 0x38: loadMem(c, d, 3); pushRaw(c); return; // FILD m16
    case 0x3d: { // FILD m64
      memAddr(c, d, 8, false, false);
      const lo = c.rd64(memLo, memHi);
      intToF80(lo, c.rHi);
      pushF80(c);
      return;
    }
    case 0x1d: { // FLD m80
      memAddr(c, d, 10, false, false);
      f80.lo = c.rd32(memLo, memHi);
      f80.hi = c.rd32(addr(4), addrHi);
      f80.se = c.rd16(addr(8), addrHi);
      pushF80(c);
      return;
    }
    case 0x0a: case 0x0b: storeFp(c, d, 32, reg === 3); return; // FST/FSTP m32
    case 0x2a: case 0x2b: storeFp(c, d, 64, reg === 3); return; // FST/FSTP m64
    case 0x1f: storeFp(c, d, 80, true); return; // FSTP m80
    case 0x1a: case 0x1b: storeInt(c, d, 32, reg === 3, false); return; // FIST/FISTP m32
    case 0x3a: case 0x3b: storeInt(c, d, 16, reg === 3, false); return; // FIST/FISTP m16
    case 0x3f: storeInt(c, d, 64, true, false); return; // FISTP m64
    case 0x19: storeInt(c, d, 32, true, true); return; // FISTTP m32
    case 0x29: storeInt(c, d, 64, true, true); return; // FISTTP m64
    case 0x39: storeInt(c, d, 16, true, true); return; // FISTTP m16
    case 0x3c: fbld(c, d); return;
    case 0x3e: fbstp(c, d); return;
    default: c.fault(Vec.UD);
  }
}

function pushRaw(c: Cpu): void {
  f80.lo = B.lo;
  f80.hi = B.hi;
  f80.se = B.se;
  pushF80(c);
}

function addr(off: number): number {
  const t = (memLo >>> 0) + off;
  addrHi = t > 0xffffffff ? (memHi + 1) | 0 : memHi;
  return t | 0;
}
let addrHi = 0;

function storeFp(c: Cpu, d: number, bits: number, popIt: boolean): void {
  const f = c.fpu;
  memAddr(c, d, bits === 80 ? 10 : bits / 8, true, false);
  if (isEmpty(c, 0)) {
    if (!underflow(c)) return;
    A.lo = 0; A.hi = 0xc0000000 | 0; A.se = 0xffff;
  } else loadPhys(c, 0, A);
  if (bits === 80) {
    // Write the last byte's page check first by writing high part last only after the first succeeds.
    c.translate(addr(9), addrHi, 1, c.cpl === 3);
    c.wr32(memLo, memHi, A.lo);
    c.wr32(addr(4), addrHi, A.hi);
    c.wr16(addr(8), addrHi, A.se);
  } else if (isNan80(A)) {
    if (isSnan80(A) && signal(c, Fsw.IE)) return;
    const s = (A.se & 0x8000) !== 0 ? 0x80000000 | 0 : 0;
    if (bits === 32) c.wr32(memLo, memHi, s | 0x7fc00000 | ((A.hi & 0x3fffffff) >>> 8));
    else c.wr64(memLo, memHi, (A.lo >>> 11) | (A.hi << 21), s | 0x7ff80000 | ((A.hi & 0x3fffffff) >>> 11));
  } else {
    const v = toD(A);
    if (bits === 32) {
      const r = Math.fround(v);
      if (r !== v) {
        const over = !Number.isFinite(r) && Number.isFinite(v);
        if (signal(c, over ? Fsw.OE | Fsw.PE : Fsw.PE) && over) return;
      }
      fbufF[0] = r;
      c.wr32(memLo, memHi, fbufI[0]);
    } else {
      fbuf[0] = f80ToDouble(A.lo, A.hi, A.se, (f.fcw >> 10) & 3);
      c.wr64(memLo, memHi, fbufI[0], fbufI[1]);
    }
  }
  if (popIt) pop(c);
  void f;
}

function storeInt(c: Cpu, d: number, bits: number, popIt: boolean, trunc: boolean): void {
  memAddr(c, d, bits / 8, true, false);
  let lo: number;
  if (isEmpty(c, 0)) {
    if (!underflow(c)) return;
    lo = bits === 64 ? 0 : bits === 32 ? 0x80000000 | 0 : 0x8000;
    intHi = bits === 64 ? 0x80000000 | 0 : 0;
  } else {
    loadPhys(c, 0, A);
    lo = f80ToInt(c, bits, trunc);
    if (intUnmasked) return; // unmasked invalid: no store
  }
  if (bits === 16) c.wr16(memLo, memHi, lo);
  else if (bits === 32) c.wr32(memLo, memHi, lo);
  else c.wr64(memLo, memHi, lo, intHi);
  if (popIt) pop(c);
}

/** FBLD m80bcd: 18 packed BCD digits and a sign byte (SDM vol. 1, 4.7). */
function fbld(c: Cpu, d: number): void {
  memAddr(c, d, 10, false, false);
  const neg = (c.rd8(addr(9), addrHi) & 0x80) !== 0;
  // Values up to 10^18 - 1 exceed 2^53: build the integer exactly in two 32-bit limbs.
  let lo = 0;
  let hi = 0;
  // Exact decimal -> binary via 32-bit limbs.
  const digits: number[] = [];
  for (let k = 8; k >= 0; k--) {
    const b = c.rd8(addr(k), addrHi);
    digits.push((b >> 4) & 15, b & 15);
  }
  for (const dg of digits) {
    // (hi:lo) = (hi:lo) * 10 + dg
    const l = (lo >>> 0) * 10 + dg;
    const carry = Math.floor(l / TWO32);
    lo = l % TWO32 | 0;
    hi = ((hi >>> 0) * 10 + carry) % TWO32 | 0;
  }
  if (neg) {
    lo = (~lo + 1) | 0;
    hi = (~hi + (lo === 0 ? 1 : 0)) | 0;
  }
  intToF80(lo, hi);
  if (neg && f80.hi === 0 && f80.lo === 0) f80.se = 0x8000;
  pushF80(c);
}

/** FBSTP m80bcd: ST0 rounded by FCW.RC to 18 BCD digits, then pop. */
function fbstp(c: Cpu, d: number): void {
  memAddr(c, d, 10, true, false);
  if (isEmpty(c, 0)) {
    if (!underflow(c)) return;
    A.lo = 0; A.hi = 0xc0000000 | 0; A.se = 0xffff;
  } else loadPhys(c, 0, A);
  let lo = f80ToInt(c, 64, false);
  let hi = intHi;
  const neg = hi < 0;
  if (neg) {
    lo = (~lo + 1) | 0;
    hi = (~hi + (lo === 0 ? 1 : 0)) | 0;
  }
  const ul = lo >>> 0;
  const uh = hi >>> 0;
  // |value| must be below 10^18 (0x0DE0B6B3A7640000); else the packed BCD indefinite.
  const tooBig = uh > 0x0de0b6b3 || (uh === 0x0de0b6b3 && ul >= 0xa7640000) || (A.se & 0x7fff) === 0x7fff;
  c.translate(addr(9), addrHi, 1, c.cpl === 3);
  if (tooBig) {
    if (signal(c, Fsw.IE)) return;
    for (let k = 0; k < 7; k++) c.wr8(addr(k), addrHi, 0);
    c.wr8(addr(7), addrHi, 0xc0);
    c.wr8(addr(8), addrHi, 0xff);
    c.wr8(addr(9), addrHi, 0xff);
    pop(c);
    return;
  }
  // Decimal digits by long division of (uh:ul) by 10.
  let h = uh;
  let l = ul;
  for (let k = 0; k < 9; k++) {
    let byte = 0;
    for (let n = 0; n < 2; n++) {
      const rh = h % 10;
      h = Math.floor(h / 10);
      const cur = rh * TWO32 + l;
      const q = Math.floor(cur / 10);
      const digit = cur - q * 10;
      l = q;
      byte |= digit << (4 * n);
    }
    c.wr8(addr(k), addrHi, byte);
  }
  c.wr8(addr(9), addrHi, neg || (A.se & 0x8000) !== 0 ? 0x80 : 0);
  pop(c);
}

// ---------------------------------------------------------------------------------------
// FNSTENV/FLDENV/FNSAVE/FRSTOR (SDM vol. 1, 8.1.10, figures 8-9 to 8-12; protected-mode layouts)
// ---------------------------------------------------------------------------------------

function envStore(c: Cpu, d: number, info: number, withRegs: boolean): void {
  const f = c.fpu;
  const o32 = (info & Info.OSIZE_MASK) >= 2;
  const envSize = o32 ? 28 : 14;
  memAddr(c, d, envSize + (withRegs ? 80 : 0), true, false);
  c.translate(addr(envSize + (withRegs ? 79 : -1)), addrHi, 1, c.cpl === 3);
  const words = [f.fcw, f.statusWord(), f.tagWord()];
  if (o32) {
    // Reserved upper halves read back as ones on Intel processors.
    for (let k = 0; k < 3; k++) c.wr32(addr(4 * k), addrHi, words[k] | 0xffff0000);
    c.wr32(addr(12), addrHi, f.fipLo);
    c.wr32(addr(16), addrHi, (f.fcs & 0xffff) | ((f.fop & 0x7ff) << 16));
    c.wr32(addr(20), addrHi, f.fdpLo);
    c.wr32(addr(24), addrHi, (f.fds & 0xffff) | 0xffff0000);
  } else {
    for (let k = 0; k < 3; k++) c.wr16(addr(2 * k), addrHi, words[k]);
    c.wr16(addr(6), addrHi, f.fipLo);
    c.wr16(addr(8), addrHi, f.fcs);
    c.wr16(addr(10), addrHi, f.fdpLo);
    c.wr16(addr(12), addrHi, f.fds);
  }
  if (withRegs) {
    for (let i = 0; i < 8; i++) {
      const p = 3 * phys(c, i);
      const a = envSize + 10 * i;
      c.wr32(addr(a), addrHi, f.st[p]);
      c.wr32(addr(a + 4), addrHi, f.st[p + 1]);
      c.wr16(addr(a + 8), addrHi, f.st[p + 2]);
    }
  }
}

function envLoad(c: Cpu, d: number, info: number, withRegs: boolean): void {
  const f = c.fpu;
  const o32 = (info & Info.OSIZE_MASK) >= 2;
  const envSize = o32 ? 28 : 14;
  memAddr(c, d, envSize + (withRegs ? 80 : 0), false, false);
  const step = o32 ? 4 : 2;
  const fcw = c.rd16(addr(0), addrHi);
  const fsw = c.rd16(addr(step), addrHi);
  const ftw = c.rd16(addr(2 * step), addrHi);
  if (o32) {
    f.fipLo = c.rd32(addr(12), addrHi);
    const w = c.rd32(addr(16), addrHi);
    f.fcs = w & 0xffff;
    f.fop = (w >>> 16) & 0x7ff;
    f.fdpLo = c.rd32(addr(20), addrHi);
    f.fds = c.rd16(addr(24), addrHi);
  } else {
    f.fipLo = c.rd16(addr(6), addrHi);
    f.fcs = c.rd16(addr(8), addrHi);
    f.fdpLo = c.rd16(addr(10), addrHi);
    f.fds = c.rd16(addr(12), addrHi);
  }
  f.fipHi = f.fdpHi = 0;
  f.fcw = fcw;
  f.setStatusWord(fsw);
  let valid = 0;
  for (let i = 0; i < 8; i++) if (((ftw >> (2 * i)) & 3) !== 3) valid |= 1 << i;
  f.tagValid = valid;
  if (withRegs) {
    for (let i = 0; i < 8; i++) {
      const p = 3 * phys(c, i);
      const a = envSize + 10 * i;
      f.st[p] = c.rd32(addr(a), addrHi);
      f.st[p + 1] = c.rd32(addr(a + 4), addrHi);
      f.st[p + 2] = c.rd16(addr(a + 8), addrHi);
    }
  }
  unmaskedCheck(c);
}

// Control transfer: JMP/Jcc/CALL/RET (near and far), LOOP/JCXZ, INT n/INT3/INTO/INT1,
// IRET, HLT (SDM vol. 2 pages of the same names).

import type { Cpu } from './cpu.js';
import { Info } from './decoded.js';
import { Flag, Seg, Vec } from './constants.js';
import { readRm, osizeOf, readFarPointer, farPtr } from './operands.js';
import { farJump, farCall, farReturn, iret, deliverEvent, EventKind } from './system.js';

// The target computed by relTarget/absTarget (module scratch: no allocation per branch).
let tLo = 0;
let tHi = 0;

/** tLo/tHi <- next-RIP + rel (rel already sign-extended), truncated to the operand size. */
function relTarget(c: Cpu, size: number, rel: number): void {
  if (size === 3) {
    const t = (c.ripLo >>> 0) + rel;
    tLo = t | 0;
    tHi = (c.ripHi + (t > 0xffffffff ? 1 : t < 0 ? -1 : 0)) | 0;
  } else {
    tLo = size === 2 ? (c.ripLo + rel) | 0 : (c.ripLo + rel) & 0xffff;
    tHi = 0;
  }
}

/** tLo/tHi <- an absolute target of the operand size. */
function absTarget(size: number, lo: number, hi: number): void {
  tLo = size === 3 || size === 2 ? lo : lo & 0xffff;
  tHi = size === 3 ? hi : 0;
}

/**
 * Check a near branch target before anything changes: in 64-bit mode it must be canonical,
 * elsewhere within the CS limit. Otherwise the branch itself faults with #GP(0), RIP at the
 * branch and the stack and counter untouched (SDM vol. 2 JMP, Jcc, CALL, RET, LOOP/LOOPcc,
 * JrCXZ: "#GP(0) If the target offset is beyond the code segment limit" and, in 64-bit mode,
 * "If the target operand is non-canonical"; kvm-unit-tests x86/emulator64.c jmp to
 * 0xaaaaaaaaaaaaaaaa expects the #GP on the JMP).
 */
function checkTarget(c: Cpu, size: number): void {
  if (c.codeSize === 3) {
    if (size === 3) {
      const top = tHi >> 15;
      if (top !== 0 && top !== -1) c.fault(Vec.GP, 0);
    }
  } else if (tLo >>> 0 > c.segLimit[Seg.CS] >>> 0) c.fault(Vec.GP, 0);
}

/** Set RIP to next-RIP + rel (rel already sign-extended), truncated to the operand size. */
export function jumpRel(c: Cpu, d: number, rel: number): void {
  const size = osizeOf(c, d);
  relTarget(c, size, rel);
  checkTarget(c, size);
  c.ripLo = tLo;
  c.ripHi = tHi;
}

export function jcc(c: Cpu, d: number, cc: number): void {
  if (c.cond(cc)) jumpRel(c, d, c.store.imm[d]);
}

export function callRel(c: Cpu, d: number): void {
  const size = osizeOf(c, d);
  relTarget(c, size, c.store.imm[d]);
  checkTarget(c, size);
  const lo = tLo;
  const hi = tHi;
  c.push(size, c.ripLo, c.ripHi);
  c.ripLo = lo;
  c.ripHi = hi;
}

/** FF /2: CALL r/m. */
export function callIndirect(c: Cpu, d: number): void {
  const size = osizeOf(c, d);
  absTarget(size, readRm(c, d, size), c.rHi);
  checkTarget(c, size);
  const lo = tLo;
  const hi = tHi;
  c.push(size, c.ripLo, c.ripHi);
  c.ripLo = lo;
  c.ripHi = hi;
}

/** FF /4: JMP r/m. */
export function jmpIndirect(c: Cpu, d: number): void {
  const size = osizeOf(c, d);
  absTarget(size, readRm(c, d, size), c.rHi);
  checkTarget(c, size);
  c.ripLo = tLo;
  c.ripHi = tHi;
}

/** C3 / C2 imm16: near RET (the return address is checked before RSP moves). */
export function retNear(c: Cpu, d: number, release: number): void {
  const size = osizeOf(c, d);
  absTarget(size, c.peek(size, 0), c.rHi);
  checkTarget(c, size);
  c.adjustSp(size === 1 ? 2 : size === 2 ? 4 : 8);
  if (release !== 0) c.adjustSp(release);
  c.ripLo = tLo;
  c.ripHi = tHi;
}

/** FF /3 and /5: far CALL/JMP through a memory pointer m16:16/32/64. */
export function farIndirect(c: Cpu, d: number, call: boolean): void {
  readFarPointer(c, d);
  const { sel, off, offHi } = farPtr;
  if (call) farCall(c, sel, off, offHi, osizeOf(c, d));
  else farJump(c, sel, off, offHi);
}

/** 9A / EA: far CALL/JMP ptr16:16/32 (not in 64-bit mode). */
export function farDirect(c: Cpu, d: number, call: boolean): void {
  const size = osizeOf(c, d);
  const off = size === 1 ? c.store.imm[d] & 0xffff : c.store.imm[d];
  const sel = c.store.imm2[d] & 0xffff;
  if (call) farCall(c, sel, off, 0, size);
  else farJump(c, sel, off, 0);
}

export function retFar(c: Cpu, d: number, release: number): void {
  farReturn(c, osizeOf(c, d), release);
}

/** LOOP/LOOPE/LOOPNE/JCXZ: the counter has the address size. */
export function loop(c: Cpu, d: number, kind: number): void {
  const asize = (c.store.info[d] >> Info.ASIZE_SHIFT) & 3;
  if (kind === 3) {
    // JrCXZ
    const zero = asize === 3 ? (c.lo[1] | c.hi[1]) === 0 : asize === 2 ? c.lo[1] === 0 : (c.lo[1] & 0xffff) === 0;
    if (zero) jumpRel(c, d, c.store.imm[d]);
    return;
  }
  // The decremented count is committed only after the target has passed checkTarget.
  let nLo: number;
  let nHi: number;
  let zero: boolean;
  if (asize === 3) {
    const t = (c.lo[1] >>> 0) - 1;
    nLo = t | 0;
    nHi = t < 0 ? (c.hi[1] - 1) | 0 : c.hi[1];
    zero = (nLo | nHi) === 0;
  } else if (asize === 2) {
    nLo = (c.lo[1] - 1) | 0;
    nHi = 0;
    zero = nLo === 0;
  } else {
    nLo = (c.lo[1] & ~0xffff) | ((c.lo[1] - 1) & 0xffff);
    nHi = c.hi[1];
    zero = (nLo & 0xffff) === 0;
  }
  let take = !zero;
  if (kind === 0) take = take && !c.getZF(); // LOOPNE
  else if (kind === 1) take = take && c.getZF(); // LOOPE
  if (take) {
    const size = osizeOf(c, d);
    relTarget(c, size, c.store.imm[d]);
    checkTarget(c, size);
  }
  c.lo[1] = nLo;
  c.hi[1] = nHi;
  if (take) {
    c.ripLo = tLo;
    c.ripHi = tHi;
  }
}

/** INT n / INT3 / INTO / INT1: software interrupts push the next RIP. */
export function softInt(c: Cpu, vec: number, kind: EventKind): void {
  if ((c.flagsReg & Flag.VM) !== 0 && ((c.flagsReg >> 12) & 3) < 3 && kind === EventKind.SOFTWARE) c.fault(Vec.GP, 0);
  deliverEvent(c, vec, -1, kind);
  c.breakLoop = true;
}

export function into(c: Cpu): void {
  if (c.getOF()) softInt(c, Vec.OF, EventKind.SOFTWARE_EXC);
}

export function iretOp(c: Cpu, d: number): void {
  iret(c, osizeOf(c, d));
  c.breakLoop = true;
}

export function hlt(c: Cpu): void {
  if (c.protectedMode && c.cpl !== 0) c.fault(Vec.GP, 0);
  c.halted = true;
  c.breakLoop = true;
}

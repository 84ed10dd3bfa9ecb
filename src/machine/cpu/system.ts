// System architecture: descriptor tables, segment loads, interrupt/exception delivery in
// real, protected and long mode, IRET, far transfers, SYSCALL/SYSRET, SYSENTER/SYSEXIT,
// LTR/LLDT (SDM vol. 3, chapters 3, 5, 6 and 7).

import type { Cpu } from './cpu.js';
import { CPU_FAULT, CPU_EXIT, MsrSlot } from './cpu.js';
import { Seg, Vec, Flag, DescAttr, Efer, Cr0 } from './constants.js';

export const enum EventKind {
  FAULT = 0, // exception raised by an instruction (RIP = the instruction)
  EXTERNAL = 1, // interrupt from a controller (error code bit EXT)
  NMI = 2,
  SOFTWARE = 3, // INT n (privilege-checked against the gate DPL)
  SOFTWARE_EXC = 4, // INT3, INTO (also privilege-checked; vectors 3 and 4)
  ICEBP = 5, // INT1
}

// ---------------------------------------------------------------------------------------
// Descriptors
// ---------------------------------------------------------------------------------------

/** The last descriptor read: its two (or four, for 16-byte system descriptors) dwords. */
const desc = new Int32Array(4);

/** Read the descriptor for `sel` into `desc`; false if outside the table limit. */
function readDescriptor(c: Cpu, sel: number, wide: boolean): boolean {
  const index = sel & ~7;
  let baseLo: number;
  let baseHi: number;
  let limit: number;
  if ((sel & 4) !== 0) {
    if ((c.ldtAttr & DescAttr.P) === 0 || c.ldtSel === 0) return false;
    baseLo = c.ldtBaseLo;
    baseHi = c.ldtBaseHi;
    limit = c.ldtLimit;
  } else {
    baseLo = c.gdtBaseLo;
    baseHi = c.gdtBaseHi;
    limit = c.gdtLimit;
  }
  const size = wide ? 15 : 7;
  if (index + size > limit >>> 0) return false;
  const t = (baseLo >>> 0) + index;
  const lo = t | 0;
  const hi = c.long ? (baseHi + (t > 0xffffffff ? 1 : 0)) | 0 : 0;
  desc[0] = c.supervisorRead(lo, hi, 4);
  desc[1] = c.supervisorRead((lo + 4) | 0, hi, 4);
  if (wide) {
    desc[2] = c.supervisorRead((lo + 8) | 0, hi, 4);
    desc[3] = c.supervisorRead((lo + 12) | 0, hi, 4);
  }
  return true;
}

function descBase(): number {
  return ((desc[0] >>> 16) | ((desc[1] & 0xff) << 16) | (desc[1] & 0xff000000)) | 0;
}
function descLimit(): number {
  const raw = (desc[0] & 0xffff) | (desc[1] & 0xf0000);
  return (desc[1] & 0x800000) !== 0 ? ((raw << 12) | 0xfff) : raw;
}
/** Access byte and flags nibble in DescAttr layout. */
function descAttr(): number {
  return (desc[1] >> 8) & 0xf0ff;
}

/** Set the accessed bit of the descriptor for `sel` (SDM vol. 3, 3.4.5.1). */
function markAccessed(c: Cpu, sel: number): void {
  if ((desc[1] & 0x100) !== 0) return;
  desc[1] |= 0x100;
  const t = (((sel & 4) !== 0 ? c.ldtBaseLo : c.gdtBaseLo) >>> 0) + (sel & ~7) + 4;
  const hi = c.long ? (((sel & 4) !== 0 ? c.ldtBaseHi : c.gdtBaseHi) + (t > 0xffffffff ? 1 : 0)) | 0 : 0;
  c.supervisorWrite(t | 0, hi, 4, desc[1]);
}

/** Load a segment register in real/VM86 mode: base = selector * 16. */
function loadRealSegment(c: Cpu, seg: number, sel: number): void {
  c.segSel[seg] = sel & 0xffff;
  c.segBase[seg] = (sel & 0xffff) << 4;
  c.segBaseHi[seg] = 0;
  if ((c.flagsReg & Flag.VM) !== 0 || !c.protectedMode) {
    // Real mode keeps the cached limit/attributes (big real mode); VM86 forces them.
    if ((c.flagsReg & Flag.VM) !== 0) {
      c.segLimit[seg] = 0xffff;
      c.segAttr[seg] = DescAttr.P | DescAttr.S | DescAttr.RW | DescAttr.A | (3 << DescAttr.DPL_SHIFT) | (seg === Seg.CS ? DescAttr.EXEC : 0);
    }
  }
}

/**
 * MOV/POP/LxS to a data or stack segment register (SDM vol. 3, 5.4.1 and MOV instruction
 * pseudo-code). CS is loaded only by far transfers.
 */
export function loadSegment(c: Cpu, seg: number, sel: number): void {
  sel &= 0xffff;
  if (!c.protectedMode || (c.flagsReg & Flag.VM) !== 0) {
    loadRealSegment(c, seg, sel);
    if (seg === Seg.SS) c.updateMode();
    return;
  }
  if ((sel & ~3) === 0) {
    // Null selector: fine for DS/ES/FS/GS; for SS only in 64-bit mode below CPL 3.
    if (seg === Seg.SS && !(c.codeSize === 3 && c.cpl !== 3 && (sel & 3) === c.cpl)) c.fault(Vec.GP, 0);
    c.segSel[seg] = sel;
    if (seg !== Seg.FS && seg !== Seg.GS || c.codeSize !== 3) {
      c.segBase[seg] = 0;
      c.segBaseHi[seg] = 0;
    }
    c.segLimit[seg] = 0;
    c.segAttr[seg] = seg === Seg.SS ? (c.cpl << DescAttr.DPL_SHIFT) | DescAttr.DB : 0;
    if (seg === Seg.SS) c.updateMode();
    return;
  }
  if (!readDescriptor(c, sel, false)) c.fault(Vec.GP, sel & ~3);
  const attr = descAttr();
  const dpl = (attr >> DescAttr.DPL_SHIFT) & 3;
  const rpl = sel & 3;
  const isCode = (attr & DescAttr.EXEC) !== 0;
  if ((attr & DescAttr.S) === 0) c.fault(Vec.GP, sel & ~3);
  if (seg === Seg.SS) {
    if (isCode || (attr & DescAttr.RW) === 0 || rpl !== c.cpl || dpl !== c.cpl) c.fault(Vec.GP, sel & ~3);
    if ((attr & DescAttr.P) === 0) c.fault(Vec.SS, sel & ~3);
  } else {
    if (isCode && (attr & DescAttr.RW) === 0) c.fault(Vec.GP, sel & ~3);
    const conforming = isCode && (attr & DescAttr.DC) !== 0;
    if (!conforming && (rpl > dpl || c.cpl > dpl)) c.fault(Vec.GP, sel & ~3);
    if ((attr & DescAttr.P) === 0) c.fault(Vec.NP, sel & ~3);
  }
  markAccessed(c, sel);
  c.segSel[seg] = sel;
  c.segBase[seg] = descBase();
  c.segBaseHi[seg] = 0;
  c.segLimit[seg] = descLimit();
  c.segAttr[seg] = descAttr() | DescAttr.A;
  if (seg === Seg.SS) c.updateMode();
}

/** Load CS for a far transfer to privilege `cpl` from the descriptor already in `desc`. */
function commitCs(c: Cpu, sel: number, cpl: number): void {
  c.segSel[Seg.CS] = (sel & ~3) | cpl;
  c.segBase[Seg.CS] = descBase();
  c.segBaseHi[Seg.CS] = 0;
  c.segLimit[Seg.CS] = descLimit();
  c.segAttr[Seg.CS] = descAttr() | DescAttr.A;
}

/** Set CS directly (loaders, SYSCALL, reset): flat code segment of the given kind. */
export function setFlatCs(c: Cpu, sel: number, mode: 16 | 32 | 64, dpl: number): void {
  c.segSel[Seg.CS] = sel;
  c.segBase[Seg.CS] = 0;
  c.segBaseHi[Seg.CS] = 0;
  c.segLimit[Seg.CS] = -1;
  c.segAttr[Seg.CS] =
    DescAttr.P | DescAttr.S | DescAttr.EXEC | DescAttr.RW | DescAttr.A | (dpl << DescAttr.DPL_SHIFT) | DescAttr.G |
    (mode === 64 ? DescAttr.L : mode === 32 ? DescAttr.DB : 0);
}

export function setFlatData(c: Cpu, seg: number, sel: number, dpl: number, big = true): void {
  c.segSel[seg] = sel;
  c.segBase[seg] = 0;
  c.segBaseHi[seg] = 0;
  c.segLimit[seg] = -1;
  c.segAttr[seg] = DescAttr.P | DescAttr.S | DescAttr.RW | DescAttr.A | (dpl << DescAttr.DPL_SHIFT) | DescAttr.G | (big ? DescAttr.DB : 0);
}

/** Check a code-segment selector for a far JMP/CALL/RET; leaves its descriptor in `desc`. */
function checkCodeSelector(c: Cpu, sel: number, forReturn: boolean): number {
  if ((sel & ~3) === 0) c.fault(Vec.GP, 0);
  if (!readDescriptor(c, sel, false)) c.fault(Vec.GP, sel & ~3);
  const attr = descAttr();
  if ((attr & DescAttr.S) === 0 || (attr & DescAttr.EXEC) === 0) c.fault(Vec.GP, sel & ~3); // no call gates or task switches
  const dpl = (attr >> DescAttr.DPL_SHIFT) & 3;
  const rpl = sel & 3;
  const conforming = (attr & DescAttr.DC) !== 0;
  let newCpl = c.cpl;
  if (forReturn) {
    if (rpl < c.cpl) c.fault(Vec.GP, sel & ~3);
    if (conforming ? dpl > rpl : dpl !== rpl) c.fault(Vec.GP, sel & ~3);
    newCpl = rpl;
  } else if (conforming) {
    if (dpl > c.cpl) c.fault(Vec.GP, sel & ~3);
  } else if (rpl > c.cpl || dpl !== c.cpl) c.fault(Vec.GP, sel & ~3);
  if ((attr & DescAttr.P) === 0) c.fault(Vec.NP, sel & ~3);
  if (c.long && (attr & DescAttr.L) !== 0 && (attr & DescAttr.DB) !== 0) c.fault(Vec.GP, sel & ~3);
  return newCpl;
}

/** Far JMP to sel:offset (offset already sized). */
export function farJump(c: Cpu, sel: number, offLo: number, offHi: number): void {
  if (!c.protectedMode || (c.flagsReg & Flag.VM) !== 0) {
    loadRealSegment(c, Seg.CS, sel);
    c.ripLo = offLo;
    c.ripHi = 0;
    c.updateMode();
    return;
  }
  const cpl = checkCodeSelector(c, sel, false);
  markAccessed(c, sel);
  commitCs(c, sel, cpl);
  c.ripLo = offLo;
  c.ripHi = (c.segAttr[Seg.CS] & DescAttr.L) !== 0 && c.long ? offHi : 0;
  c.updateMode();
}

/** Far CALL: push CS and the return RIP with operand size `osize`, then jump. */
export function farCall(c: Cpu, sel: number, offLo: number, offHi: number, osize: number): void {
  const oldCs = c.segSel[Seg.CS];
  const retLo = c.ripLo;
  const retHi = c.ripHi;
  if (c.protectedMode && (c.flagsReg & Flag.VM) === 0) checkCodeSelector(c, sel, false);
  // Push first (may fault), then transfer.
  const sp = c.lo[4];
  const spHi = c.hi[4];
  try {
    c.push(osize, oldCs, 0);
    c.push(osize, retLo, retHi);
  } catch (e) {
    c.lo[4] = sp;
    c.hi[4] = spHi;
    throw e;
  }
  farJump(c, sel, offLo, offHi);
}

/** Far RET (imm = bytes to release after popping). Same-privilege and outer-privilege returns. */
export function farReturn(c: Cpu, osize: number, imm: number): void {
  const n = osize === 1 ? 2 : osize === 2 ? 4 : 8;
  const ripLo = c.peek(osize, 0);
  const ripHi = osize === 3 ? c.rHi : 0;
  const sel = c.peek(osize, n) & 0xffff;
  if (!c.protectedMode || (c.flagsReg & Flag.VM) !== 0) {
    c.adjustSp(2 * n + imm);
    loadRealSegment(c, Seg.CS, sel);
    c.ripLo = osize === 1 ? ripLo & 0xffff : ripLo;
    c.ripHi = 0;
    c.updateMode();
    return;
  }
  const newCpl = checkCodeSelector(c, sel, true);
  if (newCpl === c.cpl) {
    markAccessed(c, sel);
    c.adjustSp(2 * n + imm);
    commitCs(c, sel, newCpl);
  } else {
    // Return to an outer privilege level: also pop SS:RSP (SDM RET pseudo-code).
    const spLo = c.peek(osize, 2 * n + imm);
    const spHi = osize === 3 ? c.rHi : 0;
    const ss = c.peek(osize, 3 * n + imm) & 0xffff;
    markAccessed(c, sel);
    commitCs(c, sel, newCpl);
    c.updateMode();
    loadSegment(c, Seg.SS, ss);
    c.lo[4] = spLo;
    c.hi[4] = spHi;
    c.adjustSp(imm);
    invalidateDataSegments(c);
  }
  c.ripLo = osize === 1 ? ripLo & 0xffff : ripLo;
  c.ripHi = c.codeSize === 3 || (c.long && (c.segAttr[Seg.CS] & DescAttr.L) !== 0) ? ripHi : 0;
  c.updateMode();
}

/** After a return to an outer level, data segments the new CPL may not use become null. */
function invalidateDataSegments(c: Cpu): void {
  for (const s of [Seg.ES, Seg.DS, Seg.FS, Seg.GS]) {
    const attr = c.segAttr[s];
    const dpl = (attr >> DescAttr.DPL_SHIFT) & 3;
    const conformingCode = (attr & DescAttr.EXEC) !== 0 && (attr & DescAttr.DC) !== 0;
    if ((c.segSel[s] & ~3) !== 0 && !conformingCode && dpl < c.cpl) {
      c.segSel[s] = 0;
      c.segAttr[s] = 0;
    }
  }
}

// ---------------------------------------------------------------------------------------
// LTR / LLDT (SDM vol. 3, 7.2.4 and 3.5.1)
// ---------------------------------------------------------------------------------------

export function loadTaskRegister(c: Cpu, sel: number): void {
  if ((sel & ~3) === 0 || (sel & 4) !== 0) c.fault(Vec.GP, sel & ~3);
  if (!readDescriptor(c, sel, c.long)) c.fault(Vec.GP, sel & ~3);
  const attr = descAttr();
  const type = attr & 0xf;
  if ((attr & DescAttr.S) !== 0 || (type !== 1 && type !== 9)) c.fault(Vec.GP, sel & ~3);
  if ((attr & DescAttr.P) === 0) c.fault(Vec.NP, sel & ~3);
  // Mark busy in the GDT.
  desc[1] |= 0x200;
  const t = (c.gdtBaseLo >>> 0) + (sel & ~7) + 4;
  c.supervisorWrite(t | 0, c.long ? (c.gdtBaseHi + (t > 0xffffffff ? 1 : 0)) | 0 : 0, 4, desc[1]);
  c.trSel = sel;
  c.trBaseLo = descBase();
  c.trBaseHi = c.long ? desc[2] : 0;
  c.trLimit = descLimit();
  c.trAttr = descAttr() | 2;
}

export function loadLdt(c: Cpu, sel: number): void {
  if ((sel & ~3) === 0) {
    c.ldtSel = 0;
    c.ldtAttr = 0;
    return;
  }
  if ((sel & 4) !== 0) c.fault(Vec.GP, sel & ~3);
  if (!readDescriptor(c, sel, c.long)) c.fault(Vec.GP, sel & ~3);
  const attr = descAttr();
  if ((attr & DescAttr.S) !== 0 || (attr & 0xf) !== 2) c.fault(Vec.GP, sel & ~3);
  if ((attr & DescAttr.P) === 0) c.fault(Vec.NP, sel & ~3);
  c.ldtSel = sel;
  c.ldtBaseLo = descBase();
  c.ldtBaseHi = c.long ? desc[2] : 0;
  c.ldtLimit = descLimit();
  c.ldtAttr = descAttr();
}

// ---------------------------------------------------------------------------------------
// Event delivery (SDM vol. 3, 6.12-6.15, and 6.14 for IA-32e mode)
// ---------------------------------------------------------------------------------------

/** Exception classes for the double-fault rules (SDM vol. 3, table 6-5). */
function isContributory(v: number): boolean {
  return v === Vec.DE || v === Vec.TS || v === Vec.NP || v === Vec.SS || v === Vec.GP;
}

/** Deliver an interrupt or exception, applying the #DF / triple-fault rules for nested faults. */
export function deliverEvent(c: Cpu, vec: number, err: number, kind: EventKind): void {
  if (c.exceptionHook !== null && kind !== EventKind.EXTERNAL && c.exceptionHook(vec, err)) throw CPU_EXIT;
  c.deliveries++;
  c.deliveringVec = vec;
  c.deliveryDepth++;
  try {
    deliverOnce(c, vec, err, kind);
    c.deliveryDepth = 0;
    c.deliveringVec = -1;
  } catch (e) {
    if (e !== CPU_FAULT) throw e;
    c.deliveryDepth = 0;
    c.deliveringVec = -1;
    const second = c.excVec;
    if (kind === EventKind.SOFTWARE || kind === EventKind.SOFTWARE_EXC || kind === EventKind.ICEBP) {
      // A fault while delivering INT n is an ordinary fault of that instruction.
      throw e;
    }
    if (vec === Vec.DF) {
      c.shutdown = true; // triple fault
      return;
    }
    const first = vec;
    const df =
      (isContributory(first) && isContributory(second)) || (first === Vec.PF && (isContributory(second) || second === Vec.PF));
    if (df) deliverEvent(c, Vec.DF, 0, EventKind.FAULT);
    else deliverEvent(c, second, c.excErr, EventKind.FAULT);
  }
}

function hasErrorCode(vec: number, kind: EventKind): boolean {
  if (kind !== EventKind.FAULT) return false;
  return vec === Vec.DF || vec === Vec.TS || vec === Vec.NP || vec === Vec.SS || vec === Vec.GP || vec === Vec.PF || vec === Vec.AC;
}

function deliverOnce(c: Cpu, vec: number, err: number, kind: EventKind): void {
  const ext = kind === EventKind.EXTERNAL || kind === EventKind.NMI ? 1 : 0;
  const withErr = hasErrorCode(vec, kind) && c.protectedMode;
  const flags = c.getFlags();
  if (!c.protectedMode) {
    deliverReal(c, vec, flags);
  } else if (c.long) {
    deliverLong(c, vec, withErr ? err : -1, kind, ext, flags);
  } else {
    deliverProtected(c, vec, withErr ? err : -1, kind, ext, flags);
  }
  if (vec === Vec.NMI && kind === EventKind.NMI) c.nmiBlocked = true;
  c.halted = false;
}

function deliverReal(c: Cpu, vec: number, flags: number): void {
  // IVT entry: offset then segment (SDM vol. 3, 21.1.4).
  if (vec * 4 + 3 > c.idtLimit >>> 0) c.fault(Vec.GP, 0);
  const entry = (c.idtBaseLo + vec * 4) | 0;
  const ip = c.supervisorRead(entry, 0, 2);
  const cs = c.supervisorRead((entry + 2) | 0, 0, 2);
  const sp = c.lo[4];
  try {
    c.push(1, flags, 0);
    c.push(1, c.segSel[Seg.CS], 0);
    c.push(1, c.ripLo, 0);
  } catch (e) {
    c.lo[4] = sp;
    throw e;
  }
  c.setFlags(flags & ~(Flag.IF | Flag.TF | Flag.AC | Flag.RF));
  loadRealSegment(c, Seg.CS, cs);
  c.ripLo = ip;
  c.ripHi = 0;
  c.updateMode();
}

/** Read a gate; returns its attribute byte; fills gate fields. */
const gate = new Int32Array(4);
function readGate(c: Cpu, vec: number, size: number, kind: EventKind, ext: number): void {
  const errSel = vec * 8 + 2 + ext;
  if (vec * size + size - 1 > c.idtLimit >>> 0) c.fault(Vec.GP, errSel);
  const t = (c.idtBaseLo >>> 0) + vec * size;
  const hi = c.long ? (c.idtBaseHi + (t > 0xffffffff ? 1 : 0)) | 0 : 0;
  gate[0] = c.supervisorRead(t | 0, hi, 4);
  gate[1] = c.supervisorRead((t + 4) | 0, hi, 4);
  if (size === 16) {
    gate[2] = c.supervisorRead((t + 8) | 0, hi, 4);
    gate[3] = c.supervisorRead((t + 12) | 0, hi, 4);
  }
  const type = (gate[1] >> 8) & 0x1f;
  const dpl = (gate[1] >> 13) & 3;
  const software = kind === EventKind.SOFTWARE || kind === EventKind.SOFTWARE_EXC;
  if (size === 16) {
    if (type !== 0xe && type !== 0xf) c.fault(Vec.GP, errSel);
  } else if (type !== 0x6 && type !== 0x7 && type !== 0xe && type !== 0xf) {
    c.fault(Vec.GP, errSel); // task gates are not supported
  }
  if (software && dpl < c.cpl) c.fault(Vec.GP, errSel);
  if ((gate[1] & 0x8000) === 0) c.fault(Vec.NP, errSel);
}

/** Read the target code descriptor of a gate; returns the new CPL. */
function gateTarget(c: Cpu, sel: number, ext: number): number {
  if ((sel & ~3) === 0) c.fault(Vec.GP, ext);
  if (!readDescriptor(c, sel, false)) c.fault(Vec.GP, (sel & ~3) + ext);
  const attr = descAttr();
  if ((attr & DescAttr.S) === 0 || (attr & DescAttr.EXEC) === 0) c.fault(Vec.GP, (sel & ~3) + ext);
  const dpl = (attr >> DescAttr.DPL_SHIFT) & 3;
  if (dpl > c.cpl) c.fault(Vec.GP, (sel & ~3) + ext);
  if ((attr & DescAttr.P) === 0) c.fault(Vec.NP, (sel & ~3) + ext);
  return (attr & DescAttr.DC) !== 0 ? c.cpl : dpl;
}

function deliverProtected(c: Cpu, vec: number, err: number, kind: EventKind, ext: number, flags: number): void {
  if ((flags & Flag.VM) !== 0) c.fault(Vec.GP, 0); // virtual-8086 mode is not supported
  readGate(c, vec, 8, kind, ext);
  const type = (gate[1] >> 8) & 0x1f;
  const is32 = (type & 8) !== 0;
  const isInterruptGate = (type & 1) === 0;
  const sel = (gate[0] >>> 16) & 0xffff;
  const off = is32 ? ((gate[0] & 0xffff) | (gate[1] & 0xffff0000)) | 0 : gate[0] & 0xffff;
  const newCpl = gateTarget(c, sel, ext);
  const osize = is32 ? 2 : 1;
  const codeDesc0 = desc[0];
  const codeDesc1 = desc[1];
  const oldSs = c.segSel[Seg.SS];
  const oldSp = c.lo[4];
  const oldCs = c.segSel[Seg.CS];
  const saved = saveStackState(c);
  try {
    if (newCpl < c.cpl) {
      // Stack switch from the TSS (SDM vol. 3, 7.2.1: ESPn at 4+8n, SSn at 8+8n).
      const tssOff = 4 + newCpl * 8;
      if (tssOff + 5 > c.trLimit >>> 0) c.fault(Vec.TS, c.trSel & ~3);
      const newSp = c.supervisorRead((c.trBaseLo + tssOff) | 0, 0, 4);
      const newSs = c.supervisorRead((c.trBaseLo + tssOff + 4) | 0, 0, 2);
      const prevCpl = c.cpl;
      c.cpl = newCpl; // the SS checks are against the new CPL
      try {
        loadSegment(c, Seg.SS, newSs);
      } catch (e) {
        c.cpl = prevCpl;
        if (c.excVec === Vec.GP || c.excVec === Vec.SS || c.excVec === Vec.NP) c.excVec = Vec.TS;
        throw e;
      }
      c.lo[4] = newSp;
      c.hi[4] = 0;
      pushSupervisor(c, osize, oldSs);
      pushSupervisor(c, osize, oldSp);
    }
    pushSupervisor(c, osize, flags);
    pushSupervisor(c, osize, oldCs);
    pushSupervisor(c, osize, c.ripLo);
    if (err >= 0) pushSupervisor(c, osize, err);
  } catch (e) {
    restoreStackState(c, saved);
    throw e;
  }
  desc[0] = codeDesc0;
  desc[1] = codeDesc1;
  commitCs(c, sel, newCpl);
  c.ripLo = off;
  c.ripHi = 0;
  let nf = flags & ~(Flag.TF | Flag.NT | Flag.RF | Flag.VM);
  if (isInterruptGate) nf &= ~Flag.IF;
  c.setFlags(nf);
  c.updateMode();
}

function deliverLong(c: Cpu, vec: number, err: number, kind: EventKind, ext: number, flags: number): void {
  readGate(c, vec, 16, kind, ext);
  const type = (gate[1] >> 8) & 0x1f;
  const isInterruptGate = type === 0xe;
  const sel = (gate[0] >>> 16) & 0xffff;
  const offLo = ((gate[0] & 0xffff) | (gate[1] & 0xffff0000)) | 0;
  const offHi = gate[2];
  const ist = gate[1] & 7;
  const newCpl = gateTarget(c, sel, ext);
  if ((descAttr() & DescAttr.L) === 0 || (descAttr() & DescAttr.DB) !== 0) c.fault(Vec.GP, (sel & ~3) + ext);
  const codeDesc0 = desc[0];
  const codeDesc1 = desc[1];
  const oldSs = c.segSel[Seg.SS];
  const oldSpLo = c.lo[4];
  const oldSpHi = c.hi[4];
  const oldCs = c.segSel[Seg.CS];
  const saved = saveStackState(c);
  try {
    let spLo = oldSpLo;
    let spHi = oldSpHi;
    if (ist !== 0 || newCpl < c.cpl) {
      // 64-bit TSS: RSPn at 4+8n, ISTn at 0x24+8(n-1) (SDM vol. 3, 8.7).
      const off = ist !== 0 ? 0x24 + (ist - 1) * 8 : 4 + newCpl * 8;
      if (off + 7 > c.trLimit >>> 0) c.fault(Vec.TS, c.trSel & ~3);
      const t = (c.trBaseLo >>> 0) + off;
      const th = (c.trBaseHi + (t > 0xffffffff ? 1 : 0)) | 0;
      spLo = c.supervisorRead(t | 0, th, 4);
      spHi = c.supervisorRead((t + 4) | 0, (t + 4) > 0xffffffff ? (th + 1) | 0 : th, 4);
    }
    // The new stack is 16-byte aligned (SDM vol. 3, 6.14.2).
    c.lo[4] = spLo & ~15;
    c.hi[4] = spHi;
    const prevStack = c.stackSize;
    c.stackSize = 3;
    pushSupervisor(c, 3, oldSs);
    pushSupervisor64(c, oldSpLo, oldSpHi);
    pushSupervisor(c, 3, flags);
    pushSupervisor(c, 3, oldCs);
    pushSupervisor64(c, c.ripLo, c.codeSize === 3 ? c.ripHi : 0);
    if (err >= 0) pushSupervisor(c, 3, err);
    c.stackSize = prevStack;
  } catch (e) {
    restoreStackState(c, saved);
    throw e;
  }
  if (newCpl < c.cpl) {
    // SS becomes a null selector with RPL = new CPL.
    c.segSel[Seg.SS] = newCpl;
    c.segBase[Seg.SS] = 0;
    c.segBaseHi[Seg.SS] = 0;
    c.segLimit[Seg.SS] = 0;
    c.segAttr[Seg.SS] = (newCpl << DescAttr.DPL_SHIFT) | DescAttr.P | DescAttr.S | DescAttr.RW;
  }
  desc[0] = codeDesc0;
  desc[1] = codeDesc1;
  commitCs(c, sel, newCpl);
  c.ripLo = offLo;
  c.ripHi = offHi;
  let nf = flags & ~(Flag.TF | Flag.NT | Flag.RF | Flag.VM);
  if (isInterruptGate) nf &= ~Flag.IF;
  c.setFlags(nf);
  c.updateMode();
}

interface StackState {
  lo: number;
  hi: number;
  ssSel: number;
  ssBase: number;
  ssLimit: number;
  ssAttr: number;
  cpl: number;
  stackSize: number;
}
function saveStackState(c: Cpu): StackState {
  return {
    lo: c.lo[4], hi: c.hi[4], ssSel: c.segSel[Seg.SS], ssBase: c.segBase[Seg.SS], ssLimit: c.segLimit[Seg.SS],
    ssAttr: c.segAttr[Seg.SS], cpl: c.cpl, stackSize: c.stackSize,
  };
}
function restoreStackState(c: Cpu, s: StackState): void {
  c.lo[4] = s.lo;
  c.hi[4] = s.hi;
  c.segSel[Seg.SS] = s.ssSel;
  c.segBase[Seg.SS] = s.ssBase;
  c.segLimit[Seg.SS] = s.ssLimit;
  c.segAttr[Seg.SS] = s.ssAttr;
  c.cpl = s.cpl;
  c.stackSize = s.stackSize;
  c.updateMode();
}

/** Push with supervisor privilege (event delivery writes the new stack as the new CPL). */
function pushSupervisor(c: Cpu, size: number, v: number): void {
  if (size === 3) {
    pushSupervisor64(c, v, 0);
    return;
  }
  const n = size === 1 ? 2 : 4;
  const sp = c.stackSize === 2 ? (c.lo[4] - n) | 0 : (c.lo[4] - n) & 0xffff;
  c.supervisorWrite((sp + c.segBase[Seg.SS]) | 0, 0, n, v);
  if (c.stackSize === 2) c.lo[4] = sp;
  else c.lo[4] = (c.lo[4] & ~0xffff) | sp;
}

function pushSupervisor64(c: Cpu, vLo: number, vHi: number): void {
  const t = (c.lo[4] >>> 0) - 8;
  const lo = t | 0;
  const hi = (c.hi[4] + (t < 0 ? -1 : 0)) | 0;
  const top = hi >> 15;
  if (top !== 0 && top !== -1) c.fault(Vec.SS, 0);
  c.supervisorWrite(lo, hi, 4, vLo);
  c.supervisorWrite((lo + 4) | 0, hi, 4, vHi);
  c.lo[4] = lo;
  c.hi[4] = hi;
}

// ---------------------------------------------------------------------------------------
// IRET (SDM IRET pseudo-code)
// ---------------------------------------------------------------------------------------

export function iret(c: Cpu, osize: number): void {
  const n = osize === 1 ? 2 : osize === 2 ? 4 : 8;
  if (!c.protectedMode) {
    const ip = c.peek(osize, 0);
    const cs = c.peek(osize, n) & 0xffff;
    const fl = c.peek(osize, 2 * n);
    c.adjustSp(3 * n);
    loadRealSegment(c, Seg.CS, cs);
    c.ripLo = osize === 1 ? ip & 0xffff : ip;
    c.ripHi = 0;
    const keep = osize === 1 ? ~0xffff : Flag.VM | Flag.VIF | Flag.VIP;
    c.setFlags((c.getFlags() & keep) | (fl & ~keep));
    c.nmiBlocked = false;
    c.updateMode();
    return;
  }
  if ((c.flagsReg & Flag.NT) !== 0 && !c.long) c.fault(Vec.GP, 0); // task return not supported
  const ripLo = c.peek(osize, 0);
  const ripHi = osize === 3 ? c.rHi : 0;
  const cs = c.peek(osize, n) & 0xffff;
  const fl = c.peek(osize, 2 * n);
  const newCpl = checkCodeSelector(c, cs, true);
  const toOuter = newCpl > c.cpl;
  const popStack = toOuter || c.codeSize === 3;
  let spLo = 0;
  let spHi = 0;
  let ss = 0;
  if (popStack) {
    spLo = c.peek(osize, 3 * n);
    spHi = osize === 3 ? c.rHi : 0;
    ss = c.peek(osize, 4 * n) & 0xffff;
  }
  const oldCpl = c.cpl;
  const oldFlags = c.getFlags();
  // Which flags may change (SDM IRET: IOPL only at CPL 0, IF only when CPL <= IOPL).
  let mask = Flag.CF | Flag.PF | Flag.AF | Flag.ZF | Flag.SF | Flag.TF | Flag.DF | Flag.OF | Flag.NT | Flag.RF | Flag.AC | Flag.ID;
  if (oldCpl === 0) mask |= Flag.IOPL | Flag.VIF | Flag.VIP;
  if (oldCpl <= ((oldFlags >> 12) & 3)) mask |= Flag.IF;
  if (osize === 1) mask &= 0xffff;
  markAccessed(c, cs);
  commitCs(c, cs, newCpl);
  c.updateMode();
  if (popStack) {
    if (c.long && (ss & ~3) === 0 && newCpl !== 3 && c.codeSize === 3) {
      c.segSel[Seg.SS] = ss;
      c.segAttr[Seg.SS] = (newCpl << DescAttr.DPL_SHIFT) | DescAttr.P | DescAttr.S | DescAttr.RW;
      c.segBase[Seg.SS] = 0;
      c.segBaseHi[Seg.SS] = 0;
    } else {
      loadSegment(c, Seg.SS, ss);
    }
    c.lo[4] = spLo;
    c.hi[4] = c.codeSize === 3 ? spHi : 0;
  } else {
    c.adjustSp(3 * n);
  }
  if (toOuter) invalidateDataSegments(c);
  c.ripLo = osize === 1 ? ripLo & 0xffff : ripLo;
  c.ripHi = c.codeSize === 3 ? ripHi : 0;
  c.setFlags((oldFlags & ~mask) | (fl & mask));
  c.nmiBlocked = false;
  c.updateMode();
}

// ---------------------------------------------------------------------------------------
// SYSCALL/SYSRET (AMD64; SDM SYSCALL/SYSRET) and SYSENTER/SYSEXIT
// ---------------------------------------------------------------------------------------

export function syscall(c: Cpu): void {
  if ((c.efer & Efer.SCE) === 0) c.fault(Vec.UD);
  const star = c.msrHi[MsrSlot.STAR];
  const sel = star & 0xfffc;
  if (c.long) {
    // RCX <- RIP, R11 <- RFLAGS, RIP <- LSTAR (or CSTAR from compatibility mode).
    const flags = c.getFlags();
    c.lo[1] = c.ripLo;
    c.hi[1] = c.ripHi;
    c.lo[11] = flags & ~Flag.RF;
    c.hi[11] = 0;
    const slot = c.codeSize === 3 ? MsrSlot.LSTAR : MsrSlot.CSTAR;
    c.ripLo = c.msrLo[slot];
    c.ripHi = c.msrHi[slot];
    c.setFlags(flags & ~c.msrLo[MsrSlot.FMASK] & ~Flag.RF);
    setFlatCs(c, sel, 64, 0);
  } else {
    c.lo[1] = c.ripLo;
    c.hi[1] = 0;
    c.ripLo = c.msrLo[MsrSlot.STAR];
    c.ripHi = 0;
    c.setFlags(c.getFlags() & ~(Flag.VM | Flag.IF | Flag.RF));
    setFlatCs(c, sel, 32, 0);
  }
  setFlatData(c, Seg.SS, (sel + 8) & 0xfffc, 0);
  c.updateMode();
}

export function sysret(c: Cpu, osize: number): void {
  if ((c.efer & Efer.SCE) === 0) c.fault(Vec.UD);
  if (!c.protectedMode || c.cpl !== 0) c.fault(Vec.GP, 0);
  const base = (c.msrHi[MsrSlot.STAR] >>> 16) & 0xffff;
  if (osize === 3) {
    if (c.long) {
      const top = c.hi[1] >> 15;
      if (top !== 0 && top !== -1) c.fault(Vec.GP, 0); // non-canonical RCX
    }
    setFlatCs(c, (base + 16) | 3, 64, 3);
    c.ripLo = c.lo[1];
    c.ripHi = c.hi[1];
  } else {
    setFlatCs(c, base | 3, 32, 3);
    c.ripLo = c.lo[1];
    c.ripHi = 0;
  }
  if (c.long) c.setFlags((c.lo[11] & 0x3c7fd7) | 2);
  else c.setFlags(c.getFlags() | Flag.IF);
  // SS selector = STAR[63:48]+8 with RPL 3; its cached descriptor is fixed (flat, DPL 3).
  setFlatData(c, Seg.SS, ((base + 8) & 0xfffc) | 3, 3);
  c.updateMode();
}

export function sysenter(c: Cpu): void {
  const cs = c.msrLo[MsrSlot.SYSENTER_CS] & 0xfffc;
  if (!c.protectedMode || cs === 0) c.fault(Vec.GP, 0);
  c.setFlags(c.getFlags() & ~(Flag.VM | Flag.IF | Flag.RF));
  const long = c.long;
  setFlatCs(c, cs, long ? 64 : 32, 0);
  setFlatData(c, Seg.SS, (cs + 8) & 0xfffc, 0);
  c.ripLo = c.msrLo[MsrSlot.SYSENTER_EIP];
  c.ripHi = long ? c.msrHi[MsrSlot.SYSENTER_EIP] : 0;
  c.lo[4] = c.msrLo[MsrSlot.SYSENTER_ESP];
  c.hi[4] = long ? c.msrHi[MsrSlot.SYSENTER_ESP] : 0;
  c.updateMode();
}

export function sysexit(c: Cpu, osize: number): void {
  const cs = c.msrLo[MsrSlot.SYSENTER_CS] & 0xfffc;
  if (!c.protectedMode || c.cpl !== 0 || cs === 0) c.fault(Vec.GP, 0);
  if (osize === 3) {
    setFlatCs(c, (cs + 32) | 3, 64, 3);
    setFlatData(c, Seg.SS, (cs + 40) | 3, 3);
    c.ripLo = c.lo[2];
    c.ripHi = c.hi[2];
    c.lo[4] = c.lo[1];
    c.hi[4] = c.hi[1];
  } else {
    setFlatCs(c, (cs + 16) | 3, 32, 3);
    setFlatData(c, Seg.SS, (cs + 24) | 3, 3);
    c.ripLo = c.lo[2];
    c.ripHi = 0;
    c.lo[4] = c.lo[1];
    c.hi[4] = 0;
  }
  c.updateMode();
}

/** CR0 writes that change paging or protection need a TLB flush and a mode update. */
export function cr0Changed(c: Cpu, old: number): void {
  const changed = old ^ c.cr0;
  if ((changed & (Cr0.PG | Cr0.WP | Cr0.PE)) !== 0) c.flushTlb();
  c.updateMode();
}

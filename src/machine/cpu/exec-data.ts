// Data movement: MOV forms, MOVZX/MOVSX/MOVSXD, LEA, XCHG, PUSH/POP (incl. segment
// registers, PUSHA/POPA, PUSHF/POPF), ENTER/LEAVE, CMOVcc/SETcc, LAHF/SAHF, XLAT,
// CBW/CWD families, IN/OUT (SDM vol. 2 pages of the same names).

import type { Cpu } from './cpu.js';
import { Info, Ea } from './decoded.js';
import { Seg, Vec, Flag } from './constants.js';
import { readRm, writeRm, readReg, writeReg, regField, rmField, osizeOf, isMem, readFarPointer, farPtr } from './operands.js';
import { loadSegment } from './system.js';

export function movRmReg(c: Cpu, d: number): void {
  const size = osizeOf(c, d);
  const r = regField(c, d);
  if (size === 3) writeRm(c, d, 3, c.lo[r], c.hi[r]);
  else writeRm(c, d, size, c.getReg(size, r), 0);
}

export function movRegRm(c: Cpu, d: number): void {
  const size = osizeOf(c, d);
  const v = readRm(c, d, size);
  writeReg(c, regField(c, d), size, v, c.rHi);
}

export function movRmImm(c: Cpu, d: number): void {
  const size = osizeOf(c, d);
  const v = c.store.imm[d];
  writeRm(c, d, size, v, v >> 31);
}

/** B0+r / B8+r: MOV reg, imm (imm64 with REX.W). */
export function movRegImm(c: Cpu, d: number): void {
  const size = osizeOf(c, d);
  const r = rmField(c, d);
  if (size === 3) writeReg(c, r, 3, c.store.imm[d], c.store.imm2[d]);
  else c.setReg(size, r, c.store.imm[d]);
}

/** A0-A3: MOV between the accumulator and a memory offset (moffs). */
export function movMoffs(c: Cpu, d: number, store: boolean): void {
  const s = c.store;
  const info = s.info[d];
  const size = info & Info.OSIZE_MASK;
  const seg = (info >> Info.SEG_SHIFT) & 7;
  const asize = (info >> Info.ASIZE_SHIFT) & 3;
  let lo: number;
  let hi: number;
  if (asize === 3) {
    lo = s.disp[d];
    hi = s.imm2[d];
    if (seg >= Seg.FS) {
      const t = (lo >>> 0) + (c.segBase[seg] >>> 0);
      lo = t | 0;
      hi = (hi + c.segBaseHi[seg] + (t > 0xffffffff ? 1 : 0)) | 0;
    }
  } else {
    const off = asize === 1 ? s.disp[d] & 0xffff : s.disp[d];
    // Segment limit and type checks, as for a ModRM memory operand (SDM vol. 3, 5.3).
    c.checkSeg(seg, off, 1 << size, store);
    lo = c.segAddr(seg, off);
    hi = c.eaHi;
  }
  if (store) {
    c.wrSize(size, lo, hi, size === 3 ? c.lo[0] : c.getReg(size, 0), c.hi[0]);
  } else {
    const v = c.rdSize(size, lo, hi);
    writeReg(c, 0, size, v, c.rHi);
  }
}

/** MOVZX/MOVSX Gv, Eb/Ew. */
export function movExtend(c: Cpu, d: number, srcSize: number, signed: boolean): void {
  const size = osizeOf(c, d);
  let v = readRm(c, d, srcSize);
  if (signed) v = srcSize === 0 ? (v << 24) >> 24 : (v << 16) >> 16;
  const hi = signed ? v >> 31 : 0;
  writeReg(c, regField(c, d), size, size === 1 ? v & 0xffff : v, hi);
}

/** 63: MOVSXD Gv, Ed in 64-bit mode; ARPL Ew, Gw elsewhere. */
export function movsxdOrArpl(c: Cpu, d: number): void {
  if (c.codeSize === 3) {
    const size = osizeOf(c, d);
    const v = readRm(c, d, 2);
    writeReg(c, regField(c, d), size, size === 1 ? v & 0xffff : v, v >> 31);
    return;
  }
  if (!c.protectedMode || (c.flagsReg & Flag.VM) !== 0) c.fault(Vec.UD);
  const dst = readRm(c, d, 1);
  const src = c.getReg(1, regField(c, d));
  if ((dst & 3) < (src & 3)) {
    writeRm(c, d, 1, (dst & ~3) | (src & 3), 0);
    c.setArith(Flag.ZF, Flag.ZF);
  } else c.setArith(Flag.ZF, 0);
}

export function lea(c: Cpu, d: number): void {
  const s = c.store;
  const info = s.info[d];
  const size = info & Info.OSIZE_MASK;
  const asize = (info >> Info.ASIZE_SHIFT) & 3;
  // The effective address without any segment base.
  const e = s.ea[d];
  const base = e & 31;
  const index = (e >> Ea.INDEX_SHIFT) & 31;
  const scale = (e >> Ea.SCALE_SHIFT) & 3;
  let lo = s.disp[d];
  let hi = lo >> 31;
  if (asize === 3) {
    let t: number;
    if (base < 16) {
      t = (lo >>> 0) + (c.lo[base] >>> 0);
      lo = t | 0;
      hi = (hi + c.hi[base] + (t > 0xffffffff ? 1 : 0)) | 0;
    } else if (base === Ea.RIP) {
      t = (lo >>> 0) + (c.ripLo >>> 0);
      lo = t | 0;
      hi = (hi + c.ripHi + (t > 0xffffffff ? 1 : 0)) | 0;
    }
    if (index < 16) {
      let il = c.lo[index];
      let ih = c.hi[index];
      if (scale !== 0) {
        ih = (ih << scale) | (il >>> (32 - scale));
        il <<= scale;
      }
      t = (lo >>> 0) + (il >>> 0);
      lo = t | 0;
      hi = (hi + ih + (t > 0xffffffff ? 1 : 0)) | 0;
    }
  } else {
    if (base < 16) lo = (lo + c.lo[base]) | 0;
    else if (base === Ea.RIP) lo = (lo + c.ripLo) | 0;
    if (index < 16) lo = (lo + (c.lo[index] << scale)) | 0;
    if (asize === 1) lo &= 0xffff;
    hi = 0;
  }
  writeReg(c, regField(c, d), size, size === 1 ? lo & 0xffff : lo, hi);
}

export function xchgModrm(c: Cpu, d: number): void {
  const size = osizeOf(c, d);
  const r = regField(c, d);
  const a = readRm(c, d, size);
  const ah = c.rHi;
  const b = readReg(c, r, size);
  const bh = c.rHi;
  if (isMem(c, d)) {
    const lo = c.ea(d);
    c.wrSize(size, lo, c.eaHi, b, bh);
  } else writeReg(c, rmField(c, d), size, b, bh);
  writeReg(c, r, size, a, ah);
}

/** 90+r: XCHG eAX, r (90 without REX.B is NOP; F3 90 is PAUSE). */
export function xchgAcc(c: Cpu, d: number): void {
  const size = osizeOf(c, d);
  const r = rmField(c, d);
  if (r === 0) return;
  const a = readReg(c, 0, size);
  const ah = c.rHi;
  const b = readReg(c, r, size);
  writeReg(c, 0, size, b, c.rHi);
  writeReg(c, r, size, a, ah);
}

export function pushReg(c: Cpu, d: number): void {
  const size = osizeOf(c, d);
  const r = rmField(c, d);
  c.push(size, c.lo[r], c.hi[r]);
}

export function popReg(c: Cpu, d: number): void {
  const size = osizeOf(c, d);
  const v = c.pop(size);
  writeReg(c, rmField(c, d), size, v, c.rHi);
}

export function pushImm(c: Cpu, d: number): void {
  const v = c.store.imm[d];
  c.push(osizeOf(c, d), v, v >> 31);
}

export function pushRm(c: Cpu, d: number): void {
  const size = osizeOf(c, d);
  const v = readRm(c, d, size);
  c.push(size, v, c.rHi);
}

/** 8F /0: POP r/m. The address is computed after RSP is incremented (SDM POP). */
export function popRm(c: Cpu, d: number): void {
  const size = osizeOf(c, d);
  const sp = c.lo[4];
  const spHi = c.hi[4];
  const v = c.pop(size);
  const vh = c.rHi;
  try {
    writeRm(c, d, size, v, vh);
  } catch (e) {
    c.lo[4] = sp;
    c.hi[4] = spHi;
    throw e;
  }
}

export function pushSeg(c: Cpu, d: number, seg: number): void {
  c.push(osizeOf(c, d), c.segSel[seg], 0);
}

export function popSeg(c: Cpu, d: number, seg: number): void {
  const size = osizeOf(c, d);
  const v = c.peek(size, 0) & 0xffff;
  loadSegment(c, seg, v);
  c.adjustSp(size === 1 ? 2 : size === 2 ? 4 : 8);
  if (seg === Seg.SS) c.inhibitUntil = c.insns + 2;
}

export function movRmSeg(c: Cpu, d: number): void {
  const seg = regField(c, d) & 7;
  if (seg > 5) c.fault(Vec.UD);
  const size = isMem(c, d) ? 1 : osizeOf(c, d);
  writeRm(c, d, size, c.segSel[seg], 0);
}

export function movSegRm(c: Cpu, d: number): void {
  const seg = regField(c, d) & 7;
  if (seg > 5 || seg === Seg.CS) c.fault(Vec.UD);
  const v = readRm(c, d, 1);
  loadSegment(c, seg, v);
  // MOV SS inhibits interrupts for one instruction (SDM MOV, "Operation").
  if (seg === Seg.SS) {
    c.inhibitUntil = c.insns + 2;
    c.breakLoop = true;
  }
}

/** 62: BOUND r16, m16&16 / r32, m32&32 (legacy modes): #BR, a fault, unless the signed index
 *  lies within [lower, upper] read from the memory operand (SDM BOUND). */
export function bound(c: Cpu, d: number): void {
  const size = osizeOf(c, d);
  const lo = c.ea(d);
  const hi = c.eaHi;
  const n = size === 1 ? 2 : 4;
  c.checkSeg(c.eaSeg, c.eaOff, 2 * n, false); // both bounds lie within the segment
  let lower = c.rdSize(size, lo, hi);
  let upper = c.rdSize(size, (lo + n) | 0, hi);
  let index = c.getReg(size, regField(c, d));
  if (size === 1) {
    lower = (lower << 16) >> 16;
    upper = (upper << 16) >> 16;
    index = (index << 16) >> 16;
  } else {
    lower |= 0;
    upper |= 0;
    index |= 0;
  }
  if (index < lower || index > upper) c.fault(Vec.BR);
}

/** LDS/LES/LFS/LGS/LSS r, m16:16/32/64. */
export function loadFarPointer(c: Cpu, d: number, seg: number): void {
  readFarPointer(c, d);
  loadSegment(c, seg, farPtr.sel);
  writeReg(c, regField(c, d), osizeOf(c, d), farPtr.off, farPtr.offHi);
}

export function pusha(c: Cpu, d: number): void {
  const size = osizeOf(c, d);
  const sp = c.lo[4];
  const order = [0, 1, 2, 3, 4, 5, 6, 7];
  try {
    for (const r of order) c.push(size, r === 4 ? sp : c.lo[r], 0);
  } catch (e) {
    c.lo[4] = sp;
    throw e;
  }
}

export function popa(c: Cpu, d: number): void {
  const size = osizeOf(c, d);
  const n = size === 1 ? 2 : 4;
  const vals: number[] = [];
  for (let i = 0; i < 8; i++) vals.push(c.peek(size, i * n));
  for (let i = 0; i < 8; i++) {
    const r = 7 - i;
    if (r !== 4) c.setReg(size, r, vals[i]);
  }
  c.adjustSp(8 * n);
}

export function pushf(c: Cpu, d: number): void {
  if ((c.flagsReg & Flag.VM) !== 0 && ((c.flagsReg >> 12) & 3) < 3) c.fault(Vec.GP, 0);
  // VM and RF are pushed as 0 (SDM PUSHF).
  c.push(osizeOf(c, d), c.getFlags() & ~(Flag.VM | Flag.RF), 0);
}

export function popf(c: Cpu, d: number): void {
  const size = osizeOf(c, d);
  if ((c.flagsReg & Flag.VM) !== 0 && ((c.flagsReg >> 12) & 3) < 3) c.fault(Vec.GP, 0);
  const v = c.pop(size);
  const old = c.getFlags();
  // Which bits POPF may change (SDM POPF, table 4-16).
  let mask = Flag.CF | Flag.PF | Flag.AF | Flag.ZF | Flag.SF | Flag.TF | Flag.DF | Flag.OF | Flag.NT | Flag.AC | Flag.ID;
  if (!c.protectedMode || c.cpl === 0) mask |= Flag.IOPL | Flag.IF;
  else if (c.cpl <= ((old >> 12) & 3)) mask |= Flag.IF;
  if (size === 1) mask &= 0xffff;
  c.setFlags((old & ~mask) | (v & mask));
  c.breakLoop = true;
}

export function lahf(c: Cpu): void {
  c.setReg(0, 16, c.getFlags() & 0xd7 | 2);
}

export function sahf(c: Cpu): void {
  const ah = (c.lo[0] >> 8) & 0xff;
  c.setArith(Flag.CF | Flag.PF | Flag.AF | Flag.ZF | Flag.SF, ah);
}

export function cmov(c: Cpu, d: number, cc: number): void {
  const size = osizeOf(c, d);
  const v = readRm(c, d, size); // the source is read (and may fault) whatever the condition
  const vh = c.rHi;
  const r = regField(c, d);
  if (c.cond(cc)) writeReg(c, r, size, v, vh);
  else if (size === 2) c.hi[r] = 0; // a 32-bit CMOV zero-extends even when not taken
}

export function setcc(c: Cpu, d: number, cc: number): void {
  writeRm(c, d, 0, c.cond(cc) ? 1 : 0, 0);
}

export function xlat(c: Cpu, d: number): void {
  const info = c.store.info[d];
  const seg = (info >> Info.SEG_SHIFT) & 7;
  const asize = (info >> Info.ASIZE_SHIFT) & 3;
  const al = c.lo[0] & 0xff;
  if (asize === 3) {
    const t = (c.lo[3] >>> 0) + al;
    let lo = t | 0;
    let hi = (c.hi[3] + (t > 0xffffffff ? 1 : 0)) | 0;
    if (seg >= Seg.FS) {
      const t2 = (lo >>> 0) + (c.segBase[seg] >>> 0);
      lo = t2 | 0;
      hi = (hi + c.segBaseHi[seg] + (t2 > 0xffffffff ? 1 : 0)) | 0;
    }
    c.setReg(0, 0, c.rd8(lo, hi));
    return;
  }
  const off = asize === 1 ? (c.lo[3] + al) & 0xffff : (c.lo[3] + al) | 0;
  const lin = c.segAddr(seg, off);
  c.setReg(0, 0, c.rd8(lin, c.eaHi));
}

/** 98: CBW/CWDE/CDQE. */
export function cbw(c: Cpu, d: number): void {
  const size = osizeOf(c, d);
  if (size === 1) c.setReg(1, 0, ((c.lo[0] << 24) >> 24) & 0xffff);
  else if (size === 2) c.setReg(2, 0, (c.lo[0] << 16) >> 16);
  else {
    c.hi[0] = c.lo[0] >> 31;
  }
}

/** 99: CWD/CDQ/CQO. */
export function cwd(c: Cpu, d: number): void {
  const size = osizeOf(c, d);
  if (size === 1) c.setReg(1, 2, (c.lo[0] << 16) >> 31);
  else if (size === 2) c.setReg(2, 2, c.lo[0] >> 31);
  else {
    const s = c.hi[0] >> 31;
    c.lo[2] = s;
    c.hi[2] = s;
  }
}

/** C8: ENTER imm16, imm8 (SDM ENTER, nesting level taken mod 32). */
export function enter(c: Cpu, d: number): void {
  const size = osizeOf(c, d);
  const frameSize = c.store.imm[d] & 0xffff;
  const level = c.store.imm2[d] & 31;
  const n = size === 1 ? 2 : size === 2 ? 4 : 8;
  const savedSp = c.lo[4];
  const savedSpHi = c.hi[4];
  const savedBp = c.lo[5];
  const savedBpHi = c.hi[5];
  try {
    c.push(size, c.lo[5], c.hi[5]);
    const frameLo = c.lo[4];
    const frameHi = c.hi[4];
    if (level > 0) {
      let bpLo = c.lo[5];
      let bpHi = c.hi[5];
      for (let i = 1; i < level; i++) {
        const t = (bpLo >>> 0) - n;
        bpLo = c.stackSize === 1 ? (bpLo & ~0xffff) | ((bpLo - n) & 0xffff) : t | 0;
        if (c.stackSize === 3) bpHi = (bpHi + (t < 0 ? -1 : 0)) | 0;
        const addr = c.stackSize === 3 ? bpLo : ((c.stackSize === 1 ? bpLo & 0xffff : bpLo) + c.segBase[Seg.SS]) | 0;
        const v = c.rdSize(size, addr, c.stackSize === 3 ? bpHi : 0);
        c.push(size, v, c.rHi);
      }
      c.push(size, frameLo, frameHi);
    }
    writeReg(c, 5, c.stackSize === 1 ? 1 : c.stackSize === 2 ? 2 : 3, frameLo, frameHi);
    c.adjustSp(-frameSize);
  } catch (e) {
    c.lo[4] = savedSp;
    c.hi[4] = savedSpHi;
    c.lo[5] = savedBp;
    c.hi[5] = savedBpHi;
    throw e;
  }
}

/** C9: LEAVE: RSP <- RBP, then pop RBP. */
export function leave(c: Cpu, d: number): void {
  const size = osizeOf(c, d);
  const sp = c.lo[4];
  const spHi = c.hi[4];
  if (c.stackSize === 3) {
    c.lo[4] = c.lo[5];
    c.hi[4] = c.hi[5];
  } else if (c.stackSize === 2) {
    c.lo[4] = c.lo[5];
  } else {
    c.lo[4] = (c.lo[4] & ~0xffff) | (c.lo[5] & 0xffff);
  }
  try {
    const v = c.pop(size);
    writeReg(c, 5, size, v, c.rHi);
  } catch (e) {
    c.lo[4] = sp;
    c.hi[4] = spHi;
    throw e;
  }
}

// ---------------------------------------------------------------------------------------
// Port I/O (SDM IN/OUT; I/O permission: CPL <= IOPL, the TSS bitmap otherwise)
// ---------------------------------------------------------------------------------------

/** #GP unless this port access is allowed at the current privilege (SDM vol. 1, 19.5). */
export function checkIoPermission(c: Cpu, port: number, bytes: number): void {
  if (!c.protectedMode) return;
  const iopl = (c.flagsReg >> 12) & 3;
  if ((c.flagsReg & Flag.VM) === 0 && c.cpl <= iopl) return;
  // A hypervisor backdoor (VMware's, spec digest §4.1) serves some accesses whatever the I/O privilege.
  if (c.host.ioPermissionOverride?.(c, port) === true) return;
  // Consult the I/O permission bitmap of a 32/64-bit TSS.
  if ((c.trAttr & 0xf) !== 0xb && (c.trAttr & 0xf) !== 0x9) c.fault(Vec.GP, 0);
  if (c.trLimit >>> 0 < 0x67) c.fault(Vec.GP, 0);
  const baseOff = c.supervisorRead((c.trBaseLo + 0x66) | 0, c.trBaseHi, 2);
  const byteOff = baseOff + (port >>> 3);
  if (byteOff + 1 > c.trLimit >>> 0) c.fault(Vec.GP, 0);
  const bits = c.supervisorRead((c.trBaseLo + byteOff) | 0, c.trBaseHi, 2);
  const mask = ((1 << bytes) - 1) << (port & 7);
  if ((bits & mask) !== 0) c.fault(Vec.GP, 0);
}

export function ioIn(c: Cpu, d: number, port: number): void {
  const size = osizeOf(c, d);
  const bytes = size === 0 ? 1 : size === 1 ? 2 : 4;
  checkIoPermission(c, port, bytes);
  const v = c.host.ioRead(c, port, bytes);
  c.setReg(size === 0 ? 0 : size === 1 ? 1 : 2, 0, v);
  c.breakLoop = true;
}

export function ioOut(c: Cpu, d: number, port: number): void {
  const size = osizeOf(c, d);
  const bytes = size === 0 ? 1 : size === 1 ? 2 : 4;
  checkIoPermission(c, port, bytes);
  const v = size === 0 ? c.lo[0] & 0xff : size === 1 ? c.lo[0] & 0xffff : c.lo[0] >>> 0;
  c.host.ioWrite(c, port, bytes, v);
  c.breakLoop = true;
}

// Dispatch of one decoded instruction. Kept as one switch whose cases are short calls, so
// V8 optimises it (notes/v8-performance.md: a switch beats a table of closures, and functions
// above ~60 KB of bytecode are never optimised). The hottest forms are inlined here.

import type { Cpu } from './cpu.js';
import { Info } from './decoded.js';
import { GROUP_BASE, Grp } from './opcode-table.js';
import { OP_UD, OP_TOO_LONG } from './decoder.js';
import { Seg, Vec, Flag } from './constants.js';
import * as A from './exec-alu.js';
import * as D from './exec-data.js';
import * as C from './exec-control.js';
import * as S from './exec-system.js';
import { stringOp, Str } from './exec-string.js';
import { syscall, sysret, sysenter, sysexit, EventKind } from './system.js';
import { executeSse, isSseOp } from './exec-sse.js';
import { fxsave, fxrstor, ldmxcsr, stmxcsr } from './exec-sse-state.js';
import { x87, fwait } from './exec-x87.js';

const INC_RM = GROUP_BASE + Grp.G5_FF * 8;
const DEC_RM = INC_RM + 1;

/** Execute slot d; the caller passes its op id and info word (already loaded for the length). */
export function execute(c: Cpu, d: number, op: number, info: number): void {
  const s = c.store;
  // Fast paths: 32/64-bit register-to-register ALU.
  if (op < 0x40 && (op & 7) < 4) {
    const form = info & (Info.MEM | Info.OSIZE_MASK);
    if (form === 2 || form === 3) {
      const aluOp = op >> 3;
      const reg = (info >> Info.REG_SHIFT) & 31;
      const rm = (info >> Info.RM_SHIFT) & 31;
      const dir = (op >> 1) & 1;
      const dst = dir === 0 ? rm : reg;
      const src = dir === 0 ? reg : rm;
      if (form === 2) {
        const res = A.alu(c, aluOp, 2, c.lo[dst], c.lo[src]);
        if (aluOp !== 7) {
          c.lo[dst] = res;
          c.hi[dst] = 0;
        }
      } else {
        const res = A.alu64(c, aluOp, c.lo[dst], c.hi[dst], c.lo[src], c.hi[src]);
        if (aluOp !== 7) {
          c.lo[dst] = res;
          c.hi[dst] = c.rHi;
        }
      }
      return;
    }
  }
  switch (op) {
    // ---- ALU ----
    case 0x00: case 0x01: case 0x08: case 0x09: case 0x10: case 0x11: case 0x18: case 0x19:
    case 0x20: case 0x21: case 0x28: case 0x29: case 0x30: case 0x31: case 0x38: case 0x39:
      A.aluModrm(c, d, op >> 3, 0);
      return;
    case 0x02: case 0x03: case 0x0a: case 0x0b: case 0x12: case 0x13: case 0x1a: case 0x1b:
    case 0x22: case 0x23: case 0x2a: case 0x2b: case 0x32: case 0x33: case 0x3a: case 0x3b:
      A.aluModrm(c, d, op >> 3, 1);
      return;
    case 0x04: case 0x05: case 0x0c: case 0x0d: case 0x14: case 0x15: case 0x1c: case 0x1d:
    case 0x24: case 0x25: case 0x2c: case 0x2d: case 0x34: case 0x35: case 0x3c: case 0x3d:
      A.aluAccImm(c, d, op >> 3);
      return;
    case 0x06: D.pushSeg(c, d, Seg.ES); return;
    case 0x07: D.popSeg(c, d, Seg.ES); return;
    case 0x0e: D.pushSeg(c, d, Seg.CS); return;
    case 0x16: D.pushSeg(c, d, Seg.SS); return;
    case 0x17: D.popSeg(c, d, Seg.SS); return;
    case 0x1e: D.pushSeg(c, d, Seg.DS); return;
    case 0x1f: D.popSeg(c, d, Seg.DS); return;
    case 0x27: A.daa(c, false); return;
    case 0x2f: A.daa(c, true); return;
    case 0x37: A.aaa(c, false); return;
    case 0x3f: A.aaa(c, true); return;
    case 0x40: case 0x41: case 0x42: case 0x43: case 0x44: case 0x45: case 0x46: case 0x47:
      A.incDecReg(c, op & 7, info & Info.OSIZE_MASK, false);
      return;
    case 0x48: case 0x49: case 0x4a: case 0x4b: case 0x4c: case 0x4d: case 0x4e: case 0x4f:
      A.incDecReg(c, op & 7, info & Info.OSIZE_MASK, true);
      return;
    case 0x50: case 0x51: case 0x52: case 0x53: case 0x54: case 0x55: case 0x56: case 0x57:
      D.pushReg(c, d);
      return;
    case 0x58: case 0x59: case 0x5a: case 0x5b: case 0x5c: case 0x5d: case 0x5e: case 0x5f:
      D.popReg(c, d);
      return;
    case 0x60: D.pusha(c, d); return;
    case 0x61: D.popa(c, d); return;
    case 0x62: D.bound(c, d); return;
    case 0x63: D.movsxdOrArpl(c, d); return;
    case 0x68: case 0x6a: D.pushImm(c, d); return;
    case 0x69: case 0x6b: A.imulTwo(c, d, true); return;
    case 0x6c: case 0x6d: stringOp(c, d, Str.INS); return;
    case 0x6e: case 0x6f: stringOp(c, d, Str.OUTS); return;
    case 0x74: // JZ/JNZ: the commonest loop branch
    case 0x75:
      if (c.getZF() === (op === 0x74)) C.jumpRel(c, d, s.imm[d]);
      return;
    case 0x70: case 0x71: case 0x72: case 0x73: case 0x76: case 0x77:
    case 0x78: case 0x79: case 0x7a: case 0x7b: case 0x7c: case 0x7d: case 0x7e: case 0x7f:
      C.jcc(c, d, op & 15);
      return;
    case 0x84: case 0x85: A.testModrm(c, d); return;
    case 0x86: case 0x87: D.xchgModrm(c, d); return;
    case 0x88: case 0x89: D.movRmReg(c, d); return;
    case 0x8a: case 0x8b: D.movRegRm(c, d); return;
    case 0x8c: D.movRmSeg(c, d); return;
    case 0x8d: D.lea(c, d); return;
    case 0x8e: D.movSegRm(c, d); return;
    case 0x90:
      if ((info >> Info.REP_SHIFT & 3) === 1) {
        c.host.pause(c); // F3 90: PAUSE
        return;
      }
      D.xchgAcc(c, d);
      return;
    case 0x91: case 0x92: case 0x93: case 0x94: case 0x95: case 0x96: case 0x97:
      D.xchgAcc(c, d);
      return;
    case 0x98: D.cbw(c, d); return;
    case 0x99: D.cwd(c, d); return;
    case 0x9a: C.farDirect(c, d, true); return;
    case 0x9b: fwait(c); return;
    case 0x9c: D.pushf(c, d); return;
    case 0x9d: D.popf(c, d); return;
    case 0x9e: D.sahf(c); return;
    case 0x9f: D.lahf(c); return;
    case 0xa0: case 0xa1: D.movMoffs(c, d, false); return;
    case 0xa2: case 0xa3: D.movMoffs(c, d, true); return;
    case 0xa4: case 0xa5: stringOp(c, d, Str.MOVS); return;
    case 0xa6: case 0xa7: stringOp(c, d, Str.CMPS); return;
    case 0xa8: case 0xa9: A.testAccImm(c, d); return;
    case 0xaa: case 0xab: stringOp(c, d, Str.STOS); return;
    case 0xac: case 0xad: stringOp(c, d, Str.LODS); return;
    case 0xae: case 0xaf: stringOp(c, d, Str.SCAS); return;
    case 0xb0: case 0xb1: case 0xb2: case 0xb3: case 0xb4: case 0xb5: case 0xb6: case 0xb7:
    case 0xb8: case 0xb9: case 0xba: case 0xbb: case 0xbc: case 0xbd: case 0xbe: case 0xbf:
      D.movRegImm(c, d);
      return;
    case 0xc2: C.retNear(c, d, s.imm[d]); return;
    case 0xc3: C.retNear(c, d, 0); return;
    case 0xc4: D.loadFarPointer(c, d, Seg.ES); return;
    case 0xc5: D.loadFarPointer(c, d, Seg.DS); return;
    case 0xc8: D.enter(c, d); return;
    case 0xc9: D.leave(c, d); return;
    case 0xca: C.retFar(c, d, s.imm[d]); return;
    case 0xcb: C.retFar(c, d, 0); return;
    case 0xcc: C.softInt(c, Vec.BP, EventKind.SOFTWARE_EXC); return;
    case 0xcd: C.softInt(c, s.imm[d], EventKind.SOFTWARE); return;
    case 0xce: C.into(c); return;
    case 0xcf: C.iretOp(c, d); return;
    case 0xd4: A.aam(c, s.imm[d]); return;
    case 0xd5: A.aad(c, s.imm[d]); return;
    case 0xd6: c.setReg(0, 0, c.getCF() !== 0 ? 0xff : 0); return; // SALC
    case 0xd7: D.xlat(c, d); return;
    case 0xd8: case 0xd9: case 0xda: case 0xdb: case 0xdc: case 0xdd: case 0xde: case 0xdf:
      x87(c, d, op);
      return;
    case 0xe0: C.loop(c, d, 0); return;
    case 0xe1: C.loop(c, d, 1); return;
    case 0xe2: C.loop(c, d, 2); return;
    case 0xe3: C.loop(c, d, 3); return;
    case 0xe4: case 0xe5: D.ioIn(c, d, s.imm[d]); return;
    case 0xe6: case 0xe7: D.ioOut(c, d, s.imm[d]); return;
    case 0xe8: C.callRel(c, d); return;
    case 0xe9: case 0xeb: C.jumpRel(c, d, s.imm[d]); return;
    case 0xea: C.farDirect(c, d, false); return;
    case 0xec: case 0xed: D.ioIn(c, d, c.lo[2] & 0xffff); return;
    case 0xee: case 0xef: D.ioOut(c, d, c.lo[2] & 0xffff); return;
    case 0xf1: C.softInt(c, Vec.DB, EventKind.ICEBP); return;
    case 0xf4: C.hlt(c); return;
    case 0xf5: c.setArith(Flag.CF, c.getCF() ^ 1); return;
    case 0xf8: c.setArith(Flag.CF, 0); return;
    case 0xf9: c.setArith(Flag.CF, Flag.CF); return;
    case 0xfa: S.cli(c); return;
    case 0xfb: S.sti(c); return;
    case 0xfc: c.flagsReg &= ~Flag.DF; return;
    case 0xfd: c.flagsReg |= Flag.DF; return;
    default:
      // Group ops live outside the dense 0x00-0xff range so this switch stays a jump table.
      if (op === INC_RM || op === DEC_RM) A.incDecRm(c, d, op === DEC_RM);
      else if (op >= GROUP_BASE) executeGroup(c, d, op);
      else execute0F(c, d, op);
  }
}

function execute0F(c: Cpu, d: number, op: number): void {
  const s = c.store;
  switch (op) {
    case 0x102: S.larLsl(c, d, false); return;
    case 0x103: S.larLsl(c, d, true); return;
    case 0x105: if (!c.long) c.fault(Vec.UD); syscall(c); c.breakLoop = true; return;
    case 0x106: S.clts(c); return;
    case 0x107: if (!c.long) c.fault(Vec.UD); sysret(c, s.info[d] & Info.OSIZE_MASK); c.breakLoop = true; return;
    case 0x108: case 0x109: if (c.protectedMode && c.cpl !== 0) c.fault(Vec.GP, 0); return; // INVD/WBINVD: no caches
    case 0x10b: case 0x1b9: case 0x1ff: c.fault(Vec.UD); return; // UD2, UD1, UD0
    case 0x10d: case 0x119: case 0x11a: case 0x11b: case 0x11c: case 0x11d: case 0x11e: case 0x11f:
      return; // prefetch and hint NOPs (no memory access)
    case 0x120: S.movCr(c, d, false); return;
    case 0x122: S.movCr(c, d, true); return;
    case 0x121: S.movDr(c, d, false); return;
    case 0x123: S.movDr(c, d, true); return;
    case 0x130: S.wrmsr(c); return;
    case 0x131: S.rdtsc(c); return;
    case 0x132: S.rdmsr(c); return;
    case 0x133: c.fault(Vec.GP, 0); return; // RDPMC: no counters exposed
    case 0x134: sysenter(c); c.breakLoop = true; return;
    case 0x135: sysexit(c, s.info[d] & Info.OSIZE_MASK); c.breakLoop = true; return;
    case 0x1a0: D.pushSeg(c, d, Seg.FS); return;
    case 0x1a1: D.popSeg(c, d, Seg.FS); return;
    case 0x1a8: D.pushSeg(c, d, Seg.GS); return;
    case 0x1a9: D.popSeg(c, d, Seg.GS); return;
    case 0x1a2: S.cpuid(c); c.breakLoop = true; return;
    case 0x1a3: A.bitTest(c, d, 0, false); return;
    case 0x1ab: A.bitTest(c, d, 1, false); return;
    case 0x1b3: A.bitTest(c, d, 2, false); return;
    case 0x1bb: A.bitTest(c, d, 3, false); return;
    case 0x1a4: A.shiftDouble(c, d, true, s.imm[d]); return;
    case 0x1a5: A.shiftDouble(c, d, true, c.lo[1]); return;
    case 0x1ac: A.shiftDouble(c, d, false, s.imm[d]); return;
    case 0x1ad: A.shiftDouble(c, d, false, c.lo[1]); return;
    case 0x1af: A.imulTwo(c, d, false); return;
    case 0x1b0: case 0x1b1: A.cmpxchg(c, d); return;
    case 0x1b2: D.loadFarPointer(c, d, Seg.SS); return;
    case 0x1b4: D.loadFarPointer(c, d, Seg.FS); return;
    case 0x1b5: D.loadFarPointer(c, d, Seg.GS); return;
    case 0x1b6: D.movExtend(c, d, 0, false); return;
    case 0x1b7: D.movExtend(c, d, 1, false); return;
    case 0x1be: D.movExtend(c, d, 0, true); return;
    case 0x1bf: D.movExtend(c, d, 1, true); return;
    case 0x1b8:
      if ((s.info[d] >> Info.REP_SHIFT & 3) !== 1) c.fault(Vec.UD);
      A.bitScan(c, d, 'popcnt');
      return;
    // F3 0F BC is TZCNT only with BMI1, which CPUID does not advertise (BMI1's VEX
    // instructions are not implemented): without it the encoding runs as BSF (SDM TZCNT).
    case 0x1bc: A.bitScan(c, d, 'bsf'); return;
    case 0x1bd: A.bitScan(c, d, (s.info[d] >> Info.REP_SHIFT & 3) === 1 ? 'lzcnt' : 'bsr'); return;
    case 0x1c0: case 0x1c1: A.xadd(c, d); return;
    case 0x1c8: case 0x1c9: case 0x1ca: case 0x1cb: case 0x1cc: case 0x1cd: case 0x1ce: case 0x1cf:
      A.bswap(c, (s.info[d] >> Info.RM_SHIFT) & 15, s.info[d] & Info.OSIZE_MASK);
      return;
    default:
      if (op >= 0x140 && op <= 0x14f) D.cmov(c, d, op & 15);
      else if (op >= 0x180 && op <= 0x18f) C.jcc(c, d, op & 15);
      else if (op >= 0x190 && op <= 0x19f) D.setcc(c, d, op & 15);
      else if (isSseOp(op)) executeSse(c, d, op);
      else if (op === OP_TOO_LONG) c.fault(Vec.GP, 0); // more than 15 bytes (SDM vol. 2, 2.3.11)
      else if (op === OP_UD) c.fault(Vec.UD);
      else c.fault(Vec.UD);
  }
}

function executeGroup(c: Cpu, d: number, op: number): void {
  const s = c.store;
  const g = (op - GROUP_BASE) >> 3;
  const reg = op & 7;
  switch (g) {
    case Grp.G1_80: case Grp.G1_81: case Grp.G1_82: case Grp.G1_83:
      A.aluRmImm(c, d, reg);
      return;
    case Grp.G2_C0: case Grp.G2_C1:
      A.shiftRm(c, d, reg, s.imm[d]);
      return;
    case Grp.G2_D0: case Grp.G2_D1:
      A.shiftRm(c, d, reg, 1);
      return;
    case Grp.G2_D2: case Grp.G2_D3:
      A.shiftRm(c, d, reg, c.lo[1] & 0xff);
      return;
    case Grp.G3_F6: case Grp.G3_F7:
      switch (reg) {
        case 0: case 1: A.testRmImm(c, d); return;
        case 2: A.notRm(c, d); return;
        case 3: A.negRm(c, d); return;
        case 4: A.mulOne(c, d, false); return;
        case 5: A.mulOne(c, d, true); return;
        case 6: A.divOne(c, d, false); return;
        default: A.divOne(c, d, true); return;
      }
    case Grp.G4_FE:
      if (reg > 1) c.fault(Vec.UD);
      A.incDecRm(c, d, reg === 1);
      return;
    case Grp.G5_FF:
      switch (reg) {
        case 0: A.incDecRm(c, d, false); return;
        case 1: A.incDecRm(c, d, true); return;
        case 2: C.callIndirect(c, d); return;
        case 3: C.farIndirect(c, d, true); return;
        case 4: C.jmpIndirect(c, d); return;
        case 5: C.farIndirect(c, d, false); return;
        case 6: D.pushRm(c, d); return;
        default: c.fault(Vec.UD); return;
      }
    case Grp.G11_C6: case Grp.G11_C7:
      if (reg !== 0) c.fault(Vec.UD);
      D.movRmImm(c, d);
      return;
    case Grp.G1A_8F:
      if (reg !== 0) c.fault(Vec.UD);
      D.popRm(c, d);
      return;
    case Grp.G6_0F00: S.group6(c, d, reg); return;
    case Grp.G7_0F01: S.group7(c, d, reg); return;
    case Grp.G8_0FBA:
      if (reg < 4) c.fault(Vec.UD);
      A.bitTest(c, d, reg - 4, true);
      return;
    case Grp.G9_0FC7:
      if (reg === 1) A.cmpxchg8b16b(c, d);
      else c.fault(Vec.UD); // RDRAND/RDSEED are not advertised
      return;
    case Grp.G15_0FAE:
      group15(c, d, reg);
      return;
    case Grp.G16_0F18:
      return; // prefetch hints
    default:
      c.fault(Vec.UD);
  }
}

/** 0F AE: FXSAVE/FXRSTOR/LDMXCSR/STMXCSR; fences (mod=3) are no-ops in a sequential machine; CLFLUSH likewise. */
function group15(c: Cpu, d: number, reg: number): void {
  const mem = (c.store.info[d] & Info.MEM) !== 0;
  if (!mem) {
    if (reg >= 5) return; // LFENCE, MFENCE, SFENCE
    c.fault(Vec.UD); // RDFSBASE & co. are not advertised
  }
  switch (reg) {
    case 0: fxsave(c, d); return;
    case 1: fxrstor(c, d); return;
    case 2: ldmxcsr(c, d); return;
    case 3: stmxcsr(c, d); return;
    case 7: c.ea(d); return; // CLFLUSH: address computed (no cache to flush)
    default: c.fault(Vec.UD); // XSAVE family: not advertised
  }
}

// x86 instruction decoder: prefixes, REX, opcode maps, ModRM/SIB, displacement, immediates
// (SDM vol. 2, chapter 2), into one slot of the DecodedStore. The CPU's fetch window gives
// the bytes; the decoder never touches guest memory itself.

import { Info, Ea, DecodedStore } from './decoded.js';
import { OPCODE_FLAGS, OPCODE_GROUP, Op, Imm, GROUP_BASE, Grp } from './opcode-table.js';
import { Seg } from './constants.js';

/** Why a decode failed: not enough bytes in the window (the CPU fetches more), or #UD. */
export const enum DecodeStatus { OK = 0, NEED_MORE = 1, UD = 2 }

/** Pseudo op id for an undefined encoding: executes as #UD. */
export const OP_UD = 0x3ff;
/** Pseudo op id for an instruction longer than 15 bytes: executes as #GP(0) (SDM vol. 2, 2.3.11). */
export const OP_TOO_LONG = 0x3fe;

const MAX_INSN_LEN = 15;

export class Decoder {
  /** Bytes of the instruction window starting at the instruction (up to 16). */
  readonly window = new Uint8Array(16);
  /** How many window bytes are valid. */
  windowLen = 0;
  /** Length of the last decoded instruction. */
  length = 0;

  constructor(private readonly store: DecodedStore) {}

  /**
   * Decode the instruction at window[0] in a code segment of `codeSize` (1=16, 2=32, 3=64)
   * into `slot`. Returns a DecodeStatus. An instruction longer than 15 bytes is #GP on real
   * hardware; it is reported as UD here with length 15 and op OP_TOO_LONG, which raises #GP.
   */
  decode(slot: number, codeSize: number): DecodeStatus {
    const w = this.window;
    const avail = this.windowLen;
    const s = this.store;
    const mode64 = codeSize === 3;
    let p = 0;
    let opsizePrefix = false;
    let adsizePrefix = false;
    let seg = -1;
    let rep = 0;
    let lock = false;
    let rex = 0;
    let b = 0;

    // Prefixes (SDM vol. 2, 2.1.1). A REX prefix counts only if it comes last.
    for (;;) {
      if (p >= avail) return DecodeStatus.NEED_MORE;
      if (p >= MAX_INSN_LEN) return this.tooLong(slot);
      b = w[p];
      if (mode64 && (b & 0xf0) === 0x40) {
        rex = b;
        p++;
        continue;
      }
      let isPrefix = true;
      switch (b) {
        case 0x66: opsizePrefix = true; break;
        case 0x67: adsizePrefix = true; break;
        case 0x26: seg = Seg.ES; break;
        case 0x2e: seg = Seg.CS; break;
        case 0x36: seg = Seg.SS; break;
        case 0x3e: seg = Seg.DS; break;
        case 0x64: seg = Seg.FS; break;
        case 0x65: seg = Seg.GS; break;
        case 0xf0: lock = true; break;
        case 0xf2: rep = 2; break;
        case 0xf3: rep = 1; break;
        default: isPrefix = false;
      }
      if (!isPrefix) break;
      rex = 0; // a legacy prefix after REX cancels it
      p++;
    }
    // In 64-bit mode ES/CS/SS/DS overrides are ignored (SDM vol. 1, 3.3.7.1).
    if (mode64 && seg >= 0 && seg < Seg.FS) seg = -1;

    let opc = b;
    p++;
    if (b === 0x0f) {
      if (p >= avail) return DecodeStatus.NEED_MORE;
      const b2 = w[p++];
      if (b2 === 0x38 || b2 === 0x3a) {
        if (p >= avail) return DecodeStatus.NEED_MORE;
        opc = (b2 === 0x38 ? 0x200 : 0x300) + w[p++];
      } else {
        opc = 0x100 + b2;
      }
    }
    let flags = OPCODE_FLAGS[opc];
    if ((flags & Op.INVALID) !== 0 || (mode64 && (flags & Op.I64) !== 0)) {
      // 0x63 is ARPL outside 64-bit mode and MOVSXD inside: both valid, table says MODRM.
      return this.undefinedOp(slot, p);
    }

    // Operand size (SDM vol. 2, 2.2.1.2 and table 3-4; vol. 1, 3.6).
    const rexW = (rex & 8) !== 0;
    let osize: number;
    if ((flags & Op.BYTE) !== 0) osize = 0;
    else if (mode64) {
      if (rexW) osize = 3;
      else if ((flags & Op.F64) !== 0) osize = 3;
      else if ((flags & Op.D64) !== 0) osize = opsizePrefix ? 1 : 3;
      else osize = opsizePrefix ? 1 : 2;
    } else {
      const def32 = codeSize === 2;
      osize = def32 !== opsizePrefix ? 2 : 1;
    }
    const asize = mode64 ? (adsizePrefix ? 2 : 3) : (codeSize === 2) !== adsizePrefix ? 2 : 1;

    let op = opc;
    let reg = 0;
    let rm = 0;
    let ea: number = Ea.NONE | (Ea.NONE << Ea.INDEX_SHIFT);
    let disp = 0;
    let mem = false;
    let effSeg = seg >= 0 ? seg : Seg.DS;

    if ((flags & Op.MODRM) !== 0) {
      if (p >= avail) return DecodeStatus.NEED_MORE;
      const modrm = w[p++];
      const mod = modrm >> 6;
      reg = ((modrm >> 3) & 7) | ((rex & 4) << 1);
      const rmLow = modrm & 7;
      if ((flags & Op.GROUP) !== 0) {
        op = GROUP_BASE + OPCODE_GROUP[opc] * 8 + ((modrm >> 3) & 7);
      }
      if (mod === 3) {
        if ((flags & Op.MEMONLY) !== 0 && !isModRm3Special(op)) return this.undefinedOp(slot, p);
        rm = rmLow | ((rex & 1) << 3);
      } else {
        if ((flags & Op.REGONLY) !== 0) {
          // MOV to/from CR/DR ignore mod and always use register operands (SDM MOV—Move to/from Control Registers).
          rm = rmLow | ((rex & 1) << 3);
        } else {
          mem = true;
          if (asize === 1) {
            // 16-bit addressing (SDM vol. 2, table 2-1).
            let base: number = Ea.NONE;
            let index: number = Ea.NONE;
            switch (rmLow) {
              case 0: base = 3; index = 6; break; // [bx+si]
              case 1: base = 3; index = 7; break; // [bx+di]
              case 2: base = 5; index = 6; break; // [bp+si]
              case 3: base = 5; index = 7; break; // [bp+di]
              case 4: base = 6; break; // [si]
              case 5: base = 7; break; // [di]
              case 6: base = mod === 0 ? Ea.NONE : 5; break; // disp16 or [bp]
              case 7: base = 3; break; // [bx]
            }
            if (seg < 0 && base === 5) effSeg = Seg.SS;
            ea = base | (index << Ea.INDEX_SHIFT);
            if (mod === 1) {
              if (p >= avail) return DecodeStatus.NEED_MORE;
              disp = (w[p++] << 24) >> 24;
            } else if (mod === 2 || (mod === 0 && rmLow === 6)) {
              if (p + 2 > avail) return DecodeStatus.NEED_MORE;
              disp = (w[p] | (w[p + 1] << 8)) << 16 >> 16;
              p += 2;
            }
          } else {
            let base: number;
            let index: number = Ea.NONE;
            let scale = 0;
            if (rmLow === 4) {
              if (p >= avail) return DecodeStatus.NEED_MORE;
              const sib = w[p++];
              scale = sib >> 6;
              const idx = ((sib >> 3) & 7) | ((rex & 2) << 2);
              if (idx !== 4) index = idx; // index 100b without REX.X means none
              const sbase = sib & 7;
              if (sbase === 5 && mod === 0) base = Ea.NONE;
              else base = sbase | ((rex & 1) << 3);
            } else if (rmLow === 5 && mod === 0) {
              base = mode64 ? Ea.RIP : Ea.NONE;
            } else {
              base = rmLow | ((rex & 1) << 3);
            }
            if (seg < 0 && (base === 4 || base === 5)) effSeg = Seg.SS;
            ea = base | (index << Ea.INDEX_SHIFT) | (scale << Ea.SCALE_SHIFT);
            if (mod === 1) {
              if (p >= avail) return DecodeStatus.NEED_MORE;
              disp = (w[p++] << 24) >> 24;
            } else if (mod === 2 || base === Ea.NONE || base === Ea.RIP) {
              if (p + 4 > avail) return DecodeStatus.NEED_MORE;
              disp = w[p] | (w[p + 1] << 8) | (w[p + 2] << 16) | (w[p + 3] << 24);
              p += 4;
            }
          }
        }
      }
      // Group members with their own operand-size rules.
      if (mode64 && (flags & Op.GROUP) !== 0 && isForced64Group(op) && !rexW) osize = opsizePrefix ? 1 : 3;
    } else {
      // Opcode-embedded register (50+r, 58+r, 90+r, B0+r, B8+r, C8+r ...).
      rm = (opc & 7) | ((rex & 1) << 3);
    }

    // 8-bit register operands without REX: encodings 4-7 are AH, CH, DH, BH.
    if (rex === 0) {
      if (osize === 0 && reg >= 4 && reg < 8 && (flags & Op.MODRM) !== 0) reg += 12;
      if ((osize === 0 || isByteRegOp(op)) && rm >= 4 && rm < 8 && !mem) rm += 12;
    }

    // Immediates (SDM vol. 2, appendix A.2.2).
    let imm = 0;
    let imm2 = 0;
    let immKind = (flags >> Op.IMM_SHIFT) & 15;
    // F6/F7 /0 and /1 (TEST) carry an immediate; the other members do not.
    if ((op === GROUP_BASE + 10 * 8 || op === GROUP_BASE + 10 * 8 + 1)) immKind = Imm.IB;
    else if (op === GROUP_BASE + 11 * 8 || op === GROUP_BASE + 11 * 8 + 1) immKind = Imm.IZ;
    switch (immKind) {
      case Imm.NONE: break;
      case Imm.IB:
        if (p >= avail) return DecodeStatus.NEED_MORE;
        imm = (flags & Op.SX) !== 0 ? (w[p] << 24) >> 24 : w[p];
        p += 1;
        break;
      case Imm.IW:
        if (p + 2 > avail) return DecodeStatus.NEED_MORE;
        imm = w[p] | (w[p + 1] << 8);
        p += 2;
        break;
      case Imm.IZ:
        if (osize === 1) {
          if (p + 2 > avail) return DecodeStatus.NEED_MORE;
          imm = ((w[p] | (w[p + 1] << 8)) << 16) >> 16;
          p += 2;
        } else {
          if (p + 4 > avail) return DecodeStatus.NEED_MORE;
          imm = w[p] | (w[p + 1] << 8) | (w[p + 2] << 16) | (w[p + 3] << 24);
          p += 4;
          // A 32-bit immediate with 64-bit operand size is sign-extended.
          imm2 = imm >> 31;
        }
        break;
      case Imm.IV:
        if (osize === 1) {
          if (p + 2 > avail) return DecodeStatus.NEED_MORE;
          imm = w[p] | (w[p + 1] << 8);
          p += 2;
        } else {
          if (p + 4 > avail) return DecodeStatus.NEED_MORE;
          imm = w[p] | (w[p + 1] << 8) | (w[p + 2] << 16) | (w[p + 3] << 24);
          p += 4;
          if (osize === 3) {
            if (p + 4 > avail) return DecodeStatus.NEED_MORE;
            imm2 = w[p] | (w[p + 1] << 8) | (w[p + 2] << 16) | (w[p + 3] << 24);
            p += 4;
          }
        }
        break;
      case Imm.IW_IB:
        if (p + 3 > avail) return DecodeStatus.NEED_MORE;
        imm = w[p] | (w[p + 1] << 8);
        imm2 = w[p + 2];
        p += 3;
        break;
      case Imm.AP: {
        const n = osize === 1 ? 2 : 4;
        if (p + n + 2 > avail) return DecodeStatus.NEED_MORE;
        imm = n === 2 ? w[p] | (w[p + 1] << 8) : w[p] | (w[p + 1] << 8) | (w[p + 2] << 16) | (w[p + 3] << 24);
        p += n;
        imm2 = w[p] | (w[p + 1] << 8);
        p += 2;
        break;
      }
      case Imm.MOFFS: {
        // The offset has the address size (SDM MOV—moffs forms); 64-bit in long mode.
        const n = asize === 1 ? 2 : asize === 2 ? 4 : 8;
        if (p + n > avail) return DecodeStatus.NEED_MORE;
        if (n === 2) disp = w[p] | (w[p + 1] << 8);
        else {
          disp = w[p] | (w[p + 1] << 8) | (w[p + 2] << 16) | (w[p + 3] << 24);
          if (n === 8) imm2 = w[p + 4] | (w[p + 5] << 8) | (w[p + 6] << 16) | (w[p + 7] << 24);
        }
        p += n;
        mem = true;
        break;
      }
    }
    if (p > MAX_INSN_LEN) return this.tooLong(slot);
    // LOCK is #UD unless the instruction is one of the lockable read-modify-write forms with a
    // memory destination (SDM vol. 2, LOCK—Assert LOCK# Signal Prefix).
    if (lock && !(mem && isLockable(op))) return this.undefinedOp(slot, p);

    s.op[slot] = op;
    s.info[slot] =
      osize |
      (asize << Info.ASIZE_SHIFT) |
      (effSeg << Info.SEG_SHIFT) |
      (mem ? Info.MEM : 0) |
      (rep << Info.REP_SHIFT) |
      (lock ? Info.LOCK : 0) |
      (rex !== 0 ? Info.REX : 0) |
      (p << Info.LEN_SHIFT) |
      (reg << Info.REG_SHIFT) |
      (rm << Info.RM_SHIFT) |
      (seg >= 0 ? Info.SEGOVR : 0) |
      (opsizePrefix ? Info.OPSIZE_PREFIX : 0) |
      (rexW ? Info.REXW : 0);
    s.ea[slot] = ea;
    s.disp[slot] = disp;
    s.imm[slot] = imm;
    s.imm2[slot] = imm2;
    this.length = p;
    return DecodeStatus.OK;
  }

  private undefinedOp(slot: number, len: number): DecodeStatus {
    const s = this.store;
    s.op[slot] = OP_UD;
    s.info[slot] = Math.min(len, MAX_INSN_LEN) << Info.LEN_SHIFT;
    this.length = len;
    return DecodeStatus.UD;
  }

  private tooLong(slot: number): DecodeStatus {
    const st = this.undefinedOp(slot, MAX_INSN_LEN);
    this.store.op[slot] = OP_TOO_LONG;
    return st;
  }
}

// The instructions LOCK may prefix (SDM LOCK): ADD ADC AND BTC BTR BTS CMPXCHG CMPXCHG8B/16B
// DEC INC NEG NOT OR SBB SUB XOR XADD XCHG, in their forms with a memory destination.
function isLockable(op: number): boolean {
  if (op < 0x40) return (op & 7) < 2 && op >> 3 !== 7; // ALU r/m, reg (not CMP)
  if (op === 0x86 || op === 0x87) return true; // XCHG
  if (op === 0x1ab || op === 0x1b3 || op === 0x1bb) return true; // BTS/BTR/BTC r/m, reg
  if (op === 0x1b0 || op === 0x1b1 || op === 0x1c0 || op === 0x1c1) return true; // CMPXCHG, XADD
  if (op < GROUP_BASE) return false;
  const g = (op - GROUP_BASE) >> 3;
  const reg = op & 7;
  switch (g) {
    case Grp.G1_80: case Grp.G1_81: case Grp.G1_82: case Grp.G1_83: return reg !== 7; // not CMP
    case Grp.G3_F6: case Grp.G3_F7: return reg === 2 || reg === 3; // NOT, NEG
    case Grp.G4_FE: case Grp.G5_FF: return reg <= 1; // INC, DEC
    case Grp.G8_0FBA: return reg >= 5; // BTS/BTR/BTC r/m, imm8
    case Grp.G9_0FC7: return reg === 1; // CMPXCHG8B/16B
    default: return false;
  }
}

// 0F 01 with mod=3 encodes VMCALL, SWAPGS, RDTSCP... (SDM table A-6); the decoder lets them through.
function isModRm3Special(op: number): boolean {
  return op >= GROUP_BASE + 18 * 8 && op < GROUP_BASE + 19 * 8;
}
// FF /2 and /4 (near CALL/JMP) are 64-bit in long mode; FF /6 (PUSH) and 8F /0 (POP) default to 64.
function isForced64Group(op: number): boolean {
  const g = GROUP_BASE + 13 * 8;
  return op === g + 2 || op === g + 4 || op === g + 6 || op === GROUP_BASE + 16 * 8;
}
// SETcc, MOVZX/MOVSX from a byte register use byte encodings for rm only.
function isByteRegOp(op: number): boolean {
  return (op >= 0x190 && op <= 0x19f) || op === 0x1b6 || op === 0x1be;
}

// fast-check arbitraries for the differential test: short straight-line snippets (1-8 generated
// instructions + HLT) built by encoding instructions from opcode and operand choices.
//
// How a case is made (caseArb):
//  1. An environment: the mode (16/32/64), a pinned base register pointing into the data area and
//     an optional pinned small index register (test/differential/operands.ts keeps every memory
//     operand inside 0x20000-0x2ffff with them), RSP near 0x9000. Registers a group writes
//     implicitly (DIV's rDX:rAX, string ops' rSI/rDI/rCX...) are never pinned.
//  2. Initial GPRs biased to edge values (0, 1, -1, sign boundaries...), random status flags and DF.
//  3. 1-8 steps, each from the group under test (80%) or a filler (MOV r,imm / ALU r,r / TEST).
//     A step may be a short composite: a setup that makes the case meaningful (a known CL for a
//     shift, a known small bit offset for BT on memory, a zero or non-zero BSF source, a dividend
//     that fits for DIV, rSI/rDI/rCX for a string op) followed by the instruction under test.
//  4. The Builder (builder.ts) encodes the steps and tracks which flags and register halves are
//     architecturally undefined at the end; the comparison masks exactly those.
//
// Undefined flags follow SDM Vol.1 Appendix A (Table A-2, EFLAGS cross-reference) and each
// instruction's "Flags Affected" section in SDM Vol.2; every group below says which it uses.

import fc from 'fast-check';
import { SNIPPET_DATA_ADDR, SNIPPET_DATA_SIZE, type SnippetInput, type SnippetMode } from '../../src/machine/snippet.js';
import { SNIPPET_STACK_TOP } from '../oracle/snippet-env.js';
import { acc, AF, Builder, CF, DF, OF, part, PF, SF, STATUS, ZF, type BuiltSnippet, type Effects, type Env } from './builder.js';
import { freeReg, imm, MASK64, pickMem, pickReg, pickRM, R, regChoices, rexByte, sizesFor, value64 } from './operands.js';
import { opText, RAX, RBP, RBX, RCX, RDI, RDX, regName, RSI, RSP, reg, type Mem, type Mode, type Reg, type RM, type Size } from './x86.js';

export type Step = (b: Builder) => void;

export interface Group {
  name: string;
  /** What is generated and which flags are undefined, with the SDM reference. */
  doc: string;
  /** Registers the group's instructions write implicitly: never chosen as pinned base/index. */
  implicit: number[];
  modes?: Mode[];
  /** /proc/cpuinfo flag the group needs on the host. */
  cpuFlag?: string;
  step: (r: R, env: Env) => Step;
}

const hx = (v: number | bigint): string => {
  const n = BigInt(v);
  return n < 0n ? `-0x${(-n).toString(16)}` : `0x${n.toString(16)}`;
};
const immBytes = (size: Size): 1 | 2 | 4 => (size === 8 ? 1 : size === 16 ? 2 : 4);
const w = (size: Size, op: number): number => (size === 8 ? op : op + 1);
const isMem = (o: RM): o is Mem => o.kind === 'mem';
const mem = (...os: RM[]): boolean => os.some(isMem);

/** MOV r, imm32 (B8+r; zero-extends in 64-bit mode) or, for size 64, MOV r64, simm32 (REX.W C7 /0). */
function movImm(b: Builder, r: number, value: bigint, size: 32 | 64 = 32): void {
  if (size === 64) {
    b.emit(`mov ${regName(r, 64)}, ${hx(BigInt.asIntN(32, value))}`, { mode: b.mode, opsize: 64, opcode: [0xc7], regField: 0, rm: reg(r, 64), imm: { bytes: 4, value } },
      { writes: [{ reg: r, part: '64' }], known: [{ reg: r, value: BigInt.asUintN(64, BigInt.asIntN(32, value)) }] });
  } else {
    b.emit(`mov ${regName(r, 32)}, ${hx(BigInt.asUintN(32, value))}`, { mode: b.mode, opsize: 32, opcode: [0xb8], opreg: reg(r, 32), imm: { bytes: 4, value } },
      { writes: [{ reg: r, part: '32' }], known: [{ reg: r, value: BigInt.asUintN(32, value) }] });
  }
}

/** Lock prefix for a read-modify-write memory destination, sometimes. */
function lockFor(r: R, dst: RM, p = 0.3): number[] {
  return isMem(dst) && r.bool(p) ? [0xf0] : [];
}

// --- ALU ------------------------------------------------------------------------------------
const ALU = ['add', 'or', 'adc', 'sbb', 'and', 'sub', 'xor', 'cmp'];
function aluFx(op: number, dst: RM, src: RM | null): Effects {
  const logic = op === 1 || op === 4 || op === 6;
  return {
    reads: [...acc(dst), ...(src ? acc(src) : [])],
    writes: op === 7 ? [] : acc(dst),
    flagsRead: op === 2 || op === 3 ? CF : 0,
    // AND/OR/XOR: OF=CF=0, SF ZF PF by result, AF undefined. ADD ADC SUB SBB CMP: all six.
    flagsDef: logic ? STATUS & ~AF : STATUS,
    flagsUndef: logic ? AF : 0,
    memRead: src ? mem(dst, src) : isMem(dst),
    memWrite: op !== 7 && isMem(dst),
  };
}

const alu: Group = {
  name: 'alu',
  doc: 'ADD OR ADC SBB AND SUB XOR CMP: r/m,r; r,r/m; AL/eAX,imm; r/m,imm8/16/32 (80/81, 82 alias outside 64-bit); r/m,simm8 (83); LOCK on memory destinations. ' +
    'Flags (SDM Vol.2 ADD/ADC/SUB/SBB/CMP, AND/OR/XOR): arithmetic ops define all six; logic ops clear OF CF, define SF ZF PF, AF undefined.',
  implicit: [],
  step(r, env) {
    const op = r.int(0, 7);
    const size = r.pick(sizesFor(env.mode, [8, 16, 32, 64]));
    const rb = rexByte(r, env);
    const role = op === 7 ? 'src' : 'dst';
    const forms = ['rm,r', 'rm,r', 'r,rm', 'rm,imm', 'rm,imm'];
    if (op === 7 || !env.pinned.includes(RAX)) forms.push('acc,imm');
    if (size !== 8) forms.push('rm,simm8', 'rm,simm8');
    const form = r.pick(forms);
    const name = ALU[op]!;
    if (form === 'rm,r' || form === 'r,rm') {
      const dst = form === 'rm,r' ? pickRM(r, env, size, rb, role) : pickReg(r, env, size, rb, role);
      const src = form === 'rm,r' ? pickReg(r, env, size, rb, 'src') : pickRM(r, env, size, rb, 'src');
      const lock = form === 'rm,r' && op !== 7 ? lockFor(r, dst) : [];
      const rm = form === 'rm,r' ? dst : src;
      const rf = (form === 'rm,r' ? src : dst) as Reg;
      const forceRex = env.mode === 64 && r.bool(0.1) && !(size === 8 && !rb);
      return (b) => b.emit(`${lock.length ? 'lock ' : ''}${name} ${opText(dst)}, ${opText(src)}`,
        { mode: env.mode, prefixes: lock, opsize: size, opcode: [w(size, (op << 3) | (form === 'rm,r' ? 0 : 2))], regField: rf, rm, forceRex },
        aluFx(op, dst, src));
    }
    if (form === 'acc,imm') {
      const v = imm(r, immBytes(size));
      const dst = reg(RAX, size);
      return (b) => b.emit(`${name} ${opText(dst)}, ${hx(v)}`, { mode: env.mode, opsize: size, opcode: [w(size, (op << 3) | 4)], imm: { bytes: immBytes(size), value: v } }, aluFx(op, dst, null));
    }
    const dst = pickRM(r, env, size, rb, role);
    const lock = op !== 7 ? lockFor(r, dst) : [];
    const s8 = form === 'rm,simm8';
    const v = imm(r, s8 ? 1 : immBytes(size));
    const opcode = size === 8 ? (env.mode !== 64 && r.bool(0.2) ? 0x82 : 0x80) : s8 ? 0x83 : 0x81;
    return (b) => b.emit(`${lock.length ? 'lock ' : ''}${name} ${opText(dst)}, ${hx(v)}`,
      { mode: env.mode, prefixes: lock, opsize: size, opcode: [opcode], regField: op, rm: dst, imm: { bytes: s8 ? 1 : immBytes(size), value: v } },
      aluFx(op, dst, null));
  },
};

// --- INC DEC NEG NOT -------------------------------------------------------------------------
const unary: Group = {
  name: 'incdec-neg-not',
  doc: 'INC DEC (FE/FF /0 /1, and 40+r/48+r outside 64-bit), NEG (F6/F7 /3), NOT (F6/F7 /2), on registers and memory, LOCK on memory. ' +
    'Flags (SDM Vol.2 INC/DEC/NEG/NOT): INC/DEC define OF SF ZF AF PF and leave CF; NEG defines all six (CF = source != 0); NOT affects none. No undefined flags.',
  implicit: [],
  step(r, env) {
    const op = r.pick(['inc', 'dec', 'neg', 'not'] as const);
    const size = r.pick(sizesFor(env.mode, [8, 16, 32, 64]));
    const rb = rexByte(r, env);
    const dst = pickRM(r, env, size, rb, 'dst');
    const fx: Effects = {
      reads: acc(dst), writes: acc(dst), memRead: isMem(dst), memWrite: isMem(dst),
      flagsDef: op === 'inc' || op === 'dec' ? STATUS & ~CF : op === 'neg' ? STATUS : 0,
    };
    const lock = lockFor(r, dst);
    if ((op === 'inc' || op === 'dec') && env.mode !== 64 && dst.kind === 'reg' && size !== 8 && r.bool()) {
      return (b) => b.emit(`${op} ${opText(dst)}`, { mode: env.mode, opsize: size, opcode: [op === 'inc' ? 0x40 : 0x48], opreg: dst }, fx);
    }
    const digit = { inc: 0, dec: 1, not: 2, neg: 3 }[op];
    const opcode = op === 'inc' || op === 'dec' ? w(size, 0xfe) : w(size, 0xf6);
    return (b) => b.emit(`${lock.length ? 'lock ' : ''}${op} ${opText(dst)}`, { mode: env.mode, prefixes: lock, opsize: size, opcode: [opcode], regField: digit, rm: dst }, fx);
  },
};

// --- Shifts and rotates ------------------------------------------------------------------------
const SHIFT = ['rol', 'ror', 'rcl', 'rcr', 'shl', 'shr', '', 'sar'];
/** Flag effects of a shift/rotate by `count` (SDM Vol.2 RCL/RCR/ROL/ROR and SAL/SAR/SHL/SHR). */
export function shiftFlags(op: number, size: Size, count: number): Pick<Effects, 'flagsRead' | 'flagsDef' | 'flagsUndef'> {
  const masked = count & (size === 64 ? 0x3f : 0x1f);
  if (masked === 0) return {}; // "If the masked count is 0, the flags are not affected."
  const ofDef = masked === 1 ? OF : 0; // OF is defined only for 1-bit shifts and rotates
  const ofUndef = masked === 1 ? 0 : OF;
  if (op <= 3) {
    // Rotates touch only CF and OF; RCL/RCR read CF.
    return { flagsRead: op >= 2 ? CF : 0, flagsDef: CF | ofDef, flagsUndef: ofUndef };
  }
  // SHL/SHR: CF undefined when the count is >= the operand size; AF always undefined.
  const cfUndef = (op === 4 || op === 5) && masked >= size ? CF : 0;
  return { flagsDef: (SF | ZF | PF | CF | ofDef) & ~cfUndef, flagsUndef: AF | ofUndef | cfUndef };
}

const shift: Group = {
  name: 'shift-rotate',
  doc: 'ROL ROR RCL RCR SHL SHR SAR by 1 (D0/D1), by imm8 (C0/C1) and by CL (D2/D3, after MOV CL,imm8), counts 0, 1, width-1, width, width+1, 31-33, 63-65, 255 and random. ' +
    'Flags (SDM Vol.2 SAL/SAR/SHL/SHR, RCL/RCR/ROL/ROR): masked count 0 affects no flag; OF defined only for masked count 1; shifts: AF undefined, CF undefined for SHL/SHR when count >= width; rotates: only CF and OF.',
  implicit: [RCX],
  step(r, env) {
    const op = r.pick([0, 1, 2, 3, 4, 5, 7]);
    const size = r.pick(sizesFor(env.mode, [8, 16, 32, 64]));
    const rb = rexByte(r, env);
    const dst = pickRM(r, env, size, rb, 'dst');
    const form = r.pick(['1', 'imm', 'imm', 'cl', 'cl'] as const);
    const count = form === '1' ? 1 : r.bool(0.6) ? r.pick([0, 1, 2, size - 1, size, size + 1, 31, 32, 33, 63, 64, 65, 255]) : r.int(0, 255);
    const fx: Effects = { reads: acc(dst), writes: acc(dst), memRead: isMem(dst), memWrite: isMem(dst), ...shiftFlags(op, size, count) };
    const name = SHIFT[op]!;
    if (form === '1') {
      return (b) => b.emit(`${name} ${opText(dst)}, 1`, { mode: env.mode, opsize: size, opcode: [w(size, 0xd0)], regField: op, rm: dst }, fx);
    }
    if (form === 'imm') {
      return (b) => b.emit(`${name} ${opText(dst)}, ${count}`, { mode: env.mode, opsize: size, opcode: [w(size, 0xc0)], regField: op, rm: dst, imm: { bytes: 1, value: count } }, fx);
    }
    return (b) => {
      b.emit(`mov cl, ${count}`, { mode: env.mode, opcode: [0xb1], imm: { bytes: 1, value: count } }, { writes: [{ reg: RCX, part: 'l8' }] });
      b.emit(`${name} ${opText(dst)}, cl`, { mode: env.mode, opsize: size, opcode: [w(size, 0xd2)], regField: op, rm: dst }, fx);
    };
  },
};

// --- MUL IMUL DIV IDIV -----------------------------------------------------------------------
const muldiv: Group = {
  name: 'mul-div',
  doc: 'MUL, IMUL (one-operand F6/F7 /5, two-operand 0F AF, three-operand 6B/69), DIV, IDIV on registers and memory; DIV/IDIV after no setup (mostly #DE), ' +
    'a zeroed high half (XOR EDX,EDX / MOV AH,0), a sign-extended one (CBW/CWD/CDQ/CQO) or a zeroed divisor (#DE). ' +
    'Flags (SDM Vol.2 MUL/IMUL/DIV/IDIV): MUL/IMUL define CF OF, SF ZF AF PF undefined; DIV/IDIV leave all six undefined. #DE reports vector 0 with the state before the DIV.',
  implicit: [RAX, RDX],
  step(r, env) {
    const form = r.pick(['mul', 'imul1', 'div', 'div', 'idiv', 'idiv', 'imul2', 'imul3'] as const);
    if (form === 'imul2' || form === 'imul3') {
      const size = r.pick(sizesFor(env.mode, [16, 32, 64]));
      const dst = pickReg(r, env, size, false, 'dst');
      const src = pickRM(r, env, size, false, 'src');
      const fx: Effects = { writes: acc(dst), memRead: isMem(src), flagsDef: CF | OF, flagsUndef: SF | ZF | AF | PF };
      if (form === 'imul2') {
        return (b) => b.emit(`imul ${opText(dst)}, ${opText(src)}`, { mode: env.mode, opsize: size, opcode: [0x0f, 0xaf], regField: dst, rm: src },
          { ...fx, reads: [...acc(dst), ...acc(src)] });
      }
      const short = r.bool();
      const v = imm(r, short ? 1 : immBytes(size));
      return (b) => b.emit(`imul ${opText(dst)}, ${opText(src)}, ${hx(v)}`,
        { mode: env.mode, opsize: size, opcode: [short ? 0x6b : 0x69], regField: dst, rm: src, imm: { bytes: short ? 1 : immBytes(size), value: v } },
        { ...fx, reads: acc(src) });
    }
    const size = r.pick(sizesFor(env.mode, [8, 16, 32, 64]));
    const rb = rexByte(r, env);
    const src = pickRM(r, env, size, rb, 'src');
    const digit = { mul: 4, imul1: 5, div: 6, idiv: 7 }[form];
    const name = form === 'imul1' ? 'imul' : form;
    const isDiv = form === 'div' || form === 'idiv';
    const p = part(size);
    const fx: Effects = {
      reads: [...acc(src), ...(size === 8 ? [{ reg: RAX, part: isDiv ? '16' : 'l8' } as const] : [{ reg: RAX, part: p }, ...(isDiv ? [{ reg: RDX, part: p }] : [])])],
      writes: size === 8 ? [{ reg: RAX, part: '16' }] : [{ reg: RAX, part: p }, { reg: RDX, part: p }],
      memRead: isMem(src),
      flagsDef: isDiv ? 0 : CF | OF,
      flagsUndef: isDiv ? STATUS : SF | ZF | AF | PF,
      fault: isDiv ? 0 : undefined,
    };
    const setups = ['none'];
    if (isDiv) setups.push('zext', 'zext', 'sext', 'sext');
    if (isDiv && src.kind === 'reg' && !env.pinned.includes(src.reg)) setups.push('zerodiv');
    const setup = r.pick(setups);
    return (b) => {
      if (setup === 'zext') {
        if (size === 8) b.emit('mov ah, 0', { mode: env.mode, opcode: [0xb4], imm: { bytes: 1, value: 0 } }, { writes: [{ reg: RAX, part: 'h8' }] });
        else {
          const s = size === 16 ? 16 : 32;
          b.emit(`xor ${regName(RDX, s)}, ${regName(RDX, s)}`, { mode: env.mode, opsize: s, opcode: [0x31], regField: reg(RDX, s), rm: reg(RDX, s) },
            { writes: [{ reg: RDX, part: part(s) }], flagsDef: STATUS & ~AF, flagsUndef: AF });
        }
      } else if (setup === 'sext') {
        const n = { 8: 'cbw', 16: 'cwd', 32: 'cdq', 64: 'cqo' }[size];
        b.emit(n, { mode: env.mode, opsize: size === 8 ? 16 : size, opcode: [size === 8 ? 0x98 : 0x99] },
          size === 8 ? { reads: [{ reg: RAX, part: 'l8' }], writes: [{ reg: RAX, part: '16' }] } : { reads: [{ reg: RAX, part: p }], writes: [{ reg: RDX, part: p }] });
      } else if (setup === 'zerodiv' && src.kind === 'reg') {
        b.emit(`xor ${opText(src)}, ${opText(src)}`, { mode: env.mode, opsize: size, opcode: [w(size, 0x30)], regField: src, rm: src },
          { writes: acc(src), flagsDef: STATUS & ~AF, flagsUndef: AF });
      }
      b.emit(`${name} ${opText(src)}`, { mode: env.mode, opsize: size, opcode: [w(size, 0xf6)], regField: digit, rm: src }, fx);
    };
  },
};

// --- BT BTS BTR BTC -------------------------------------------------------------------------
const bit: Group = {
  name: 'bt-bts-btr-btc',
  doc: 'BT BTS BTR BTC r/m,r (0F A3/AB/B3/BB) and r/m,imm8 (0F BA /4-7), 16/32/64-bit; on memory with a register offset, the offset register is first set to a small signed value ' +
    '(the bit string may extend below or above the operand). LOCK on memory. Flags (SDM Vol.2 BT/BTS/BTR/BTC): CF = the bit; ZF unaffected; OF SF AF PF undefined.',
  implicit: [],
  step(r, env) {
    const op = r.int(4, 7);
    const name = ['bt', 'bts', 'btr', 'btc'][op - 4]!;
    const size = r.pick(sizesFor(env.mode, [16, 32, 64]));
    const dst = pickRM(r, env, size, false, op === 4 ? 'src' : 'dst');
    const lock = op !== 4 ? lockFor(r, dst) : [];
    const base: Effects = { reads: acc(dst), writes: op === 4 ? [] : acc(dst), memRead: isMem(dst), memWrite: op !== 4 && isMem(dst), flagsDef: CF, flagsUndef: OF | SF | AF | PF };
    if (r.bool(0.4)) {
      const v = r.int(0, 255);
      return (b) => b.emit(`${lock.length ? 'lock ' : ''}${name} ${opText(dst)}, ${v}`,
        { mode: env.mode, prefixes: lock, opsize: size, opcode: [0x0f, 0xba], regField: op, rm: dst, imm: { bytes: 1, value: v } }, base);
    }
    const opcode = [0x0f, [0xa3, 0xab, 0xb3, 0xbb][op - 4]!];
    if (dst.kind === 'reg') {
      const off = pickReg(r, env, size, false, 'src');
      return (b) => b.emit(`${name} ${opText(dst)}, ${opText(off)}`, { mode: env.mode, opsize: size, opcode, regField: off, rm: dst },
        { ...base, reads: [...acc(dst), ...acc(off)] });
    }
    const off = freeReg(r, env, size);
    const mag = r.int(0, 160);
    const neg = r.bool();
    return (b) => {
      // The operand addressed is EA + (offset SAR log2(size)) * size/8 (SDM Vol.2 BT, Table 3-2):
      // point the offset away from the nearer end of the data area.
      const lin = b.linear(dst);
      const v = neg && lin - SNIPPET_DATA_ADDR >= 32 ? -mag : SNIPPET_DATA_ADDR + SNIPPET_DATA_SIZE - lin >= 32 + size / 8 ? mag : -mag;
      const disp = Math.floor(v / size) * (size / 8);
      movImm(b, off.reg, BigInt(v), size === 64 ? 64 : 32);
      b.emit(`${lock.length ? 'lock ' : ''}${name} ${opText(dst)}, ${opText(off)}  ; bit ${v}: operand at ${disp >= 0 ? '+' : ''}${disp}`,
        { mode: env.mode, prefixes: lock, opsize: size, opcode, regField: off, rm: dst },
        { ...base, reads: acc(off), memDisp: disp });
    };
  },
};

// --- BSF BSR (and the F3-prefixed LZCNT TZCNT POPCNT) ------------------------------------------
function scanGroup(name: 'bsf-bsr' | 'popcnt' | 'lzcnt' | 'tzcnt'): Group {
  const docs = {
    'bsf-bsr': 'BSF BSR r,r/m (0F BC/BD) 16/32/64-bit; register sources are sometimes zeroed (XOR) or made non-zero (OR imm8) first. ' +
      'Flags (SDM Vol.2 BSF/BSR): ZF = (source == 0); CF OF SF AF PF undefined; the destination is undefined for a zero source (compared only when the source is known non-zero).',
    popcnt: 'POPCNT r,r/m (F3 0F B8). Flags (SDM Vol.2 POPCNT): OF SF AF CF PF cleared, ZF = (source == 0); none undefined.',
    lzcnt: 'LZCNT r,r/m (F3 0F BD). Flags (SDM Vol.2 LZCNT): CF = (source == 0), ZF = (result == 0); OF SF PF AF undefined.',
    tzcnt: 'TZCNT r,r/m (F3 0F BC). Flags (SDM Vol.2 TZCNT): CF = (source == 0), ZF = (result == 0); OF SF PF AF undefined.',
  };
  const cpuFlag = { 'bsf-bsr': undefined, popcnt: 'popcnt', lzcnt: 'abm', tzcnt: 'bmi1' }[name];
  return {
    name, doc: docs[name], implicit: [], cpuFlag,
    step(r, env) {
      const which = name === 'bsf-bsr' ? r.pick(['bsf', 'bsr'] as const) : name;
      const size = r.pick(sizesFor(env.mode, [16, 32, 64]));
      const dst = pickReg(r, env, size, false, 'dst');
      const src = pickRM(r, env, size, false, 'src');
      const setup = src.kind === 'reg' && !env.pinned.includes(src.reg) ? r.pick(['zero', 'nonzero', 'none', 'none']) : 'none';
      const orImm = r.pick([1, 2, 0x40, -128, -1, 0x10]);
      const opcode = [0x0f, { bsf: 0xbc, bsr: 0xbd, popcnt: 0xb8, lzcnt: 0xbd, tzcnt: 0xbc }[which]];
      const prefixes = which.startsWith('bs') ? [] : [0xf3];
      return (b) => {
        if (setup === 'zero') {
          b.emit(`xor ${opText(src)}, ${opText(src)}`, { mode: env.mode, opsize: size, opcode: [0x31], regField: src as Reg, rm: src }, { writes: acc(src), flagsDef: STATUS & ~AF, flagsUndef: AF });
        } else if (setup === 'nonzero') {
          b.emit(`or ${opText(src)}, ${hx(orImm)}`, { mode: env.mode, opsize: size, opcode: [0x83], regField: 1, rm: src, imm: { bytes: 1, value: orImm } },
            { reads: acc(src), writes: acc(src), flagsDef: STATUS & ~AF, flagsUndef: AF });
        }
        const known = setup === 'zero' ? 0n : setup === 'nonzero' ? 1n : b.knownOperand(src);
        const fx: Effects = { reads: [...acc(src), ...acc(dst)], writes: acc(dst), memRead: isMem(src) };
        if (which === 'bsf' || which === 'bsr') Object.assign(fx, { flagsDef: ZF, flagsUndef: CF | OF | SF | AF | PF, undefinedResult: known === null || known === 0n });
        else if (which === 'popcnt') Object.assign(fx, { flagsDef: STATUS });
        else Object.assign(fx, { flagsDef: CF | ZF, flagsUndef: OF | SF | PF | AF });
        b.emit(`${which} ${opText(dst)}, ${opText(src)}`, { mode: env.mode, prefixes, opsize: size, opcode, regField: dst, rm: src }, fx);
      };
    },
  };
}

// --- BSWAP ---------------------------------------------------------------------------------
const bswap: Group = {
  name: 'bswap',
  doc: 'BSWAP r32/r64 (0F C8+r; with 66h in real mode for the 32-bit form). The 16-bit form is undefined (SDM Vol.2 BSWAP) and not generated. No flags affected.',
  implicit: [],
  step(r, env) {
    const size = r.pick(sizesFor(env.mode, [32, 64]));
    const dst = pickReg(r, env, size, false, 'dst');
    return (b) => b.emit(`bswap ${opText(dst)}`, { mode: env.mode, opsize: size, opcode: [0x0f, 0xc8], opreg: dst }, { reads: acc(dst), writes: acc(dst) });
  },
};

// --- XCHG XADD CMPXCHG -----------------------------------------------------------------------
const xchg: Group = {
  name: 'xchg-xadd-cmpxchg',
  doc: 'XCHG r/m,r (86/87) and rAX,r (90+r; 90 itself is NOP), XADD (0F C0/C1), CMPXCHG (0F B0/B1), sometimes after MOV rAX,dest so the compare succeeds; LOCK on memory. ' +
    'Flags (SDM Vol.2 XADD, CMPXCHG): XADD as ADD, CMPXCHG as CMP (all six defined); XCHG none. A 32-bit CMPXCHG register destination in 64-bit mode has bits 63:32 ' +
    'masked when the compare fails (whether the written-back destination is zero-extended is implementation-specific).',
  implicit: [RAX],
  step(r, env) {
    const form = r.pick(['xchg', 'xchg', 'xchgacc', 'xadd', 'cmpxchg', 'cmpxchg'] as const);
    const size = r.pick(sizesFor(env.mode, form === 'xchgacc' ? [16, 32, 64] : [8, 16, 32, 64]));
    const rb = rexByte(r, env);
    if (form === 'xchgacc') {
      const other = pickReg(r, env, size, false, 'dst');
      if (other.reg === RAX) {
        return (b) => b.emit(`nop  ; 90 = xchg ${regName(RAX, size)}, ${regName(RAX, size)} without effect`, { mode: env.mode, opsize: size, opcode: [0x90] }, {});
      }
      const a = reg(RAX, size);
      return (b) => b.emit(`xchg ${opText(a)}, ${opText(other)}`, { mode: env.mode, opsize: size, opcode: [0x90], opreg: other }, { reads: [...acc(a), ...acc(other)], writes: [...acc(a), ...acc(other)] });
    }
    const dst = pickRM(r, env, size, rb, 'dst');
    const src = pickReg(r, env, size, rb, form === 'cmpxchg' ? 'src' : 'dst');
    const lock = lockFor(r, dst, form === 'xchg' ? 0.2 : 0.4);
    const pre = lock.length ? 'lock ' : '';
    if (form === 'xchg') {
      return (b) => b.emit(`${pre}xchg ${opText(dst)}, ${opText(src)}`, { mode: env.mode, prefixes: lock, opsize: size, opcode: [w(size, 0x86)], regField: src, rm: dst },
        { reads: [...acc(dst), ...acc(src)], writes: [...acc(dst), ...acc(src)], memRead: isMem(dst), memWrite: isMem(dst) });
    }
    if (form === 'xadd') {
      return (b) => b.emit(`${pre}xadd ${opText(dst)}, ${opText(src)}`, { mode: env.mode, prefixes: lock, opsize: size, opcode: [0x0f, w(size, 0xc0)], regField: src, rm: dst },
        { reads: [...acc(dst), ...acc(src)], writes: [...acc(dst), ...acc(src)], memRead: isMem(dst), memWrite: isMem(dst), flagsDef: STATUS });
    }
    const a = reg(RAX, size);
    const match = r.bool(0.4);
    return (b) => {
      if (match) {
        b.emit(`mov ${opText(a)}, ${opText(dst)}`, { mode: env.mode, opsize: size, opcode: [w(size, 0x8a)], regField: a, rm: dst },
          { reads: acc(dst), writes: acc(a), memRead: isMem(dst) });
      }
      const ka = b.knownOperand(a);
      const kd = b.knownOperand(dst);
      const equal = match || (dst.kind === 'reg' && dst.reg === RAX && !dst.high8) ? true : ka !== null && kd !== null ? ka === kd : null;
      const fx: Effects = {
        reads: [...acc(a), ...acc(dst), ...acc(src)], writes: [...acc(dst), ...acc(a)], memRead: isMem(dst), memWrite: isMem(dst), flagsDef: STATUS,
        undefinedHigh: env.mode === 64 && size === 32 && dst.kind === 'reg' && equal !== true ? [dst.reg] : [],
      };
      b.emit(`${pre}cmpxchg ${opText(dst)}, ${opText(src)}`, { mode: env.mode, prefixes: lock, opsize: size, opcode: [0x0f, w(size, 0xb0)], regField: src, rm: dst }, fx);
    };
  },
};

// --- MOV MOVZX MOVSX MOVSXD -----------------------------------------------------------------
const movx: Group = {
  name: 'mov-movzx-movsx',
  doc: 'MOV (88/89/8A/8B, B0+r/B8+r including the 64-bit immediate, C6/C7), MOVZX/MOVSX r,r/m8 and r,r/m16 (0F B6/B7/BE/BF), MOVSXD r64,r/m32 (REX.W 63). No flags affected (SDM Vol.2 MOV/MOVZX/MOVSX).',
  implicit: [],
  step(r, env) {
    const form = r.pick(['movzx', 'movsx', 'movsx', 'movzx', 'movsxd', 'mov-rm-r', 'mov-r-rm', 'mov-r-imm', 'mov-rm-imm'] as const);
    if (form === 'movzx' || form === 'movsx' || (form === 'movsxd' && env.mode === 64)) {
      const srcSize: Size = form === 'movsxd' ? 32 : r.pick([8, 16] as const);
      const rb = srcSize === 8 ? rexByte(r, env) : env.mode === 64;
      const dsizes = sizesFor(env.mode, form === 'movsxd' ? [64] : srcSize === 8 ? [16, 32, 64] : [32, 64]).filter((s) => rb || s !== 64);
      const dsize = r.pick(dsizes);
      const dst = rb ? pickReg(r, env, dsize, true, 'dst') : r.pick(regChoices(env, dsize, false, 'dst').filter((x) => x.reg < 8));
      const src = pickRM(r, env, srcSize, rb, 'src');
      const opcode = form === 'movsxd' ? [0x63] : [0x0f, (form === 'movzx' ? 0xb6 : 0xbe) | (srcSize === 16 ? 1 : 0)];
      return (b) => b.emit(`${form} ${opText(dst)}, ${opText(src)}`, { mode: env.mode, opsize: dsize, opcode, regField: dst, rm: src },
        { reads: acc(src), writes: acc(dst), memRead: isMem(src) });
    }
    const size = r.pick(sizesFor(env.mode, [8, 16, 32, 64]));
    const rb = rexByte(r, env);
    if (form === 'mov-r-imm') {
      const dst = pickReg(r, env, size, rb, 'dst');
      const v = size === 64 ? value64(r) : BigInt(imm(r, immBytes(size)));
      return (b) => b.emit(`mov ${opText(dst)}, ${hx(v)}`, { mode: env.mode, opsize: size, opcode: [size === 8 ? 0xb0 : 0xb8], opreg: dst, imm: { bytes: size === 64 ? 8 : immBytes(size), value: v } },
        { writes: acc(dst) });
    }
    if (form === 'mov-rm-imm') {
      const dst = pickRM(r, env, size, rb, 'dst', 0.5);
      const v = imm(r, immBytes(size));
      return (b) => b.emit(`mov ${opText(dst)}, ${hx(v)}`, { mode: env.mode, opsize: size, opcode: [w(size, 0xc6)], regField: 0, rm: dst, imm: { bytes: immBytes(size), value: v } },
        { writes: acc(dst), memWrite: isMem(dst) });
    }
    const toRm = form === 'mov-rm-r';
    const rm = pickRM(r, env, size, rb, toRm ? 'dst' : 'src', 0.5);
    const rg = pickReg(r, env, size, rb, toRm ? 'src' : 'dst');
    return (b) => b.emit(`mov ${toRm ? opText(rm) : opText(rg)}, ${toRm ? opText(rg) : opText(rm)}`,
      { mode: env.mode, opsize: size, opcode: [w(size, toRm ? 0x88 : 0x8a)], regField: rg, rm },
      { reads: acc(toRm ? rg : rm), writes: acc(toRm ? rm : rg), memRead: !toRm && isMem(rm), memWrite: toRm && isMem(rm) });
  },
};

// --- CMOVcc SETcc ------------------------------------------------------------------------------
const CC = ['o', 'no', 'b', 'ae', 'e', 'ne', 'be', 'a', 's', 'ns', 'p', 'np', 'l', 'ge', 'le', 'g'];
/** Flags each condition reads (SDM Vol.1 Appendix B, Table B-1). */
export const CC_FLAGS = [OF, OF, CF, CF, ZF, ZF, CF | ZF, CF | ZF, SF, SF, PF, PF, SF | OF, SF | OF, ZF | SF | OF, ZF | SF | OF];

const cmovSetcc: Group = {
  name: 'cmovcc-setcc',
  doc: 'CMOVcc r,r/m (0F 40+cc; a 32-bit CMOVcc in 64-bit mode zero-extends even when the condition is false) and SETcc r/m8 (0F 90+cc), all 16 conditions, ' +
    'often after an ALU filler. No flags written; the flags read per condition (SDM Vol.1 Appendix B) are made defined first.',
  implicit: [],
  step(r, env) {
    const cc = r.int(0, 15);
    if (r.bool()) {
      const size = r.pick(sizesFor(env.mode, [16, 32, 64]));
      const dst = pickReg(r, env, size, false, 'dst');
      const src = pickRM(r, env, size, false, 'src');
      return (b) => b.emit(`cmov${CC[cc]} ${opText(dst)}, ${opText(src)}`, { mode: env.mode, opsize: size, opcode: [0x0f, 0x40 | cc], regField: dst, rm: src },
        { reads: [...acc(dst), ...acc(src)], writes: acc(dst), memRead: isMem(src), flagsRead: CC_FLAGS[cc] });
    }
    const rb = rexByte(r, env);
    const dst = pickRM(r, env, 8, rb, 'dst');
    return (b) => b.emit(`set${CC[cc]} ${opText(dst)}`, { mode: env.mode, opcode: [0x0f, 0x90 | cc], regField: 0, rm: dst },
      { writes: acc(dst), memWrite: isMem(dst), flagsRead: CC_FLAGS[cc] });
  },
};

// --- LEA ---------------------------------------------------------------------------------------
const lea: Group = {
  name: 'lea',
  doc: 'LEA r16/32/64 with every addressing form: any base (including rSP, rBP, r13 and RIP), any index but rSP, scales 1-8, no/8/16/32-bit displacements, ' +
    'and the other address size (67h: 16-bit forms in 32-bit mode, 32-bit in 16- and 64-bit mode); memory is not accessed. No flags affected.',
  implicit: [],
  step(r, env) {
    const size = r.pick(sizesFor(env.mode, [16, 32, 64]));
    const dst = pickReg(r, env, size, false, 'dst');
    const asize = env.mode === 16 ? r.pick([16, 16, 32] as const) : env.mode === 32 ? r.pick([32, 32, 16] as const) : r.pick([64, 64, 32] as const);
    const disp = (max: number) => r.pick([0, 1, -1, r.int(-128, 127), r.int(-max, max - 1)]);
    let m: Mem;
    if (asize === 16) {
      const base = r.pick([RBX, 5 /* bp */, null]);
      const index = r.pick([RSI, RDI, null]);
      const db = r.pick([0, 1, 2] as const);
      m = { kind: 'mem', size, addr: { asize, base, index, scale: 1, disp: base === null && index === null ? r.int(0, 0xffff) : db === 0 ? 0 : db === 1 ? r.int(-128, 127) : disp(0x8000), dispBytes: db } };
    } else if (env.mode === 64 && r.bool(0.15)) {
      m = { kind: 'mem', size, addr: { asize, base: 'rip', index: null, scale: 1, disp: r.int(0, 0x7fffffff), dispBytes: 4 } };
    } else {
      const base = r.bool(0.9) ? r.int(0, env.nregs - 1) : null;
      const index = r.bool(0.6) ? r.pick(Array.from({ length: env.nregs }, (_, i) => i).filter((i) => i !== RSP)) : null;
      const db = r.pick([0, 1, 4] as const);
      m = { kind: 'mem', size, addr: { asize, base, index, scale: r.pick([1, 2, 4, 8] as const), disp: db === 0 ? 0 : db === 1 ? r.int(-128, 127) : disp(0x80000000), dispBytes: db } };
    }
    const ap = part(asize === 16 ? 16 : asize === 32 ? 32 : 64);
    const a = m.addr;
    const reads = [a.base, a.index].filter((x): x is number => typeof x === 'number').map((x) => ({ reg: x, part: ap }));
    return (b) => b.emit(`lea ${opText(dst)}, ${opText(m).replace(/^\w+ /, '')}`, { mode: env.mode, opsize: size, opcode: [0x8d], regField: dst, rm: m },
      { reads, writes: acc(dst), noMemAccess: true });
  },
};

// --- CBW CWDE CDQE CWD CDQ CQO ---------------------------------------------------------------
const convert: Group = {
  name: 'cbw-cwd',
  doc: 'CBW/CWDE/CDQE (98) and CWD/CDQ/CQO (99) at every operand size. No flags affected (SDM Vol.2 CBW/CWDE/CDQE, CWD/CDQ/CQO).',
  implicit: [RAX, RDX],
  step(r, env) {
    const size = r.pick(sizesFor(env.mode, [16, 32, 64])) as 16 | 32 | 64;
    if (r.bool()) {
      const n = { 16: 'cbw', 32: 'cwde', 64: 'cdqe' }[size];
      return (b) => b.emit(n, { mode: env.mode, opsize: size, opcode: [0x98] }, { reads: [{ reg: RAX, part: part((size / 2) as Size) }], writes: [{ reg: RAX, part: part(size) }] });
    }
    const n = { 16: 'cwd', 32: 'cdq', 64: 'cqo' }[size];
    return (b) => b.emit(n, { mode: env.mode, opsize: size, opcode: [0x99] }, { reads: [{ reg: RAX, part: part(size) }], writes: [{ reg: RDX, part: part(size) }] });
  },
};

// --- PUSH POP PUSHF --------------------------------------------------------------------------
const stack: Group = {
  name: 'push-pop',
  doc: 'PUSH r (50+r, rSP included), imm8 (6A), imm16/32 (68), r/m (FF /6), PUSHF (9C); POP r (58+r), r/m (8F /0); 1-3 pushes then as many pops of the same sizes ' +
    '(16/32-bit outside long mode, 64/16-bit in it). No flags written; PUSHF reads them all (made defined first).',
  implicit: [],
  step(r, env) {
    const sizes: Size[] = env.mode === 64 ? [64, 64, 16] : [16, 32];
    const n = r.int(1, 3);
    const plan = Array.from({ length: n }, () => {
      const size = r.pick(sizes);
      const push = r.pick(['reg', 'reg', 'imm8', 'imm', 'mem', 'flags'] as const);
      const pop = r.pick(['reg', 'reg', 'mem'] as const);
      return {
        size, push, pop,
        src: push === 'reg' ? pickReg(r, env, size, false, 'src') : push === 'mem' ? pickMem(r, env, size) : null,
        v: imm(r, push === 'imm8' ? 1 : size === 16 ? 2 : 4),
        dst: pop === 'reg' ? pickReg(r, env, size, false, 'dst') : pickMem(r, env, size),
      };
    });
    return (b) => {
      for (const p of plan) {
        const e = { mode: env.mode, opsize: p.size, default64: true } as const;
        if (p.push === 'reg') b.emit(`push ${opText(p.src!)}`, { ...e, opcode: [0x50], opreg: p.src as Reg }, { reads: acc(p.src!), memWrite: true, movesStack: true });
        else if (p.push === 'mem') b.emit(`push ${opText(p.src!)}`, { ...e, opcode: [0xff], regField: 6, rm: p.src! }, { memRead: true, memWrite: true, movesStack: true });
        else if (p.push === 'flags') b.emit(p.size === 16 ? 'pushf' : env.mode === 64 ? 'pushfq' : 'pushfd', { ...e, opcode: [0x9c] }, { flagsRead: STATUS | DF, memWrite: true, movesStack: true });
        else {
          const bytes = p.push === 'imm8' ? 1 : p.size === 16 ? 2 : 4;
          b.emit(`push ${hx(p.v)}`, { ...e, opcode: [p.push === 'imm8' ? 0x6a : 0x68], imm: { bytes, value: p.v } }, { memWrite: true, movesStack: true });
        }
      }
      for (const p of [...plan].reverse()) {
        const e = { mode: env.mode, opsize: p.size, default64: true } as const;
        if (p.dst.kind === 'reg') b.emit(`pop ${opText(p.dst)}`, { ...e, opcode: [0x58], opreg: p.dst }, { writes: acc(p.dst), memRead: true, movesStack: true });
        else b.emit(`pop ${opText(p.dst)}`, { ...e, opcode: [0x8f], regField: 0, rm: p.dst }, { memRead: true, memWrite: true, movesStack: true });
      }
    };
  },
};

// --- LAHF SAHF CLC STC CMC CLD STD -----------------------------------------------------------
const flagOps: Group = {
  name: 'flags',
  doc: 'LAHF SAHF CLC STC CMC CLD STD (LAHF/SAHF in 64-bit mode need CPUID.80000001H:ECX.LAHF-SAHF). SAHF defines SF ZF AF PF CF from AH; CMC reads CF; ' +
    'LAHF reads SF ZF AF PF CF (SDM Vol.2 LAHF/SAHF/CMC). Mixed with ALU fillers so the flags vary.',
  implicit: [RAX],
  cpuFlag: undefined,
  step(r, env) {
    const op = r.pick(['lahf', 'sahf', 'sahf', 'clc', 'stc', 'cmc', 'cmc', 'cld', 'std'] as const);
    const fx: Record<typeof op, [number, Effects]> = {
      lahf: [0x9f, { flagsRead: SF | ZF | AF | PF | CF, writes: [{ reg: RAX, part: 'h8' }] }],
      sahf: [0x9e, { reads: [{ reg: RAX, part: 'h8' }], flagsDef: SF | ZF | AF | PF | CF }],
      clc: [0xf8, { flagsDef: CF }],
      stc: [0xf9, { flagsDef: CF }],
      cmc: [0xf5, { flagsRead: CF, flagsDef: CF }],
      cld: [0xfc, { df: 0 }],
      std: [0xfd, { df: 1 }],
    };
    const [opcode, e] = fx[op];
    return (b) => b.emit(op, { mode: env.mode, opcode: [opcode] }, e);
  },
};

// --- String instructions --------------------------------------------------------------------
const STR: Record<string, number> = { movs: 0xa4, cmps: 0xa6, stos: 0xaa, lods: 0xac, scas: 0xae };
const string: Group = {
  name: 'string',
  doc: 'MOVS CMPS STOS LODS SCAS at 8/16/32/64 bits, without prefix, with REP/REPE (F3) and REPNE (F2, CMPS/SCAS only), counts 0-8, DF cleared, set or left as it was, ' +
    'both address sizes (67h), an ES override on the source sometimes; rSI/rDI/rCX are set first so every access stays in the data area. ' +
    'Flags (SDM Vol.2 CMPS/SCAS): as CMP of the last iteration, unaffected when a REP count is 0; MOVS STOS LODS affect none.',
  implicit: [RAX, RCX, RSI, RDI],
  step(r, env) {
    const op = r.pick(['movs', 'cmps', 'stos', 'lods', 'scas'] as const);
    const size = r.pick(sizesFor(env.mode, [8, 16, 32, 64]));
    const asize = env.mode === 16 ? r.pick([16, 16, 32] as const) : env.mode === 32 ? 32 : r.pick([64, 64, 32] as const);
    const rep = r.pick(op === 'cmps' || op === 'scas' ? [null, 0xf3, 0xf2] : [null, 0xf3, 0xf3]);
    const count = r.int(0, 8);
    const df = r.pick(['cld', 'std', 'keep'] as const);
    const lo = env.mode === 16 ? 0x1000 : 0x21000;
    const si = r.int(lo, lo + 0xe000);
    const di = r.int(lo, lo + 0xe000);
    const seg = (op === 'movs' || op === 'cmps' || op === 'lods') && r.bool(0.2) ? [0x26] : [];
    const useSi = op === 'movs' || op === 'cmps' || op === 'lods';
    const useDi = op !== 'lods';
    const ap = part(asize);
    return (b) => {
      if (df !== 'keep') b.emit(df, { mode: env.mode, opcode: [df === 'cld' ? 0xfc : 0xfd] }, { df: df === 'cld' ? 0 : 1 });
      if (useSi) movImm(b, RSI, BigInt(si));
      if (useDi) movImm(b, RDI, BigInt(di));
      if (rep !== null) movImm(b, RCX, BigInt(count));
      const idx = [...(useSi ? [RSI] : []), ...(useDi ? [RDI] : []), ...(rep !== null ? [RCX] : [])].map((x) => ({ reg: x, part: ap }));
      const a = { reg: RAX, part: part(size) };
      const cmp = op === 'cmps' || op === 'scas';
      const fx: Effects = {
        reads: [...idx, ...(op === 'stos' || op === 'scas' ? [a] : [])],
        writes: [...idx, ...(op === 'lods' ? [a] : [])],
        memRead: op !== 'stos', memWrite: op === 'movs' || op === 'stos',
        flagsDef: cmp && (rep === null || count > 0) ? STATUS : 0,
      };
      const sfx = { 8: 'b', 16: 'w', 32: 'd', 64: 'q' }[size];
      const p = rep === null ? '' : rep === 0xf2 ? 'repne ' : cmp ? 'repe ' : 'rep ';
      b.emit(`${p}${seg.length ? 'es ' : ''}${op}${sfx} (a${asize}, count ${rep === null ? '-' : count}, DF=${b.dfValue})`,
        { mode: env.mode, prefixes: [...(rep === null ? [] : [rep]), ...seg, ...(asize !== (env.mode === 16 ? 16 : env.mode) ? [0x67] : [])], opsize: size, opcode: [w(size, STR[op]!)] }, fx);
    };
  },
};

// --- Exceptions ------------------------------------------------------------------------------
const exceptions: Group = {
  name: 'exceptions',
  doc: 'One instruction that may raise an exception, among ALU fillers: UD2 (#UD), INT3 (#BP, a trap), INTO after ADD 0x7fffffff+1 or with the initial OF (#OF trap; #UD in 64-bit mode), ' +
    'real mode: a word/dword access crossing DS limit 0xffff (#GP) or SS limit via [bp] (#SS); 32-bit: a write through a CS override (#GP); 64-bit: an access at or across 2 MiB, ' +
    'outside the identity map (#PF), and through a non-canonical address (#GP, or #SS with rBP as base). Faults report the state before the instruction, traps the state after it (SDM Vol.3 6.5, 6.15).',
  implicit: [RAX],
  step(r, env) {
    const kinds: string[] = ['ud2', 'int3', 'into', 'into-of'];
    if (env.mode === 16) kinds.push('gp-limit', 'ss-limit');
    if (env.mode === 32) kinds.push('gp-cs-write');
    if (env.mode === 64) kinds.push('pf', 'pf', 'gp-canonical');
    const kind = r.pick(kinds);
    const t = freeReg(r, env, 32, [], Math.min(env.nregs, 8));
    const size = r.pick(env.mode === 16 ? ([16, 32] as const) : ([32, 16] as const));
    const k = r.int(-3, 16);
    return (b) => {
      const m = env.mode;
      switch (kind) {
        case 'ud2':
          return b.emit('ud2', { mode: m, opcode: [0x0f, 0x0b] }, { fault: 6 });
        case 'int3':
          return b.emit('int3', { mode: m, opcode: [0xcc] }, { fault: 3 });
        case 'into-of':
          movImm(b, t.reg, 0x7fffffffn);
          b.emit(`add ${opText(t)}, 1`, { mode: m, opsize: 32, opcode: [0x83], regField: 0, rm: t, imm: { bytes: 1, value: 1 } },
            { reads: acc(t), writes: acc(t), flagsDef: STATUS });
        // falls through
        case 'into':
          return b.emit('into', { mode: m, opcode: [0xce] }, { flagsRead: OF, fault: m === 64 ? 6 : 4 });
        case 'gp-limit': {
          const src: Mem = { kind: 'mem', size, addr: { asize: 16, base: null, index: null, scale: 1, disp: 0x10000 - r.int(1, size / 8 - 1), dispBytes: 2 } };
          return b.emit(`mov ${opText(reg(t.reg, size))}, ${opText(src)}  ; crosses the DS limit`, { mode: m, opsize: size, opcode: [0x8b], regField: reg(t.reg, size), rm: src },
            { writes: acc(reg(t.reg, size)), memRead: true, fault: 13 });
        }
        case 'ss-limit': {
          movImm(b, 5, 0xffffn); // bp
          const src: Mem = { kind: 'mem', size, addr: { asize: 16, base: 5, index: null, scale: 1, disp: 0, dispBytes: 0 } };
          return b.emit(`mov ${opText(reg(t.reg, size))}, ${opText(src)}  ; ss:0xffff crosses the SS limit`, { mode: m, opsize: size, opcode: [0x8b], regField: reg(t.reg, size), rm: src },
            { writes: acc(reg(t.reg, size)), memRead: true, fault: 12 });
        }
        case 'gp-cs-write': {
          const dst: Mem = { kind: 'mem', size, addr: { asize: 32, base: null, index: null, scale: 1, disp: SNIPPET_DATA_ADDR + r.int(0, 0xff00), dispBytes: 4, seg: 0x2e } };
          return b.emit(`mov ${opText(dst)}, ${opText(reg(t.reg, size))}  ; CS is not writable`, { mode: m, opsize: size, opcode: [0x89], regField: reg(t.reg, size), rm: dst },
            { reads: acc(reg(t.reg, size)), memWrite: true, fault: 13 });
        }
        case 'pf': {
          const src: Mem = { kind: 'mem', size, addr: { asize: 64, base: null, index: null, scale: 1, disp: 0x200000 + k, dispBytes: 4 } };
          return b.emit(`mov ${opText(reg(t.reg, size))}, ${opText(src)}  ; not mapped at or above 2 MiB`, { mode: m, opsize: size, opcode: [0x8b], regField: reg(t.reg, size), rm: src },
            { writes: acc(reg(t.reg, size)), memRead: true, fault: 14 });
        }
        default: {
          const v = r.pick([0x8000000000000000n, 0x0000800000000000n, 0xffff7fffffffffffn]);
          b.emit(`mov ${regName(t.reg, 64)}, ${hx(v)}`, { mode: m, opsize: 64, opcode: [0xb8], opreg: reg(t.reg, 64), imm: { bytes: 8, value: v } }, { writes: [{ reg: t.reg, part: '64' }] });
          const src: Mem = { kind: 'mem', size: 32, addr: { asize: 64, base: t.reg, index: null, scale: 1, disp: 0, dispBytes: 0 } };
          // A non-canonical address is #GP(0), or #SS(0) when the reference uses SS (base rBP).
          return b.emit(`mov eax, ${opText(src)}  ; non-canonical`, { mode: m, opsize: 32, opcode: [0x8b], regField: reg(RAX, 32), rm: src },
            { writes: [{ reg: RAX, part: '32' }], memRead: true, fault: t.reg === RBP ? 12 : 13 });
        }
      }
    };
  },
};

// --- Fillers -----------------------------------------------------------------------------------
/** MOV r,imm / ALU r,r / TEST r,r between the instructions under test, so flags and values vary. */
function filler(r: R, env: Env): Step {
  const kind = r.pick(['mov', 'alu', 'alu', 'test'] as const);
  const size = r.pick(sizesFor(env.mode, [32, 32, 64, 16]));
  const dst = pickReg(r, env, size, false, kind === 'test' ? 'src' : 'dst');
  const src = pickReg(r, env, size, false, 'src');
  if (kind === 'mov') {
    const v = value64(r);
    return (b) => b.emit(`mov ${opText(dst)}, ${hx(BigInt.asUintN(size === 64 ? 64 : size, v))}`,
      { mode: env.mode, opsize: size, opcode: [0xb8], opreg: dst, imm: { bytes: size === 64 ? 8 : immBytes(size), value: v } }, { writes: acc(dst) });
  }
  if (kind === 'test') {
    return (b) => b.emit(`test ${opText(dst)}, ${opText(src)}`, { mode: env.mode, opsize: size, opcode: [0x85], regField: src, rm: dst },
      { reads: [...acc(dst), ...acc(src)], flagsDef: STATUS & ~AF, flagsUndef: AF });
  }
  const op = r.pick([0, 2, 3, 5, 6, 7]);
  return (b) => b.emit(`${ALU[op]} ${opText(dst)}, ${opText(src)}`, { mode: env.mode, opsize: size, opcode: [0x01 | (op << 3)], regField: src, rm: dst }, aluFx(op, dst, src));
}

export const GROUPS: Group[] = [
  alu, unary, shift, muldiv, bit, scanGroup('bsf-bsr'), bswap, xchg, movx, cmovSetcc, lea, convert, stack, flagOps, string, exceptions,
  scanGroup('popcnt'), scanGroup('lzcnt'), scanGroup('tzcnt'),
];

// --- Cases -------------------------------------------------------------------------------------
export interface Case {
  group: string;
  input: SnippetInput;
  built: BuiltSnippet;
  env: Env;
}

function pickEnv(r: R, mode: Mode, group: Group): Env {
  const nregs = mode === 64 ? 16 : 8;
  const free = (xs: number[]) => xs.filter((x) => x !== RSP && !group.implicit.includes(x));
  let base: number;
  let index: number | null;
  if (mode === 16) {
    base = RBX; // [bx]/[bx+si]/[bx+di] address DS, whose base is the data area
    const xs = free([RSI, RDI]);
    index = xs.length && r.bool(0.6) ? r.pick(xs) : null;
  } else {
    base = r.pick(free(Array.from({ length: nregs }, (_, i) => i)));
    const xs = free(Array.from({ length: nregs }, (_, i) => i)).filter((x) => x !== base);
    index = xs.length && r.bool(0.6) ? r.pick(xs) : null;
  }
  const baseVal = (mode === 16 ? 0x4000 : 0x24000) + r.int(0, 0x8000);
  const indexVal = r.int(0, 0xff);
  return { mode, base, baseVal, index, indexVal, pinned: [RSP, base, ...(index === null ? [] : [index])], nregs };
}

/** One snippet for `group` in one of `modes`. */
export function caseArb(group: Group, modes: readonly SnippetMode[] = [16, 32, 64]): fc.Arbitrary<Case> {
  return fc.gen().map((g) => {
    const r = new R(g);
    const allowed = modes.filter((m) => !group.modes || group.modes.includes(m));
    const mode = r.pick(allowed);
    const env = pickEnv(r, mode, group);
    const values: bigint[] = [];
    for (let i = 0; i < 16; i++) {
      let v = i < env.nregs ? value64(r) : 0n;
      if (mode !== 64) v &= 0xffffffffn;
      if (i === env.base) v = BigInt(env.baseVal);
      if (i === env.index) v = BigInt(env.indexVal);
      if (i === RSP) v = BigInt(SNIPPET_STACK_TOP - r.pick([0, 0, 0, 2, 4, 8, 0x10, 0x102]));
      values.push(v & MASK64);
    }
    const rflags = (r.int(0, 0xfff) & (STATUS | DF)) | 2;
    const n = r.int(1, 8);
    const steps: Step[] = [];
    for (let i = 0; i < n; i++) steps.push(r.bool(0.8) ? group.step(r, env) : filler(r, env));
    const b = new Builder(env, values, rflags);
    for (const s of steps) s(b);
    const built = b.finish();
    const input: SnippetInput = {
      mode, code: built.code, rflags,
      gprs: values.map((v) => [Number(v & 0xffffffffn), Number(v >> 32n)] as [number, number]),
    };
    return { group: group.name, input, built, env };
  });
}

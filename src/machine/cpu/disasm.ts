// A small x86 disassembler for replay divergence reports: Intel syntax in the style of
// `objdump -M intel` (lower case, ", " between operands, one space after the mnemonic).
//
// Decoding is the CPU's own: the bytes go through the Decoder (prefixes, REX, ModRM/SIB,
// displacement, immediates, operand and address size per mode) and the mnemonics come from the
// opcode table's MNEMONICS. What this file adds is presentation only: the operand forms of each
// opcode (SDM vol. 2, appendix A notation: Eb, Gv, Iz...), register names, and which prefixes
// objdump prints as words because the instruction does not use them.
//
// Never throws: undecodable bytes are "(bad)" with length 1, an instruction cut off by the end
// of the buffer is "(bad)" with the length of what is there.
//
// Where objdump and the CPU read bytes differently, the text follows objdump when the CPU's
// reading is not changed by it, and the CPU otherwise:
//  - a REX prefix followed by another prefix is ignored by the CPU; objdump (and this file)
//    shows it as an instruction of its own, "rex.w", of length 1 (with the prefixes before it);
//  - D6 is "salc" (objdump: "(bad)"); 66 on near branches in 64-bit code is ignored (Intel), so
//    "66 e8 rel32" is a 6-byte call (objdump decodes AMD's rel16);
//  - F2/F3 before 0F-map opcodes are ignored (the CPU implements none of the forms they select),
//    except POPCNT/LZCNT and TZCNT, named as objdump names them (the CPU, without BMI1, runs
//    F3 0F BC as BSF);
//  - SSE/SSE2 (executed by exec-sse.ts), AVX (VEX) and the 0F 38 / 0F 3A maps are "(bad)":
//    their operand forms are not written yet.
// Measured against objdump 2.40 on random bytes (test/cpu/disasm.test.ts): about 97% identical
// text and length, 99.7% once the differences above are allowed.

import { DecodedStore, Info, Ea } from './decoded.js';
import { Decoder, DecodeStatus, OP_UD, OP_TOO_LONG } from './decoder.js';
import { MNEMONICS, OPCODE_FLAGS, Op, GROUP_BASE, Grp, OP_COUNT, gop, SSE_OP } from './opcode-table.js';

export interface Disassembly {
  length: number;
  text: string;
}

const BAD = '(bad)';
const MAX_INSN_LEN = 15;

// ---- operand forms per op id (SDM vol. 2, A.2 notation; "" = no operands) ----
// E = ModRM r/m, G = ModRM reg, I = immediate, J = relative target, Z = register in the opcode,
// O = moffs, A = far pointer, S = segment register, C/D = control/debug register, R = ModRM r/m
// register only, M = memory only. Sizes: b byte, w word, d dword, v operand size, z immediate of
// the operand size (at most 32 bits, sign-extended), bs byte sign-extended to the operand size,
// x = operand size for a register, word for memory (SLDT, STR, SMSW).
const FORMS: string[] = new Array(OP_COUNT).fill('');
const setForm = (ops: number[], form: string): void => ops.forEach((op) => (FORMS[op] = form));
const span = (a: number, b: number): number[] => Array.from({ length: b - a + 1 }, (_, i) => a + i);
const groupOps = (g: Grp): number[] => span(gop(g, 0), gop(g, 7));

for (let i = 0; i < 8; i++) {
  const b = i * 8;
  setForm([b], 'Eb,Gb');
  setForm([b + 1], 'Ev,Gv');
  setForm([b + 2], 'Gb,Eb');
  setForm([b + 3], 'Gv,Ev');
  setForm([b + 4], 'AL,Ib');
  setForm([b + 5], 'rAX,Iz');
}
setForm([0x06, 0x07], 'ES');
setForm([0x0e], 'CS');
setForm([0x16, 0x17], 'SS');
setForm([0x1e, 0x1f], 'DS');
setForm(span(0x40, 0x5f), 'Zv');
setForm([0x62], 'Gv,Ma');
setForm([0x68], 'Iz');
setForm([0x69], 'Gv,Ev,Iz');
setForm([0x6a], 'Ibs');
setForm([0x6b], 'Gv,Ev,Ibs');
setForm(span(0x70, 0x7f), 'Jb');
setForm(groupOps(Grp.G1_80), 'Eb,Ib');
setForm(groupOps(Grp.G1_81), 'Ev,Iz');
setForm(groupOps(Grp.G1_82), 'Eb,Ib');
setForm(groupOps(Grp.G1_83), 'Ev,Ibs');
setForm([0x84, 0x86, 0x88], 'Eb,Gb');
setForm([0x85, 0x87, 0x89], 'Ev,Gv');
setForm([0x8a], 'Gb,Eb');
setForm([0x8b], 'Gv,Ev');
setForm([0x8c], 'Ex,Sw');
setForm([0x8d], 'Gv,M');
setForm([0x8e], 'Sw,Ex');
setForm([gop(Grp.G1A_8F, 0)], 'Ev');
setForm(span(0x91, 0x97), 'Zv,rAX');
setForm([0x9a, 0xea], 'Ap');
setForm([0xa0], 'AL,Ob');
setForm([0xa1], 'rAX,Ov');
setForm([0xa2], 'Ob,AL');
setForm([0xa3], 'Ov,rAX');
setForm([0xa8], 'AL,Ib');
setForm([0xa9], 'rAX,Iz');
setForm(span(0xb0, 0xb7), 'Zb,Ib');
setForm(span(0xb8, 0xbf), 'Zv,Iv');
setForm(groupOps(Grp.G2_C0), 'Eb,Ib');
setForm(groupOps(Grp.G2_C1), 'Ev,Ib');
setForm([0xc2, 0xca], 'Iw');
setForm([0xc4, 0xc5], 'Gv,Mp');
setForm([gop(Grp.G11_C6, 0)], 'Eb,Ib');
setForm([gop(Grp.G11_C7, 0)], 'Ev,Iz');
setForm([0xc8], 'Iw,Ib2');
setForm([0xcd, 0xd4, 0xd5], 'Ib');
setForm(groupOps(Grp.G2_D0), 'Eb,1');
setForm(groupOps(Grp.G2_D1), 'Ev,1');
setForm(groupOps(Grp.G2_D2), 'Eb,CL');
setForm(groupOps(Grp.G2_D3), 'Ev,CL');
setForm(span(0xe0, 0xe3), 'Jb');
setForm([0xe4], 'AL,Ib');
setForm([0xe5], 'rAX32,Ib');
setForm([0xe6], 'Ib,AL');
setForm([0xe7], 'Ib,rAX32');
setForm([0xe8, 0xe9], 'Jz');
setForm([0xeb], 'Jb');
setForm([0xec], 'AL,DX');
setForm([0xed], 'rAX32,DX');
setForm([0xee], 'DX,AL');
setForm([0xef], 'DX,rAX32');
setForm(groupOps(Grp.G3_F6), 'Eb');
setForm([gop(Grp.G3_F6, 0), gop(Grp.G3_F6, 1)], 'Eb,Ib');
setForm(groupOps(Grp.G3_F7), 'Ev');
setForm([gop(Grp.G3_F7, 0), gop(Grp.G3_F7, 1)], 'Ev,Iz');
setForm([gop(Grp.G4_FE, 0), gop(Grp.G4_FE, 1)], 'Eb');
setForm([gop(Grp.G5_FF, 0), gop(Grp.G5_FF, 1), gop(Grp.G5_FF, 2), gop(Grp.G5_FF, 4), gop(Grp.G5_FF, 6)], 'Ev');
setForm([gop(Grp.G5_FF, 3), gop(Grp.G5_FF, 5)], 'Mp');

const T = 0x100;
setForm([gop(Grp.G6_0F00, 0), gop(Grp.G6_0F00, 1)], 'Ex');
setForm(span(gop(Grp.G6_0F00, 2), gop(Grp.G6_0F00, 5)), 'Ew');
setForm(span(gop(Grp.G7_0F01, 0), gop(Grp.G7_0F01, 3)), 'M');
setForm([gop(Grp.G7_0F01, 4)], 'Ex');
setForm([gop(Grp.G7_0F01, 6)], 'Ew');
setForm([gop(Grp.G7_0F01, 7)], 'Mb');
setForm([T + 0x02, T + 0x03], 'Gv,Ex');
setForm([T + 0x0d], 'Mb');
setForm(groupOps(Grp.G16_0F18), 'Ev');
setForm(span(T + 0x19, T + 0x1f), 'Ev');
setForm([T + 0x20], 'Rd,Cd');
setForm([T + 0x21], 'Rd,Dd');
setForm([T + 0x22], 'Cd,Rd');
setForm([T + 0x23], 'Dd,Rd');
setForm(span(T + 0x40, T + 0x4f), 'Gv,Ev');
setForm(span(T + 0x80, T + 0x8f), 'Jz');
setForm(span(T + 0x90, T + 0x9f), 'Eb');
setForm([T + 0xa0, T + 0xa1], 'FS');
setForm([T + 0xa8, T + 0xa9], 'GS');
setForm([T + 0xa3, T + 0xab, T + 0xb3, T + 0xbb, T + 0xc1], 'Ev,Gv');
setForm([T + 0xa4, T + 0xac], 'Ev,Gv,Ib');
setForm([T + 0xa5, T + 0xad], 'Ev,Gv,CL');
setForm([T + 0xaf, T + 0xb8, T + 0xb9, T + 0xbc, T + 0xbd, T + 0xff], 'Gv,Ev');
setForm([T + 0xb0, T + 0xc0], 'Eb,Gb');
setForm([T + 0xb1], 'Ev,Gv');
setForm([T + 0xb2, T + 0xb4, T + 0xb5], 'Gv,Mp');
setForm([T + 0xb6, T + 0xbe], 'Gv,Eb');
setForm([T + 0xb7, T + 0xbf], 'Gv,Ew');
setForm(span(gop(Grp.G8_0FBA, 4), gop(Grp.G8_0FBA, 7)), 'Ev,Ib');
setForm([gop(Grp.G9_0FC7, 1)], 'Mq');
setForm([gop(Grp.G9_0FC7, 6), gop(Grp.G9_0FC7, 7)], 'Rv');
setForm(span(T + 0xc8, T + 0xcf), 'Zv');

// 0F 01 with mod=3: the instruction is named by reg and rm together (SDM vol. 2, table A-6).
const GROUP7_REG_FORMS: Record<number, string> = {
  0xc1: 'vmcall', 0xc2: 'vmlaunch', 0xc3: 'vmresume', 0xc4: 'vmxoff', 0xc8: 'monitor', 0xc9: 'mwait',
  0xca: 'clac', 0xcb: 'stac', 0xcf: 'encls', 0xd0: 'xgetbv', 0xd1: 'xsetbv', 0xd4: 'vmfunc', 0xd5: 'xend',
  0xd6: 'xtest', 0xd7: 'enclu', 0xd8: 'vmrun', 0xd9: 'vmmcall', 0xda: 'vmload', 0xdb: 'vmsave',
  0xdc: 'stgi', 0xdd: 'clgi', 0xde: 'skinit', 0xdf: 'invlpga', 0xf8: 'swapgs', 0xf9: 'rdtscp',
  0xfa: 'monitorx', 0xfb: 'mwaitx', 0xfc: 'clzero', 0xfd: 'rdpru',
};
// 0F AE with mod=3: the fences.
const GROUP15_REG_FORMS = ['', '', '', '', '', 'lfence', 'mfence', 'sfence'];
// String instructions: base name and whether REP (F3) reads as "rep" or "repz".
const STRING_OPS: Record<number, [string, boolean]> = {
  0x6c: ['ins', false], 0x6d: ['ins', false], 0x6e: ['outs', false], 0x6f: ['outs', false],
  0xa4: ['movs', false], 0xa5: ['movs', false], 0xa6: ['cmps', true], 0xa7: ['cmps', true],
  0xaa: ['stos', false], 0xab: ['stos', false], 0xac: ['lods', false], 0xad: ['lods', false],
  0xae: ['scas', true], 0xaf: ['scas', true],
};

const REG8 = ['al', 'cl', 'dl', 'bl', 'spl', 'bpl', 'sil', 'dil', 'r8b', 'r9b', 'r10b', 'r11b', 'r12b', 'r13b', 'r14b', 'r15b', 'ah', 'ch', 'dh', 'bh'];
const REG16 = ['ax', 'cx', 'dx', 'bx', 'sp', 'bp', 'si', 'di', 'r8w', 'r9w', 'r10w', 'r11w', 'r12w', 'r13w', 'r14w', 'r15w'];
const REG32 = ['eax', 'ecx', 'edx', 'ebx', 'esp', 'ebp', 'esi', 'edi', 'r8d', 'r9d', 'r10d', 'r11d', 'r12d', 'r13d', 'r14d', 'r15d'];
const REG64 = ['rax', 'rcx', 'rdx', 'rbx', 'rsp', 'rbp', 'rsi', 'rdi', 'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15'];
const SEGS = ['es', 'cs', 'ss', 'ds', 'fs', 'gs'];
const SIZE_WORDS = ['byte ptr ', 'word ptr ', 'dword ptr ', 'qword ptr '];
const SEG_PREFIX: Record<number, number> = { 0x26: 0, 0x2e: 1, 0x36: 2, 0x3e: 3, 0x64: 4, 0x65: 5 };

function regName(n: number, size: number): string {
  switch (size) {
    case 0: return REG8[n] ?? '?';
    case 1: return REG16[n & 15];
    case 2: return REG32[n & 15];
    default: return REG64[n & 15];
  }
}

/** Unsigned hex of the low `bits` bits of a signed or unsigned 32-bit value (64: sign-extended). */
function hexImm(v: number, bits: 8 | 16 | 32 | 64): string {
  if (bits === 8) return '0x' + (v & 0xff).toString(16);
  if (bits === 16) return '0x' + (v & 0xffff).toString(16);
  if (bits === 32 || v >= 0) return '0x' + (v >>> 0).toString(16);
  return '0xffffffff' + (v >>> 0).toString(16).padStart(8, '0');
}
const hex64 = (lo: number, hi: number): string =>
  hi === 0 ? '0x' + (lo >>> 0).toString(16) : '0x' + (hi >>> 0).toString(16) + (lo >>> 0).toString(16).padStart(8, '0');
const signedHex = (v: number): string => (v < 0 ? '-0x' + (-v).toString(16) : '+0x' + v.toString(16));
const OSIZE_BITS = [8, 16, 32, 64] as const;

/** The prefix bytes before the opcode, as the CPU's decoder reads them (SDM vol. 2, 2.1.1 and 2.2.1). */
interface Prefixes {
  bytes: number[]; // every prefix byte in order, REX included
  opcodeAt: number;
  seg: number; // last segment override, or -1
  activeSeg: number; // the override in effect: in 64-bit mode only FS and GS count (SDM vol. 1, 3.3.7.1)
  rex: number; // the REX prefix in effect (0: none)
  lock: boolean;
  lockInvalid: boolean; // LOCK on a form that does not take it (#UD for the CPU)
  rep: number; // last of F3 (1) / F2 (2), 0 if none
}

function scanPrefixes(b: Uint8Array, mode64: boolean): Prefixes {
  const p: Prefixes = { bytes: [], opcodeAt: 0, seg: -1, activeSeg: -1, rex: 0, lock: false, lockInvalid: false, rep: 0 };
  let i = 0;
  while (i < b.length && i < MAX_INSN_LEN) {
    const x = b[i];
    if (mode64 && (x & 0xf0) === 0x40) {
      p.rex = x;
    } else if (x in SEG_PREFIX) {
      p.seg = SEG_PREFIX[x];
      if (!mode64 || p.seg >= 4) p.activeSeg = p.seg;
      p.rex = 0;
    } else if (x === 0x66 || x === 0x67) {
      p.rex = 0;
    } else if (x === 0xf0) {
      p.lock = true;
      p.rex = 0;
    } else if (x === 0xf2 || x === 0xf3) {
      p.rep = x === 0xf3 ? 1 : 2;
      p.rex = 0;
    } else break;
    p.bytes.push(x);
    i++;
  }
  p.opcodeAt = i;
  return p;
}

// One decoder for all calls, made on first use (its store is some 100 KiB of typed arrays).
let store: DecodedStore;
let decoder: Decoder;

/** Decode with the CPU's decoder; LOCK on a form that does not allow it is decoded as if absent. */
function decodeBytes(bytes: Uint8Array, codeSize: number, pre: Prefixes): DecodeStatus {
  if (decoder === undefined) {
    store = new DecodedStore();
    decoder = new Decoder(store);
  }
  const n = Math.min(bytes.length, decoder.window.length);
  decoder.window.set(bytes.subarray(0, n));
  decoder.windowLen = n;
  let st = decoder.decode(0, codeSize);
  if (st === DecodeStatus.UD && pre.lock && store.op[0] !== OP_TOO_LONG) {
    // The LOCK #UD is about execution; the bytes still spell an instruction (objdump shows
    // "lock add eax, eax"). CS in place of LOCK changes nothing the disassembler reads from the
    // decoder (the segment comes from scanPrefixes).
    for (let i = 0; i < pre.opcodeAt; i++) if (decoder.window[i] === 0xf0) decoder.window[i] = 0x2e;
    st = decoder.decode(0, codeSize);
    pre.lockInvalid = true;
  }
  return st;
}

/** Everything the operand formatter needs about one decoded instruction. */
class Insn {
  readonly op = store.op[0];
  readonly info = store.info[0];
  readonly osize = this.info & Info.OSIZE_MASK;
  readonly asize = (this.info >> Info.ASIZE_SHIFT) & 3;
  readonly mem = (this.info & Info.MEM) !== 0;
  readonly reg = (this.info >> Info.REG_SHIFT) & 31;
  readonly rm = (this.info >> Info.RM_SHIFT) & 31;
  readonly ea = store.ea[0];
  readonly disp = store.disp[0];
  readonly imm = store.imm[0];
  readonly imm2 = store.imm2[0];
  readonly length = decoder.length;
  readonly flags: number;
  readonly modrm: number;
  readonly sib: number; // -1 when there is none
  // Which prefixes the printed operands used; the others are printed as words.
  usedOsize = false;
  usedAsize = false;
  usedSeg = false;
  usedRex = 0; // REX bits (W=8 R=4 X=2 B=1) and 0x40 for "a byte register that needs REX"
  /** The address a RIP-relative operand resolves to, printed after the operands as objdump does. */
  comment = '';

  constructor(
    readonly bytes: Uint8Array,
    readonly mode: 16 | 32 | 64,
    readonly pre: Prefixes,
    readonly rip: bigint,
  ) {
    let p = pre.opcodeAt;
    let opc = bytes[p++];
    if (opc === 0x0f) {
      const b2 = bytes[p++];
      opc = b2 === 0x38 || b2 === 0x3a ? (b2 === 0x38 ? 0x200 : 0x300) + bytes[p++] : 0x100 + b2;
    }
    this.flags = OPCODE_FLAGS[opc];
    this.modrm = (this.flags & Op.MODRM) !== 0 ? bytes[p] : -1;
    const hasSib = this.modrm >= 0 && this.modrm >> 6 !== 3 && (this.modrm & 7) === 4 && this.asize !== 1;
    this.sib = hasSib ? bytes[p + 1] : -1;
  }

  get segName(): string {
    const s = this.pre.activeSeg;
    if (s < 0) return '';
    this.usedSeg = true;
    return SEGS[s] + ':';
  }

  /** Register n of `size`; `fromOsize` when the size is the instruction's operand size (66/REX.W). */
  sizedReg(n: number, size: number, field: number, fromOsize = false): string {
    this.usedRex |= field;
    if (size === 0 && n >= 4 && n < 8) this.usedRex |= 0x40;
    if (fromOsize) this.useOsize(size);
    return regName(n, size);
  }

  /** The operand size was printed: the 66 prefix counts unless REX.W overrode it. */
  useOsize(size: number): void {
    if (size !== 3) this.usedOsize = true;
    else if (!this.default64) this.usedRex |= 8;
  }

  /** 64 bits is the default operand size (PUSH, POP, near branches...): REX.W changes nothing. */
  get default64(): boolean {
    const op = this.op;
    return this.mode === 64 && ((this.flags & (Op.D64 | Op.F64)) !== 0 ||
      op === gop(Grp.G5_FF, 2) || op === gop(Grp.G5_FF, 4) || op === gop(Grp.G5_FF, 6));
  }

  /** The ModRM memory operand, with objdump's size word ("" for LEA, LGDT...). */
  memOperand(sizeWord: string): string {
    const base = this.ea & 31;
    const index = (this.ea >> Ea.INDEX_SHIFT) & 31;
    const scale = (this.ea >> Ea.SCALE_SHIFT) & 3;
    const mod = this.modrm >> 6;
    const size = this.asize; // 1=16, 2=32, 3=64
    const names = size === 1 ? REG16 : size === 2 ? REG32 : REG64;
    const parts: string[] = [];
    if (base === Ea.RIP) parts.push(size === 3 ? 'rip' : 'eip');
    else if (base !== Ea.NONE) parts.push(names[base]);
    if (index !== Ea.NONE) parts.push(size === 1 ? names[index] : names[index] + '*' + (1 << scale));
    else if (this.sib >= 0) {
      // A SIB byte without an index: objdump names the pseudo-register riz/eiz unless the
      // SIB only says "base is rsp/r12" (scale 1) or "absolute" (no base, scale 1).
      const sibBase = this.sib & 7;
      const eiz = base === Ea.NONE && size === 2;
      if (scale !== 0 || eiz || (base !== Ea.NONE && sibBase !== 4)) parts.push((size === 3 ? 'riz' : 'eiz') + '*' + (1 << scale));
    }
    // objdump counts REX.B as used by any ModRM memory operand, REX.X by any SIB byte.
    if (this.sib >= 0) this.usedRex |= 2;
    this.usedRex |= 1;
    const hasDisp = mod === 1 || mod === 2 || base === Ea.NONE || base === Ea.RIP;
    const seg = this.segName;
    let text: string;
    // objdump does not count 67 as used by a 32-bit absolute address.
    if (parts.length > 0 || size === 1) this.usedAsize = true;
    if (parts.length === 0) {
      // Absolute address: objdump writes it as seg:offset with ds when there is no override.
      let off: string;
      if (size === 1) off = hexImm(this.disp, 16);
      else if (size === 2) off = hexImm(this.disp, 32);
      else off = hexImm(this.disp, 64);
      text = (seg || 'ds:') + off;
    } else {
      const disp = this.disp;
      // objdump writes a RIP/EIP displacement as a 64-bit unsigned number.
      const dispText = !hasDisp ? '' : base === Ea.RIP ? '+' + hexImm(disp, 64) : signedHex(disp);
      text = seg + '[' + parts.join('+') + dispText + ']';
      if (base === Ea.RIP) {
        const target = this.rip + BigInt(this.length) + BigInt(disp);
        this.comment = ' # ' + hexBig(target, size === 3 ? 64 : 32);
      }
    }
    return sizeWord + text;
  }

  immediate(bits: 8 | 16 | 32 | 64): string {
    return hexImm(this.imm, bits);
  }

  /** rel8 branches ignore 66 in objdump's reading (no "w" form); rel16/32 ones are sized by it. */
  branchTarget(sized: boolean): string {
    const size = sized ? this.osize : this.mode === 64 ? 3 : this.mode === 32 ? 2 : 1;
    const bits = size === 1 ? 16 : size === 2 ? 32 : 64;
    if (sized) this.useOsize(size);
    return hexBig(this.rip + BigInt(this.length) + BigInt(this.imm), bits);
  }

  /** One operand of the form table; null when the encoding has no valid operand there. */
  operand(code: string): string | null {
    const os = this.osize;
    switch (code) {
      case 'Eb': return this.mem ? this.memOperand(SIZE_WORDS[0]) : this.sizedReg(this.rm, 0, 1);
      case 'Ew': return this.mem ? this.memOperand(SIZE_WORDS[1]) : this.sizedReg(this.rm, 1, 1);
      case 'Ed': return this.mem ? this.memOperand(SIZE_WORDS[2]) : this.sizedReg(this.rm, 2, 1);
      case 'Ev':
        if (this.mem) {
          this.useOsize(os);
          return this.memOperand(SIZE_WORDS[os]);
        }
        return this.sizedReg(this.rm, os, 1, true);
      case 'Ex': return this.mem ? this.memOperand(SIZE_WORDS[1]) : this.sizedReg(this.rm, os, 1, true);
      case 'Rd': return this.sizedReg(this.rm, this.mode === 64 ? 3 : 2, 1);
      case 'Rv': return this.mem ? null : this.sizedReg(this.rm, os, 1, true);
      case 'Gb': return this.sizedReg(this.reg, 0, 4);
      case 'Gw': return this.sizedReg(this.reg, 1, 4);
      case 'Gv': return this.sizedReg(this.reg, os, 4, true);
      case 'M': return this.mem ? this.memOperand('') : null;
      case 'Mb': return this.mem ? this.memOperand(SIZE_WORDS[0]) : null;
      case 'Ma':
        this.useOsize(os);
        return this.mem ? this.memOperand(os === 1 ? 'dword ptr ' : 'qword ptr ') : null;
      case 'Mp': {
        if (!this.mem) return null;
        // m16:16 / m16:32 by the 66 prefix alone: objdump reads REX.W as m16:32 too (AMD's
        // reading; Intel's is m16:64).
        const has66 = this.pre.bytes.includes(0x66);
        if (has66) this.usedOsize = true;
        const far16 = (this.mode === 16) !== has66;
        return this.memOperand(far16 ? 'dword ptr ' : 'fword ptr ');
      }
      case 'Mq':
        if (!this.mem) return null;
        if ((this.info & Info.REXW) !== 0) this.usedRex |= 8;
        return this.memOperand((this.info & Info.REXW) !== 0 ? 'oword ptr ' : 'qword ptr ');
      case 'Ib': return this.immediate(8);
      case 'Ibs':
      case 'Iz':
        this.useOsize(os);
        return this.immediate(OSIZE_BITS[os]);
      case 'Iw': return this.immediate(16);
      case 'Ib2': return hexImm(this.imm2, 8);
      case 'Iv':
        this.useOsize(os);
        return os === 3 ? hex64(this.imm, this.imm2) : this.immediate(OSIZE_BITS[os]);
      case 'Jb': return this.branchTarget(false);
      case 'Jz': return this.branchTarget(true);
      case 'AL': return 'al';
      case 'CL': return 'cl';
      case 'DX': return 'dx';
      case '1': return '1';
      case 'rAX': return this.sizedReg(0, os, 0, true);
      case 'rAX32':
        if (os !== 3) this.usedOsize = true;
        return regName(0, os === 3 ? 2 : os);
      case 'Zb': return this.sizedReg(this.rm, 0, 1);
      case 'Zv': return this.sizedReg(this.rm, os, 1, true);
      case 'Sw': {
        const s = this.reg & 7; // objdump does not count REX.R as used here
        return s < 6 ? SEGS[s] : '?';
      }
      case 'Cd': this.usedRex |= 4; return 'cr' + this.reg;
      case 'Dd': this.usedRex |= 4; return 'dr' + this.reg;
      case 'Ob':
      case 'Ov': {
        if (code === 'Ov') this.useOsize(os);
        const off = this.asize === 1 ? hexImm(this.disp, 16) : this.asize === 2 ? hexImm(this.disp, 32) : hex64(this.disp, this.imm2);
        return (this.segName || 'ds:') + off;
      }
      case 'Ap': {
        this.useOsize(os);
        return hexImm(this.imm2, 16) + ':' + this.immediate(os === 1 ? 16 : 32);
      }
      case 'ES': case 'CS': case 'SS': case 'DS': case 'FS': case 'GS':
        return code.toLowerCase();
      default:
        return null;
    }
  }
}

function hexBig(v: bigint, bits: number): string {
  return '0x' + (v & ((1n << BigInt(bits)) - 1n)).toString(16);
}

/**
 * Disassemble the instruction at bytes[0] for a code segment of `mode` bits; `rip` is its
 * address (IP in 16-bit code), from which branch targets and RIP-relative operands are
 * resolved. A bigint carries a 64-bit address beyond 2^53 exactly; a negative number reads as
 * sign-extended (-0x80000000 is 0xffffffff80000000).
 */
export function disassemble(bytes: Uint8Array, mode: 16 | 32 | 64, rip: number | bigint = 0): Disassembly {
  try {
    const at = typeof rip === 'bigint' ? rip : Number.isFinite(rip) ? BigInt(Math.trunc(rip)) : 0n;
    return disassembleOne(bytes, mode, at);
  } catch {
    // The decoder is total and the formatter checks its tables; this is only a last guard.
    return { length: 1, text: BAD };
  }
}

function disassembleOne(bytes: Uint8Array, mode: 16 | 32 | 64, rip: bigint): Disassembly {
  if (bytes.length === 0) return { length: 1, text: BAD };
  const codeSize = mode === 64 ? 3 : mode === 32 ? 2 : 1;
  const pre = scanPrefixes(bytes, mode === 64);
  // A REX prefix followed by another prefix is ignored by the CPU (SDM vol. 2, 2.2.1); objdump
  // shows it, with the prefixes before it, as an instruction of its own ("rex.w").
  // FWAIT after REX reads the same way (objdump takes 9B as a prefix of the x87 instruction after it).
  const strayRex = pre.bytes.findIndex((b, i) => (b & 0xf0) === 0x40 && (i < pre.bytes.length - 1 || bytes[pre.opcodeAt] === 0x9b));
  if (mode === 64 && strayRex >= 0) {
    const words = pre.bytes.slice(0, strayRex + 1).map((b) => (b & 0xf0) === 0x40 ? rexName(b) : legacyPrefixName(b, mode));
    return { length: strayRex + 1, text: words.join(' ') };
  }
  const st = decodeBytes(bytes, codeSize, pre);
  if (st === DecodeStatus.NEED_MORE) return { length: Math.min(bytes.length, MAX_INSN_LEN), text: BAD };
  if (st !== DecodeStatus.OK || store.op[0] === OP_UD || store.op[0] === OP_TOO_LONG) return { length: 1, text: BAD };
  const insn = new Insn(bytes, mode, pre, rip);
  const body = formatBody(insn);
  if (body === null) return { length: 1, text: BAD };
  return { length: insn.length, text: prefixWords(insn, body.repWord, body.lockUsed === true) + body.text + insn.comment };
}

/**
 * The mnemonic and operands. repWord says what became of the last F2/F3 prefix: a word to print
 * in its place ("rep", "xacquire"), null when it is part of the opcode (PAUSE, POPCNT), undefined
 * when the instruction ignores it. Null for encodings the tables leave undefined.
 */
interface Body {
  text: string;
  repWord?: string | null;
  lockUsed?: boolean;
}

function formatBody(insn: Insn): Body | null {
  const op = insn.op;
  const os = insn.osize;
  const rep = insn.pre.rep;
  let name = MNEMONICS[op];
  let form = FORMS[op];
  let repWord: string | null | undefined;
  let lockUsed = false;

  if (op in STRING_OPS) return formatString(insn);
  // SSE/SSE2 rows execute (exec-sse.ts) but have no operand forms here yet: shown as (bad).
  if (SSE_OP[op] === 1) return null;
  switch (op) {
    case 0x63:
      if (insn.mode === 64) {
        name = 'movsxd';
        form = 'Gv,Ed';
      } else {
        name = 'arpl';
        form = 'Ew,Gw';
      }
      break;
    case 0x60: case 0x61: case 0x9c: case 0x9d: case 0xc8: case 0xc9: case 0xcf: case 0xca: case 0xcb: case 0xc2: case 0xc3:
      name = sizedStackName(insn, name);
      break;
    case 0x90:
      if (rep === 1) {
        name = 'pause';
        repWord = null;
      } else if ((insn.pre.rex & 1) !== 0 || (os === 1 && insn.mode !== 16) || (os === 2 && insn.mode === 16)) {
        name = 'xchg';
        form = 'Zv,rAX';
      }
      break;
    case 0x98: name = ['', 'cbw', 'cwde', 'cdqe'][os]; insn.useOsize(os); break;
    case 0x99: name = ['', 'cwd', 'cdq', 'cqo'][os]; insn.useOsize(os); break;
    case 0xe3:
      name = ['', 'jcxz', 'jecxz', 'jrcxz'][insn.asize];
      insn.usedAsize = true;
      break;
    case 0xb8: case 0xb9: case 0xba: case 0xbb: case 0xbc: case 0xbd: case 0xbe: case 0xbf:
      if (os === 3) name = 'movabs';
      break;
    case 0xa0: case 0xa1: case 0xa2: case 0xa3:
      if (insn.asize === 3) name = 'movabs';
      break;
    case 0x9a: case 0xea:
      name = op === 0x9a ? 'call' : 'jmp';
      break;
    case 0xd7:
      return { text: 'xlat byte ptr ' + stringOperand(insn, 'ds', 3) };
    case 0xd8: case 0xd9: case 0xda: case 0xdb: case 0xdc: case 0xdd: case 0xde: case 0xdf:
      return formatX87(insn);
    case 0x06: case 0x07: case 0x0e: case 0x16: case 0x17: case 0x1e: case 0x1f:
    case 0x1a0: case 0x1a1: case 0x1a8: case 0x1a9: case 0x68: case 0x6a:
      name = pushPopName(insn, name);
      break;
    case 0xe8: case 0xe9:
      if (insn.mode !== 64 && os !== (insn.mode === 32 ? 2 : 1)) {
        name += os === 1 ? 'w' : 'd';
        insn.useOsize(os);
      }
      break;
    case 0x107: case 0x135:
      if (insn.mode === 64) {
        name += os === 3 ? 'q' : 'd';
        if (os === 3) insn.usedRex |= 8; // 66 selects nothing here
      }
      break;
    case 0x1b8: case 0x1bc: case 0x1bd:
      if (rep === 1) {
        name = op === 0x1b8 ? 'popcnt' : op === 0x1bc ? 'tzcnt' : 'lzcnt';
        repWord = null;
      } else if (op === 0x1b8) return null;
      break;
    case 0x11c:
      if (insn.mem && (insn.modrm & 0x38) === 0 && !insn.pre.bytes.includes(0x66)) {
        name = 'cldemote'; // a hint; without CLDEMOTE it is the NOP it runs as here
        form = 'Mb';
      }
      break;
    case 0x10d:
      name = ['prefetch', 'prefetchw', 'prefetchwt1', 'prefetch', 'prefetch', 'prefetch', 'prefetch', 'prefetch'][(insn.modrm >> 3) & 7];
      break;
    case 0x120: case 0x122:
      // LOCK MOV CR0 is AMD's encoding of CR8 outside 64-bit mode (AMD APM vol. 3, MOV CRn).
      if (insn.pre.lock && insn.mode !== 64) {
        lockUsed = true;
        return { text: op === 0x120 ? `mov ${insn.operand('Rd')}, cr${insn.reg + 8}` : `mov cr${insn.reg + 8}, ${insn.operand('Rd')}`, lockUsed };
      }
      break;
  }
  if (op >= GROUP_BASE) {
    const g = (op - GROUP_BASE) >> 3;
    const r = op & 7;
    if (g === Grp.G7_0F01 && !insn.mem) {
      if (r !== 4 && r !== 6) {
        const special = GROUP7_REG_FORMS[insn.modrm];
        return special === undefined ? null : { text: special };
      }
    } else if (g === Grp.G7_0F01 && r <= 3 && insn.mode !== 64) {
      // SGDT/SIDT/LGDT/LIDT: objdump names the operand size outside 64-bit mode.
      insn.useOsize(os);
      name += os === 1 ? 'w' : 'd';
    } else if (g === Grp.G15_0FAE) {
      if (!insn.mem) {
        const fence = GROUP15_REG_FORMS[r];
        return fence ? { text: fence } : null;
      }
      const w64 = (insn.pre.rex & 8) !== 0 && (r <= 1 || r === 4 || r === 5 || r === 6);
      if (w64) insn.usedRex |= 8;
      const sizeWord = r === 2 || r === 3 ? 'dword ptr ' : r === 7 ? 'byte ptr ' : '';
      return { text: name + (w64 ? '64' : '') + ' ' + insn.memOperand(sizeWord) };
    } else if (g === Grp.G9_0FC7 && r === 1 && (insn.info & Info.REXW) !== 0) {
      name = 'cmpxchg16b';
    } else if (g === Grp.G5_FF && (r === 3 || r === 5)) {
      name = r === 3 ? 'call' : 'jmp';
    } else if (g === Grp.G16_0F18) {
      if (r >= 4 || !insn.mem) name = 'nop';
      else form = 'Mb';
    } else if (g >= Grp.G2_C0 && g <= Grp.G2_D3 && r === 6) {
      name = 'shl'; // /6 is an alias of SHL (SDM appendix A, group 2 note); objdump says shl
    }
  }
  if (!name || name === 'x87') return null;
  const operands: string[] = [];
  if (form) {
    for (const code of form.split(',')) {
      const text = insn.operand(code);
      if (text === null) return null;
      operands.push(text);
    }
  }
  // Hardware lock elision (SDM vol. 1, 16.3.1): F2/F3 read as XACQUIRE/XRELEASE on locked
  // read-modify-writes, XCHG with memory, and F3 on MOV to memory.
  if (rep !== 0 && insn.mem && repWord === undefined) {
    const xchg = op === 0x86 || op === 0x87;
    const movStore = op === 0x88 || op === 0x89 || op === gop(Grp.G11_C6, 0) || op === gop(Grp.G11_C7, 0);
    const locked = insn.pre.lock && !insn.pre.lockInvalid;
    if (locked || (xchg && !insn.pre.lockInvalid)) repWord = rep === 2 ? 'xacquire' : 'xrelease';
    else if (movStore && rep === 1) repWord = 'xrelease';
  }
  return { text: operands.length ? name + ' ' + operands.join(', ') : name, repWord, lockUsed };
}

// ---- x87 (SDM vol. 2, A.5): executed by exec-x87.ts ----
const X87_MEM: [string, string][][] = [
  // D8: m32fp arithmetic
  ['fadd', 'fmul', 'fcom', 'fcomp', 'fsub', 'fsubr', 'fdiv', 'fdivr'].map((n) => [n, 'dword ptr ']),
  // D9
  [['fld', 'dword ptr '], ['', ''], ['fst', 'dword ptr '], ['fstp', 'dword ptr '], ['fldenv', 'env'], ['fldcw', 'word ptr '], ['fnstenv', 'env'], ['fnstcw', 'word ptr ']],
  // DA: m32int arithmetic
  ['fiadd', 'fimul', 'ficom', 'ficomp', 'fisub', 'fisubr', 'fidiv', 'fidivr'].map((n) => [n, 'dword ptr ']),
  // DB
  [['fild', 'dword ptr '], ['fisttp', 'dword ptr '], ['fist', 'dword ptr '], ['fistp', 'dword ptr '], ['', ''], ['fld', 'tbyte ptr '], ['', ''], ['fstp', 'tbyte ptr ']],
  // DC: m64fp arithmetic
  ['fadd', 'fmul', 'fcom', 'fcomp', 'fsub', 'fsubr', 'fdiv', 'fdivr'].map((n) => [n, 'qword ptr ']),
  // DD
  [['fld', 'qword ptr '], ['fisttp', 'qword ptr '], ['fst', 'qword ptr '], ['fstp', 'qword ptr '], ['frstor', 'env'], ['', ''], ['fnsave', 'env'], ['fnstsw', 'word ptr ']],
  // DE: m16int arithmetic
  ['fiadd', 'fimul', 'ficom', 'ficomp', 'fisub', 'fisubr', 'fidiv', 'fidivr'].map((n) => [n, 'word ptr ']),
  // DF
  [['fild', 'word ptr '], ['fisttp', 'word ptr '], ['fist', 'word ptr '], ['fistp', 'word ptr '], ['fbld', 'tbyte ptr '], ['fild', 'qword ptr '], ['fbstp', 'tbyte ptr '], ['fistp', 'qword ptr ']],
];
// Register forms by opcode and ModRM.reg: "name:form" with form a = "st, st(i)", b = "st(i), st",
// i = "st(i)", none = no operand; an array of 8 names selects by ModRM.rm instead. The
// undocumented aliases (FSTP1, FXCH4...) are left out, as objdump leaves them: "(bad)".
const X87_REG: (string | string[])[][] = [
  ['fadd:a', 'fmul:a', 'fcom:i', 'fcomp:i', 'fsub:a', 'fsubr:a', 'fdiv:a', 'fdivr:a'],
  ['fld:i', 'fxch:i', ['fnop', '', '', '', '', '', '', ''], '', ['fchs', 'fabs', '', '', 'ftst', 'fxam', '', ''],
    ['fld1', 'fldl2t', 'fldl2e', 'fldpi', 'fldlg2', 'fldln2', 'fldz', ''],
    ['f2xm1', 'fyl2x', 'fptan', 'fpatan', 'fxtract', 'fprem1', 'fdecstp', 'fincstp'],
    ['fprem', 'fyl2xp1', 'fsqrt', 'fsincos', 'frndint', 'fscale', 'fsin', 'fcos']],
  ['fcmovb:a', 'fcmove:a', 'fcmovbe:a', 'fcmovu:a', '', ['', 'fucompp', '', '', '', '', '', ''], '', ''],
  ['fcmovnb:a', 'fcmovne:a', 'fcmovnbe:a', 'fcmovnu:a', ['fneni(8087 only)', 'fndisi(8087 only)', 'fnclex', 'fninit', 'fnsetpm(287 only)', 'frstpm(287 only)', '', ''], 'fucomi:a', 'fcomi:a', ''],
  ['fadd:b', 'fmul:b', '', '', 'fsubr:b', 'fsub:b', 'fdivr:b', 'fdiv:b'],
  ['ffree:i', '', 'fst:i', 'fstp:i', 'fucom:i', 'fucomp:i', '', ''],
  ['faddp:b', 'fmulp:b', '', ['', 'fcompp', '', '', '', '', '', ''], 'fsubrp:b', 'fsubp:b', 'fdivrp:b', 'fdivp:b'],
  ['ffreep:i', '', '', '', ['fnstsw ax', '', '', '', '', '', '', ''], 'fucomip:a', 'fcomip:a', ''],
];

function formatX87(insn: Insn): Body | null {
  const esc = insn.op - 0xd8;
  const reg = (insn.modrm >> 3) & 7;
  const rm = insn.modrm & 7;
  if (insn.mem) {
    const [name, size] = X87_MEM[esc][reg];
    if (!name) return null;
    if (size !== 'env') return { text: name + ' ' + insn.memOperand(size) };
    // FLDENV/FNSTENV/FRSTOR/FNSAVE: the 66 prefix picks the 16- or 32-bit image (SDM FLDENV).
    const def = insn.mode === 16 ? 1 : 2;
    const suffix = insn.osize === def || insn.osize === 3 ? '' : insn.osize === 1 ? 'w' : 'd';
    if (suffix) insn.usedOsize = true;
    return { text: name + suffix + ' ' + insn.memOperand('') };
  }
  const entry = X87_REG[esc][reg];
  const named = typeof entry === 'string' ? entry : entry[rm];
  if (!named) return null;
  const [name, form] = named.split(':');
  const st = 'st(' + rm + ')';
  switch (form) {
    case 'a': return { text: `${name} st, ${st}` };
    case 'b': return { text: `${name} ${st}, st` };
    case 'i': return { text: `${name} ${st}` };
    default: return { text: name };
  }
}

/** PUSHA/POPA/PUSHF/POPF/LEAVE/IRET/RETF: objdump adds w/d/q when the operand size is not the mode's default. */
function sizedStackName(insn: Insn, name: string): string {
  const os = insn.osize;
  const op = insn.op;
  if (insn.mode === 64) {
    if (op === 0xcf || op === 0xca || op === 0xcb) {
      insn.useOsize(os);
      if (op === 0xcf) return os === 3 ? 'iretq' : os === 1 ? 'iretw' : 'iret';
      return os === 3 ? name + 'q' : os === 1 ? name + 'w' : name;
    }
    // 64 is the default size here: REX.W changes nothing, only 66 does.
    if (os === 1) insn.usedOsize = true;
    return os === 1 ? name + 'w' : name;
  }
  insn.useOsize(os);
  const def = insn.mode === 32 ? 2 : 1;
  if (os === def) return name;
  return name + (os === 1 ? 'w' : 'd');
}

function pushPopName(insn: Insn, name: string): string {
  const os = insn.osize;
  insn.useOsize(os);
  const def = insn.mode === 64 ? 3 : insn.mode === 32 ? 2 : 1;
  if (os === def) return name;
  return name + (os === 1 ? 'w' : os === 2 ? 'd' : 'q');
}

/** es:[rdi] / ds:[rsi] with the address size's register; the source's segment can be overridden. */
function stringOperand(insn: Insn, defSeg: string, regNo: number): string {
  insn.usedAsize = true;
  const names = insn.asize === 1 ? REG16 : insn.asize === 2 ? REG32 : REG64;
  let seg = defSeg;
  if (defSeg === 'ds' && insn.pre.seg >= 0) {
    insn.usedSeg = true;
    // In 64-bit mode ES/CS/SS/DS overrides are ignored (SDM vol. 1, 3.3.7.1): FS/GS or ds.
    seg = insn.pre.activeSeg >= 0 ? SEGS[insn.pre.activeSeg] : 'ds';
  }
  return seg + ':[' + names[regNo] + ']';
}

/** MOVS/CMPS/STOS/LODS/SCAS/INS/OUTS: "movsb" when the operands are the defaults, objdump's full form otherwise. */
function formatString(insn: Insn): Body {
  const [base, repz] = STRING_OPS[insn.op];
  // INS/OUTS move at most 32 bits: REX.W changes nothing (SDM INS/OUTS).
  const os = (base === 'ins' || base === 'outs') && insn.osize === 3 ? 2 : insn.osize;
  if (os !== 0) insn.useOsize(os);
  const size = SIZE_WORDS[os];
  const defaultAsize = insn.asize === (insn.mode === 64 ? 3 : insn.mode === 32 ? 2 : 1);
  const hasSource = base === 'movs' || base === 'cmps' || base === 'lods' || base === 'outs';
  const src = hasSource ? size + stringOperand(insn, 'ds', 6) : '';
  const dst = base === 'lods' || base === 'outs' ? '' : size + stringOperand(insn, 'es', 7);
  let text: string;
  if (defaultAsize && (!hasSource || src.endsWith('ds:[' + ['', 'si', 'esi', 'rsi'][insn.asize] + ']'))) {
    text = base + 'bwdq'[os];
  } else {
    const acc = regName(0, os);
    switch (base) {
      case 'movs': text = `movs ${dst}, ${src}`; break;
      case 'cmps': text = `cmps ${src}, ${dst}`; break;
      case 'stos': text = `stos ${dst}, ${acc}`; break;
      case 'lods': text = `lods ${acc}, ${src}`; break;
      case 'scas': text = `scas ${acc}, ${dst}`; break;
      case 'ins': text = `ins ${dst}, dx`; break;
      default: text = `outs dx, ${src}`; break;
    }
  }
  const rep = insn.pre.rep;
  if (rep === 0) return { text };
  return { text, repWord: rep === 1 ? (repz ? 'repz' : 'rep') : 'repnz' };
}

function legacyPrefixName(b: number, mode: 16 | 32 | 64): string {
  switch (b) {
    case 0xf0: return 'lock';
    case 0xf2: return 'repnz';
    case 0xf3: return 'repz';
    case 0x66: return mode === 16 ? 'data32' : 'data16';
    case 0x67: return mode === 32 ? 'addr16' : 'addr32';
    default: return SEGS[SEG_PREFIX[b]] ?? '?';
  }
}

/**
 * The prefixes in byte order, as objdump prints them: the last prefix of each kind is the one
 * that takes effect and disappears into the operands when the instruction uses it; every
 * other one is printed as a word ("lock", "rep", "data16", "cs", "rex.w"...).
 */
function prefixWords(insn: Insn, repWord: string | null | undefined, lockUsed: boolean): string {
  const words: string[] = [];
  const pre = insn.pre;
  const lastOf = (pred: (b: number) => boolean): number => {
    for (let i = pre.bytes.length - 1; i >= 0; i--) if (pred(pre.bytes[i])) return i;
    return -1;
  };
  const lastRep = lastOf((b) => b === 0xf2 || b === 0xf3);
  const lastF2 = lastOf((b) => b === 0xf2);
  const lastLock = lastOf((b) => b === 0xf0);
  const last66 = lastOf((b) => b === 0x66);
  const last67 = lastOf((b) => b === 0x67);
  const lastSeg = lastOf((b) => b in SEG_PREFIX);
  const stringOp = STRING_OPS[insn.op];
  for (let i = 0; i < pre.bytes.length; i++) {
    const b = pre.bytes[i];
    if (b === 0xf0) {
      if (!lockUsed || i !== lastLock) words.push('lock');
    } else if (b === 0xf2 || b === 0xf3) {
      if (i === lastRep && repWord !== undefined) {
        if (repWord !== null) words.push(repWord);
      } else if (b === 0xf3) {
        // objdump's name for an F3 it did not use: "rep" before MOVS/STOS/LODS/INS/OUTS unless the
        // prefix it did use is also F3.
        const repName = stringOp !== undefined && !stringOp[1] && pre.bytes[lastRep] !== 0xf3;
        words.push(repName ? 'rep' : 'repz');
      }
      else words.push(i === lastF2 && isBndBranch(insn.op) ? 'bnd' : 'repnz');
    } else if (b === 0x66) {
      if (i !== last66 || !insn.usedOsize) words.push(legacyPrefixName(b, insn.mode));
    } else if (b === 0x67) {
      if (i !== last67 || !insn.usedAsize) words.push(legacyPrefixName(b, insn.mode));
    } else if (b in SEG_PREFIX) {
      if (i !== lastSeg || !insn.usedSeg) words.push(legacyPrefixName(b, insn.mode));
    } else if ((b & 0xf0) === 0x40) {
      const unused = (b & 0xf) & ~insn.usedRex;
      const plainUnused = (b & 0xf) === 0 && (insn.usedRex & 0x40) === 0;
      if (unused !== 0 || plainUnused) words.push(rexName(b));
    }
  }
  return words.length ? words.join(' ') + ' ' : '';
}

function rexName(b: number): string {
  if ((b & 0xf) === 0) return 'rex';
  return 'rex.' + ((b & 8) ? 'w' : '') + ((b & 4) ? 'r' : '') + ((b & 2) ? 'x' : '') + ((b & 1) ? 'b' : '');
}

/** Near branches, where F2 is the MPX "bnd" prefix in objdump's reading. */
function isBndBranch(op: number): boolean {
  return (op >= 0x70 && op <= 0x7f) || (op >= 0x180 && op <= 0x18f) || op === 0xc2 || op === 0xc3 ||
    op === 0xe8 || op === 0xe9 || op === 0xeb || op === gop(Grp.G5_FF, 2) || op === gop(Grp.G5_FF, 4);
}

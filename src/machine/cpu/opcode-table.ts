// The one table of the integer instruction set: per opcode, how to decode it.
// Opcode index: one-byte map 0x000-0x0ff, 0F map 0x100-0x1ff, 0F 38 map 0x200-0x2ff,
// 0F 3A map 0x300-0x3ff (SDM vol. 2, appendix A). Group opcodes decode to
// GROUP_BASE + group*8 + ModRM.reg so each group member is its own op id.
//
// The mnemonic table (MNEMONICS) comes from the same rows, for the disassembler in
// divergence reports and for coverage counts.

export const enum Op {
  MODRM = 1 << 0,
  BYTE = 1 << 1, // operand size is 8 bits
  D64 = 1 << 2, // default operand size 64 in long mode (push/pop/leave...)
  F64 = 1 << 3, // operand size forced to 64 in long mode (near branches)
  I64 = 1 << 4, // invalid in 64-bit mode
  GROUP = 1 << 5, // ModRM.reg selects the operation
  INVALID = 1 << 6,
  PREFIX = 1 << 7,
  // immediate kinds in bits 8-11
  IMM_SHIFT = 8,
  SX = 1 << 12, // the 8-bit immediate is sign-extended to the operand size
  MEMONLY = 1 << 13, // mod=3 is #UD (LEA, LES, LGDT...)
  REGONLY = 1 << 14,
}

export const enum Imm {
  NONE = 0, IB = 1, IW = 2, IZ = 3, IV = 4, IW_IB = 5, AP = 6, MOFFS = 7,
}

export const GROUP_BASE = 0x400;
export const enum Grp {
  G1_80 = 0, G1_81, G1_82, G1_83, G2_C0, G2_C1, G2_D0, G2_D1, G2_D2, G2_D3,
  G3_F6, G3_F7, G4_FE, G5_FF, G11_C6, G11_C7, G1A_8F,
  G6_0F00, G7_0F01, G8_0FBA, G9_0FC7, G15_0FAE, G16_0F18,
  COUNT,
}
export const OP_COUNT = GROUP_BASE + Grp.COUNT * 8;

/** Op id of a group member. */
export function gop(g: Grp, reg: number): number {
  return GROUP_BASE + g * 8 + reg;
}

export const OPCODE_FLAGS = new Int32Array(0x400);
export const OPCODE_GROUP = new Int8Array(0x400).fill(-1);
export const MNEMONICS: string[] = new Array(OP_COUNT).fill('');

function def(ops: number | number[], flags: number, imm: Imm, name: string | string[]): void {
  const list = typeof ops === 'number' ? [ops] : ops;
  list.forEach((op, i) => {
    OPCODE_FLAGS[op] = flags | (imm << Op.IMM_SHIFT);
    MNEMONICS[op] = typeof name === 'string' ? name : name[i];
  });
}
function group(op: number, g: Grp, flags: number, imm: Imm, names: string[]): void {
  OPCODE_FLAGS[op] = flags | Op.MODRM | Op.GROUP | (imm << Op.IMM_SHIFT);
  OPCODE_GROUP[op] = g;
  names.forEach((n, reg) => (MNEMONICS[gop(g, reg)] = n));
}
const range = (a: number, b: number): number[] => Array.from({ length: b - a + 1 }, (_, i) => a + i);

OPCODE_FLAGS.fill(Op.INVALID);

// ---- one-byte map ----
const ALU = ['add', 'or', 'adc', 'sbb', 'and', 'sub', 'xor', 'cmp'];
ALU.forEach((name, i) => {
  const b = i * 8;
  def(b + 0, Op.MODRM | Op.BYTE, Imm.NONE, name);
  def(b + 1, Op.MODRM, Imm.NONE, name);
  def(b + 2, Op.MODRM | Op.BYTE, Imm.NONE, name);
  def(b + 3, Op.MODRM, Imm.NONE, name);
  def(b + 4, Op.BYTE, Imm.IB, name);
  def(b + 5, 0, Imm.IZ, name);
});
def([0x06, 0x0e, 0x16, 0x1e], Op.I64, Imm.NONE, 'push');
def([0x07, 0x17, 0x1f], Op.I64, Imm.NONE, 'pop');
def([0x26, 0x2e, 0x36, 0x3e, 0x64, 0x65, 0x66, 0x67, 0xf0, 0xf2, 0xf3], Op.PREFIX, Imm.NONE, 'prefix');
def([0x27, 0x2f, 0x37, 0x3f], Op.I64, Imm.NONE, ['daa', 'das', 'aaa', 'aas']);
def(range(0x40, 0x47), 0, Imm.NONE, 'inc');
def(range(0x48, 0x4f), 0, Imm.NONE, 'dec');
def(range(0x50, 0x57), Op.D64, Imm.NONE, 'push');
def(range(0x58, 0x5f), Op.D64, Imm.NONE, 'pop');
def(0x60, Op.I64, Imm.NONE, 'pusha');
def(0x61, Op.I64, Imm.NONE, 'popa');
def(0x62, Op.I64 | Op.MODRM | Op.MEMONLY, Imm.NONE, 'bound');
def(0x63, Op.MODRM, Imm.NONE, 'arpl/movsxd');
def(0x68, Op.D64, Imm.IZ, 'push');
def(0x69, Op.MODRM, Imm.IZ, 'imul');
def(0x6a, Op.D64 | Op.SX, Imm.IB, 'push');
def(0x6b, Op.MODRM | Op.SX, Imm.IB, 'imul');
def([0x6c, 0x6d, 0x6e, 0x6f], 0, Imm.NONE, ['insb', 'ins', 'outsb', 'outs']);
OPCODE_FLAGS[0x6c] |= Op.BYTE;
OPCODE_FLAGS[0x6e] |= Op.BYTE;
const CC = ['o', 'no', 'b', 'ae', 'e', 'ne', 'be', 'a', 's', 'ns', 'p', 'np', 'l', 'ge', 'le', 'g'];
def(range(0x70, 0x7f), Op.F64 | Op.SX, Imm.IB, CC.map((c) => 'j' + c));
group(0x80, Grp.G1_80, Op.BYTE, Imm.IB, ALU);
group(0x81, Grp.G1_81, 0, Imm.IZ, ALU);
group(0x82, Grp.G1_82, Op.BYTE | Op.I64, Imm.IB, ALU);
group(0x83, Grp.G1_83, Op.SX, Imm.IB, ALU);
def(0x84, Op.MODRM | Op.BYTE, Imm.NONE, 'test');
def(0x85, Op.MODRM, Imm.NONE, 'test');
def(0x86, Op.MODRM | Op.BYTE, Imm.NONE, 'xchg');
def(0x87, Op.MODRM, Imm.NONE, 'xchg');
def([0x88, 0x8a], Op.MODRM | Op.BYTE, Imm.NONE, 'mov');
def([0x89, 0x8b], Op.MODRM, Imm.NONE, 'mov');
def([0x8c, 0x8e], Op.MODRM, Imm.NONE, 'mov');
def(0x8d, Op.MODRM | Op.MEMONLY, Imm.NONE, 'lea');
group(0x8f, Grp.G1A_8F, Op.D64, Imm.NONE, ['pop', '', '', '', '', '', '', '']);
def(0x90, 0, Imm.NONE, 'nop');
def(range(0x91, 0x97), 0, Imm.NONE, 'xchg');
def(0x98, 0, Imm.NONE, 'cbw');
def(0x99, 0, Imm.NONE, 'cwd');
def(0x9a, Op.I64, Imm.AP, 'callf');
def(0x9b, 0, Imm.NONE, 'fwait');
def(0x9c, Op.D64, Imm.NONE, 'pushf');
def(0x9d, Op.D64, Imm.NONE, 'popf');
def(0x9e, 0, Imm.NONE, 'sahf');
def(0x9f, 0, Imm.NONE, 'lahf');
def(0xa0, Op.BYTE, Imm.MOFFS, 'mov');
def(0xa1, 0, Imm.MOFFS, 'mov');
def(0xa2, Op.BYTE, Imm.MOFFS, 'mov');
def(0xa3, 0, Imm.MOFFS, 'mov');
def([0xa4, 0xa6, 0xaa, 0xac, 0xae], Op.BYTE, Imm.NONE, ['movsb', 'cmpsb', 'stosb', 'lodsb', 'scasb']);
def([0xa5, 0xa7, 0xab, 0xad, 0xaf], 0, Imm.NONE, ['movs', 'cmps', 'stos', 'lods', 'scas']);
def(0xa8, Op.BYTE, Imm.IB, 'test');
def(0xa9, 0, Imm.IZ, 'test');
def(range(0xb0, 0xb7), Op.BYTE, Imm.IB, 'mov');
def(range(0xb8, 0xbf), 0, Imm.IV, 'mov');
const SHIFT = ['rol', 'ror', 'rcl', 'rcr', 'shl', 'shr', 'sal', 'sar'];
group(0xc0, Grp.G2_C0, Op.BYTE, Imm.IB, SHIFT);
group(0xc1, Grp.G2_C1, 0, Imm.IB, SHIFT);
def(0xc2, Op.F64, Imm.IW, 'ret');
def(0xc3, Op.F64, Imm.NONE, 'ret');
def([0xc4, 0xc5], Op.I64 | Op.MODRM | Op.MEMONLY, Imm.NONE, ['les', 'lds']);
group(0xc6, Grp.G11_C6, Op.BYTE, Imm.IB, ['mov', '', '', '', '', '', '', '']);
group(0xc7, Grp.G11_C7, 0, Imm.IZ, ['mov', '', '', '', '', '', '', '']);
def(0xc8, Op.D64, Imm.IW_IB, 'enter');
def(0xc9, Op.D64, Imm.NONE, 'leave');
def(0xca, 0, Imm.IW, 'retf');
def(0xcb, 0, Imm.NONE, 'retf');
def(0xcc, 0, Imm.NONE, 'int3');
def(0xcd, 0, Imm.IB, 'int');
def(0xce, Op.I64, Imm.NONE, 'into');
def(0xcf, 0, Imm.NONE, 'iret');
group(0xd0, Grp.G2_D0, Op.BYTE, Imm.NONE, SHIFT);
group(0xd1, Grp.G2_D1, 0, Imm.NONE, SHIFT);
group(0xd2, Grp.G2_D2, Op.BYTE, Imm.NONE, SHIFT);
group(0xd3, Grp.G2_D3, 0, Imm.NONE, SHIFT);
def([0xd4, 0xd5], Op.I64, Imm.IB, ['aam', 'aad']);
def(0xd6, Op.I64, Imm.NONE, 'salc');
def(0xd7, 0, Imm.NONE, 'xlat');
def(range(0xd8, 0xdf), Op.MODRM, Imm.NONE, 'x87');
def([0xe0, 0xe1, 0xe2, 0xe3], Op.F64 | Op.SX, Imm.IB, ['loopne', 'loope', 'loop', 'jcxz']);
def([0xe4, 0xe6], Op.BYTE, Imm.IB, ['in', 'out']);
def([0xe5, 0xe7], 0, Imm.IB, ['in', 'out']);
def([0xe8, 0xe9], Op.F64, Imm.IZ, ['call', 'jmp']);
def(0xea, Op.I64, Imm.AP, 'jmpf');
def(0xeb, Op.F64 | Op.SX, Imm.IB, 'jmp');
def([0xec, 0xee], Op.BYTE, Imm.NONE, ['in', 'out']);
def([0xed, 0xef], 0, Imm.NONE, ['in', 'out']);
def(0xf1, 0, Imm.NONE, 'int1');
def(0xf4, 0, Imm.NONE, 'hlt');
def(0xf5, 0, Imm.NONE, 'cmc');
group(0xf6, Grp.G3_F6, Op.BYTE, Imm.NONE, ['test', 'test', 'not', 'neg', 'mul', 'imul', 'div', 'idiv']);
group(0xf7, Grp.G3_F7, 0, Imm.NONE, ['test', 'test', 'not', 'neg', 'mul', 'imul', 'div', 'idiv']);
def(range(0xf8, 0xfd), 0, Imm.NONE, ['clc', 'stc', 'cli', 'sti', 'cld', 'std']);
group(0xfe, Grp.G4_FE, Op.BYTE, Imm.NONE, ['inc', 'dec', '', '', '', '', '', '']);
group(0xff, Grp.G5_FF, 0, Imm.NONE, ['inc', 'dec', 'call', 'callf', 'jmp', 'jmpf', 'push', '']);

// ---- 0F map (integer and system instructions; SSE rows come with the FPU/SSE unit) ----
const T = 0x100;
group(T + 0x00, Grp.G6_0F00, 0, Imm.NONE, ['sldt', 'str', 'lldt', 'ltr', 'verr', 'verw', '', '']);
group(T + 0x01, Grp.G7_0F01, 0, Imm.NONE, ['sgdt', 'sidt', 'lgdt', 'lidt', 'smsw', '', 'lmsw', 'invlpg']);
def([T + 0x02, T + 0x03], Op.MODRM, Imm.NONE, ['lar', 'lsl']);
def(T + 0x05, 0, Imm.NONE, 'syscall');
def(T + 0x06, 0, Imm.NONE, 'clts');
def(T + 0x07, 0, Imm.NONE, 'sysret');
def([T + 0x08, T + 0x09], 0, Imm.NONE, ['invd', 'wbinvd']);
def(T + 0x0b, 0, Imm.NONE, 'ud2');
def(T + 0x0d, Op.MODRM, Imm.NONE, 'prefetch');
group(T + 0x18, Grp.G16_0F18, 0, Imm.NONE, ['prefetchnta', 'prefetcht0', 'prefetcht1', 'prefetcht2', 'nop', 'nop', 'nop', 'nop']);
def(range(T + 0x19, T + 0x1f), Op.MODRM, Imm.NONE, 'nop');
def([T + 0x20, T + 0x21, T + 0x22, T + 0x23], Op.MODRM | Op.REGONLY, Imm.NONE, 'mov');
def(T + 0x30, 0, Imm.NONE, 'wrmsr');
def(T + 0x31, 0, Imm.NONE, 'rdtsc');
def(T + 0x32, 0, Imm.NONE, 'rdmsr');
def(T + 0x33, 0, Imm.NONE, 'rdpmc');
def(T + 0x34, 0, Imm.NONE, 'sysenter');
def(T + 0x35, 0, Imm.NONE, 'sysexit');
def(range(T + 0x40, T + 0x4f), Op.MODRM, Imm.NONE, CC.map((c) => 'cmov' + c));
def(range(T + 0x80, T + 0x8f), Op.F64, Imm.IZ, CC.map((c) => 'j' + c));
def(range(T + 0x90, T + 0x9f), Op.MODRM | Op.BYTE, Imm.NONE, CC.map((c) => 'set' + c));
def([T + 0xa0, T + 0xa8], Op.D64, Imm.NONE, 'push');
def([T + 0xa1, T + 0xa9], Op.D64, Imm.NONE, 'pop');
def(T + 0xa2, 0, Imm.NONE, 'cpuid');
def([T + 0xa3, T + 0xab, T + 0xb3, T + 0xbb], Op.MODRM, Imm.NONE, ['bt', 'bts', 'btr', 'btc']);
def([T + 0xa4, T + 0xac], Op.MODRM, Imm.IB, ['shld', 'shrd']);
def([T + 0xa5, T + 0xad], Op.MODRM, Imm.NONE, ['shld', 'shrd']);
def(T + 0xaf, Op.MODRM, Imm.NONE, 'imul');
def(T + 0xb0, Op.MODRM | Op.BYTE, Imm.NONE, 'cmpxchg');
def(T + 0xb1, Op.MODRM, Imm.NONE, 'cmpxchg');
def([T + 0xb2, T + 0xb4, T + 0xb5], Op.MODRM | Op.MEMONLY, Imm.NONE, ['lss', 'lfs', 'lgs']);
def([T + 0xb6, T + 0xbe], Op.MODRM, Imm.NONE, ['movzx', 'movsx']);
def([T + 0xb7, T + 0xbf], Op.MODRM, Imm.NONE, ['movzx', 'movsx']);
def(T + 0xb8, Op.MODRM, Imm.NONE, 'popcnt');
def(T + 0xb9, Op.MODRM, Imm.NONE, 'ud1');
group(T + 0xba, Grp.G8_0FBA, 0, Imm.IB, ['', '', '', '', 'bt', 'bts', 'btr', 'btc']);
def([T + 0xbc, T + 0xbd], Op.MODRM, Imm.NONE, ['bsf', 'bsr']);
def(T + 0xc0, Op.MODRM | Op.BYTE, Imm.NONE, 'xadd');
def(T + 0xc1, Op.MODRM, Imm.NONE, 'xadd');
group(T + 0xc7, Grp.G9_0FC7, 0, Imm.NONE, ['', 'cmpxchg8b', '', '', '', '', 'rdrand', 'rdseed']);
def(range(T + 0xc8, T + 0xcf), 0, Imm.NONE, 'bswap');
group(T + 0xae, Grp.G15_0FAE, 0, Imm.NONE, ['fxsave', 'fxrstor', 'ldmxcsr', 'stmxcsr', 'xsave', 'xrstor', 'xsaveopt', 'clflush']);
def(T + 0xff, Op.MODRM, Imm.NONE, 'ud0');

// ---- SSE/SSE2 (SDM vol. 2, table A-3): the mandatory prefix (none/66/F3/F2) selects the
// instruction at execution (exec-sse.ts); one row per opcode, named by its no-prefix or 66 form.
const SSE_ROWS: Array<[number, string, Imm?]> = [
  [0x10, 'movups'], [0x11, 'movups'], [0x12, 'movlps'], [0x13, 'movlps'], [0x14, 'unpcklps'], [0x15, 'unpckhps'],
  [0x16, 'movhps'], [0x17, 'movhps'], [0x28, 'movaps'], [0x29, 'movaps'], [0x2a, 'cvtsi2ss'], [0x2b, 'movntps'],
  [0x2c, 'cvttss2si'], [0x2d, 'cvtss2si'], [0x2e, 'ucomiss'], [0x2f, 'comiss'], [0x50, 'movmskps'], [0x51, 'sqrtps'],
  [0x52, 'rsqrtps'], [0x53, 'rcpps'], [0x54, 'andps'], [0x55, 'andnps'], [0x56, 'orps'], [0x57, 'xorps'],
  [0x58, 'addps'], [0x59, 'mulps'], [0x5a, 'cvtps2pd'], [0x5b, 'cvtdq2ps'], [0x5c, 'subps'], [0x5d, 'minps'],
  [0x5e, 'divps'], [0x5f, 'maxps'], [0x60, 'punpcklbw'], [0x61, 'punpcklwd'], [0x62, 'punpckldq'], [0x63, 'packsswb'],
  [0x64, 'pcmpgtb'], [0x65, 'pcmpgtw'], [0x66, 'pcmpgtd'], [0x67, 'packuswb'], [0x68, 'punpckhbw'], [0x69, 'punpckhwd'],
  [0x6a, 'punpckhdq'], [0x6b, 'packssdw'], [0x6c, 'punpcklqdq'], [0x6d, 'punpckhqdq'], [0x6e, 'movd'], [0x6f, 'movdqa'],
  [0x70, 'pshufd', Imm.IB], [0x71, 'psrlw', Imm.IB], [0x72, 'psrld', Imm.IB], [0x73, 'psrlq', Imm.IB],
  [0x74, 'pcmpeqb'], [0x75, 'pcmpeqw'], [0x76, 'pcmpeqd'], [0x7e, 'movd'], [0x7f, 'movdqa'],
  [0xc2, 'cmpps', Imm.IB], [0xc3, 'movnti'], [0xc4, 'pinsrw', Imm.IB], [0xc5, 'pextrw', Imm.IB], [0xc6, 'shufps', Imm.IB],
  [0xd1, 'psrlw'], [0xd2, 'psrld'], [0xd3, 'psrlq'], [0xd4, 'paddq'], [0xd5, 'pmullw'], [0xd6, 'movq'], [0xd7, 'pmovmskb'],
  [0xd8, 'psubusb'], [0xd9, 'psubusw'], [0xda, 'pminub'], [0xdb, 'pand'], [0xdc, 'paddusb'], [0xdd, 'paddusw'],
  [0xde, 'pmaxub'], [0xdf, 'pandn'], [0xe0, 'pavgb'], [0xe1, 'psraw'], [0xe2, 'psrad'], [0xe3, 'pavgw'], [0xe4, 'pmulhuw'],
  [0xe5, 'pmulhw'], [0xe6, 'cvttpd2dq'], [0xe7, 'movntdq'], [0xe8, 'psubsb'], [0xe9, 'psubsw'], [0xea, 'pminsw'],
  [0xeb, 'por'], [0xec, 'paddsb'], [0xed, 'paddsw'], [0xee, 'pmaxsw'], [0xef, 'pxor'], [0xf1, 'psllw'], [0xf2, 'pslld'],
  [0xf3, 'psllq'], [0xf4, 'pmuludq'], [0xf5, 'pmaddwd'], [0xf6, 'psadbw'], [0xf7, 'maskmovdqu'], [0xf8, 'psubb'],
  [0xf9, 'psubw'], [0xfa, 'psubd'], [0xfb, 'psubq'], [0xfc, 'paddb'], [0xfd, 'paddw'], [0xfe, 'paddd'],
];
/** 1 for the op ids of SSE_ROWS (the disassembler leaves them to a later pass). */
export const SSE_OP = new Uint8Array(0x400);
for (const [b, name, imm] of SSE_ROWS) {
  def(T + b, Op.MODRM, imm ?? Imm.NONE, name);
  SSE_OP[T + b] = 1;
}
def(T + 0x77, 0, Imm.NONE, 'emms');
SSE_OP[T + 0x77] = 1;

/**
 * Ops after which a straight-line block ends: every control transfer, and instructions that
 * fault or stop by design. (Instructions that change modes or devices end the run loop's
 * batch through breakLoop instead.)
 */
export const ENDS_BLOCK = new Uint8Array(OP_COUNT);
for (const op of [
  ...range(0x70, 0x7f), ...range(0xe0, 0xe3), 0xe8, 0xe9, 0xea, 0xeb, 0x9a, 0xc2, 0xc3, 0xca, 0xcb,
  0xcc, 0xcd, 0xce, 0xcf, 0xf1, 0xf4, ...range(T + 0x80, T + 0x8f), T + 0x05, T + 0x07, T + 0x0b, T + 0x34, T + 0x35,
  T + 0xb9, T + 0xff, 0x3ff, gop(Grp.G5_FF, 2), gop(Grp.G5_FF, 3), gop(Grp.G5_FF, 4), gop(Grp.G5_FF, 5),
]) ENDS_BLOCK[op] = 1;

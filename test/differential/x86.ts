// A small x86 instruction encoder for the differential test's generator: operands, and the
// prefix / REX / ModRM / SIB / displacement / immediate layout of SDM Vol.2 chapter 2
// (2.1 format, 2.1.5 ModR/M and SIB tables 2-1 to 2-3, 2.2.1 REX).

export type Mode = 16 | 32 | 64;
export type Size = 8 | 16 | 32 | 64;
export type AddrSize = 16 | 32 | 64;

export const RAX = 0, RCX = 1, RDX = 2, RBX = 3, RSP = 4, RBP = 5, RSI = 6, RDI = 7;

export interface Reg {
  kind: 'reg';
  /** 0-15 in encoding order; for high8 the register whose bits 15:8 are meant (0-3). */
  reg: number;
  size: Size;
  /** AH, CH, DH, BH (only without REX). */
  high8: boolean;
}

export interface Addr {
  asize: AddrSize;
  base: number | null | 'rip';
  index: number | null;
  scale: 1 | 2 | 4 | 8;
  /** Signed displacement; for 'rip', the absolute target address instead. */
  disp: number;
  /** Displacement width wanted (the encoder widens it when the form or the value needs). */
  dispBytes: 0 | 1 | 2 | 4;
  /** Segment-override prefix byte, if any. */
  seg?: number;
}

export interface Mem {
  kind: 'mem';
  size: Size;
  addr: Addr;
}

export type RM = Reg | Mem;

export function reg(r: number, size: Size, high8 = false): Reg {
  return { kind: 'reg', reg: r, size, high8 };
}

const N64 = ['rax', 'rcx', 'rdx', 'rbx', 'rsp', 'rbp', 'rsi', 'rdi'];
const N16 = ['ax', 'cx', 'dx', 'bx', 'sp', 'bp', 'si', 'di'];
const N8 = ['al', 'cl', 'dl', 'bl', 'spl', 'bpl', 'sil', 'dil'];
const H8 = ['ah', 'ch', 'dh', 'bh'];

export function regName(r: number, size: Size, high8 = false): string {
  if (high8) return H8[r]!;
  if (r >= 8) return `r${r}${size === 8 ? 'b' : size === 16 ? 'w' : size === 32 ? 'd' : ''}`;
  if (size === 64) return N64[r]!;
  if (size === 32) return 'e' + N16[r]!;
  if (size === 16) return N16[r]!;
  return N8[r]!;
}

const SEG_NAMES: Record<number, string> = { 0x26: 'es', 0x2e: 'cs', 0x36: 'ss', 0x3e: 'ds', 0x64: 'fs', 0x65: 'gs' };
const PTR: Record<Size, string> = { 8: 'byte', 16: 'word', 32: 'dword', 64: 'qword' };

function hex(n: number): string {
  return n < 0 ? `-0x${(-n).toString(16)}` : `0x${n.toString(16)}`;
}

export function addrText(a: Addr): string {
  const parts: string[] = [];
  if (a.base === 'rip') return `${a.seg ? SEG_NAMES[a.seg] + ':' : ''}[${a.asize === 32 ? 'eip' : 'rip'} -> ${hex(a.disp)}]`;
  if (a.base !== null) parts.push(regName(a.base, a.asize));
  if (a.index !== null) parts.push(regName(a.index, a.asize) + (a.scale > 1 ? `*${a.scale}` : ''));
  let s = parts.join('+');
  if (a.disp !== 0 || parts.length === 0) s += parts.length ? (a.disp < 0 ? hex(a.disp) : '+' + hex(a.disp)) : hex(a.disp);
  return `${a.seg ? SEG_NAMES[a.seg] + ':' : ''}[${s}]`;
}

export function opText(o: RM): string {
  return o.kind === 'reg' ? regName(o.reg, o.size, o.high8) : `${PTR[o.size]} ${addrText(o.addr)}`;
}

export interface Enc {
  mode: Mode;
  /** Legacy prefixes placed first (LOCK, REP, mandatory F3 ...). */
  prefixes?: number[];
  /** Operand size, for the 66h prefix and REX.W; omit for byte or size-less instructions. */
  opsize?: Size;
  /** Instructions whose operand size defaults to 64 in 64-bit mode (PUSH, POP): no REX.W. */
  default64?: boolean;
  opcode: number[];
  /** ModRM.reg: a register (0-15) or an opcode extension /digit. */
  regField?: number | Reg;
  rm?: RM;
  /** Register encoded in the low 3 bits of the last opcode byte (B8+r, 50+r, 0F C8+r...). */
  opreg?: Reg;
  imm?: { bytes: 1 | 2 | 4 | 8; value: bigint | number };
  /** Emit a REX prefix even when nothing needs it (a plain 40h). */
  forceRex?: boolean;
}

export interface Encoded {
  bytes: number[];
  /** Index of a RIP-relative disp32 to patch once the instruction's address is known. */
  ripDispAt?: number;
  ripTarget?: number;
}

function defaultAsize(mode: Mode): AddrSize {
  return mode === 16 ? 16 : mode === 32 ? 32 : 64;
}

function le(v: bigint | number, bytes: number): number[] {
  let x = BigInt.asUintN(bytes * 8, BigInt(v));
  const out: number[] = [];
  for (let i = 0; i < bytes; i++) {
    out.push(Number(x & 0xffn));
    x >>= 8n;
  }
  return out;
}

const MODRM16: Record<string, number> = {
  '3,6': 0, '3,7': 1, '5,6': 2, '5,7': 3, 'null,6': 4, 'null,7': 5, '5,null': 6, '3,null': 7,
};

export function encode(e: Enc): Encoded {
  const { mode } = e;
  const pre: number[] = [...(e.prefixes ?? [])];
  let rex = e.forceRex ? 0x40 : 0;
  let noRex = false;
  const fail = (why: string): never => {
    throw new Error(`cannot encode ${why} (mode ${mode}, opcode ${e.opcode.map((b) => b.toString(16)).join(' ')})`);
  };

  if (e.opsize === 64) {
    if (mode !== 64) fail('64-bit operand outside long mode');
    if (!e.default64) rex |= 0x48;
  } else if (e.opsize === 16 && mode !== 16) pre.push(0x66);
  else if (e.opsize === 32 && mode === 16) pre.push(0x66);
  else if (e.opsize === 32 && mode === 64 && e.default64) fail('32-bit push/pop in long mode');

  // A register operand: returns its 3-bit field and sets REX bits / constraints.
  const regBits = (r: Reg, rexBit: number): number => {
    if (r.high8) {
      if (r.reg > 3) fail('high-byte register above bh');
      noRex = true;
      return r.reg + 4;
    }
    if (r.reg >= 8) {
      if (mode !== 64) fail('r8-r15 outside long mode');
      rex |= 0x40 | rexBit;
    } else if (r.size === 8 && r.reg >= 4) {
      if (mode !== 64) fail('spl/bpl/sil/dil outside long mode');
      rex |= 0x40;
    }
    return r.reg & 7;
  };

  let modrm: number[] = [];
  let ripDispAt: number | undefined;
  let ripTarget: number | undefined;
  if (e.rm !== undefined) {
    let regf = 0;
    if (typeof e.regField === 'number') {
      if (e.regField >= 8) rex |= 0x44;
      regf = e.regField & 7;
    } else if (e.regField) regf = regBits(e.regField, 0x44);
    const rm = e.rm;
    if (rm.kind === 'reg') {
      modrm = [0xc0 | (regf << 3) | regBits(rm, 0x41)];
    } else {
      const a = rm.addr;
      if (a.seg !== undefined) pre.push(a.seg);
      if (a.asize !== defaultAsize(mode)) {
        const ok = (mode === 16 && a.asize === 32) || (mode === 32 && a.asize === 16) || (mode === 64 && a.asize === 32);
        if (!ok) fail(`address size ${a.asize}`);
        pre.push(0x67);
      }
      if (a.asize === 16) {
        if (a.base === 'rip' || a.scale !== 1) fail('16-bit address form');
        if (a.base === null && a.index === null) {
          modrm = [(regf << 3) | 6, ...le(a.disp, 2)];
        } else {
          const rmf = MODRM16[`${a.base},${a.index}`];
          if (rmf === undefined) fail('16-bit base/index pair');
          let db = a.dispBytes === 4 ? 2 : a.dispBytes;
          if (db === 0 && a.disp !== 0) db = 2;
          if (db === 1 && (a.disp < -128 || a.disp > 127)) db = 2;
          if (db === 0 && rmf === 6) db = 1; // [bp] needs a displacement
          const mod = db === 0 ? 0 : db === 1 ? 1 : 2;
          modrm = [(mod << 6) | (regf << 3) | rmf!, ...le(a.disp, db)];
        }
      } else if (a.base === 'rip') {
        if (mode !== 64) fail('RIP-relative outside long mode');
        modrm = [(regf << 3) | 5, 0, 0, 0, 0];
        ripDispAt = 1;
        ripTarget = a.disp;
      } else {
        const b = a.base;
        const i = a.index;
        if (i === RSP) fail('rsp as index');
        if ((b !== null && b >= 8) || (i !== null && i >= 8)) {
          if (mode !== 64) fail('r8-r15 outside long mode');
        }
        if (i !== null && i >= 8) rex |= 0x42;
        if (b !== null && b >= 8) rex |= 0x41;
        const scaleBits = { 1: 0, 2: 1, 4: 2, 8: 3 }[a.scale];
        if (b === null) {
          // [index*scale + disp32] or [disp32]: SIB with base=101, mod=00 (in 32-bit mode a plain
          // mod=00 rm=101 would do for [disp32], but in 64-bit mode that means RIP-relative).
          if (i === null && mode !== 64) modrm = [(regf << 3) | 5, ...le(a.disp, 4)];
          else modrm = [(regf << 3) | 4, (scaleBits << 6) | ((i === null ? 4 : i & 7) << 3) | 5, ...le(a.disp, 4)];
        } else {
          let db: number = a.dispBytes === 2 ? 4 : a.dispBytes;
          if (db === 0 && a.disp !== 0) db = 4;
          if (db === 1 && (a.disp < -128 || a.disp > 127)) db = 4;
          if (db === 0 && (b & 7) === 5) db = 1; // mod=00 base=101 means "no base"
          const mod = db === 0 ? 0 : db === 1 ? 1 : 2;
          if (i !== null || (b & 7) === 4) {
            const sib = (scaleBits << 6) | ((i === null ? 4 : i & 7) << 3) | (b & 7);
            modrm = [(mod << 6) | (regf << 3) | 4, sib, ...le(a.disp, db)];
          } else {
            modrm = [(mod << 6) | (regf << 3) | (b & 7), ...le(a.disp, db)];
          }
        }
      }
    }
  }
  const opcode = [...e.opcode];
  if (e.opreg) {
    const last = opcode.length - 1;
    opcode[last] = opcode[last]! | regBits(e.opreg, 0x41);
  }
  if (rex && noRex) fail('ah/ch/dh/bh together with a REX prefix');
  if (rex && mode !== 64) fail('REX outside long mode');
  const head = [...pre, ...(rex ? [rex] : []), ...opcode];
  const imm = e.imm ? le(e.imm.value, e.imm.bytes) : [];
  const bytes = [...head, ...modrm, ...imm];
  return ripDispAt === undefined ? { bytes } : { bytes, ripDispAt: head.length + ripDispAt, ripTarget };
}

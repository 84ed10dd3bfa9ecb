// Assembles a snippet instruction by instruction and works out, at the same time, which parts of
// the final state are architecturally defined, so the comparison can ignore the rest:
//  - flags: each instruction declares the flags it defines and those it leaves undefined (SDM
//    Vol.1 Appendix A, Table A-2, and each instruction's "Flags Affected" in Vol.2). An
//    instruction that reads a currently undefined flag (ADC, RCL, SETcc, CMOVcc, LAHF, PUSHF...)
//    is preceded by an inserted CMP of two defined registers, which defines all six status flags,
//    so undefined flags never leak into registers.
//  - registers: a register whose value is undefined (BSF/BSR with a zero source, ...) is
//    "tainted", and taint flows from an instruction's inputs to its outputs, per 32-bit half
//    (a 32-bit write in 64-bit mode zero-extends, so its upper half is always defined).
// The builder also tracks which register values are statically known (initial values, setup
// moves) and whether the data area still holds its initial pattern, so a generator can tell a
// zero source from a non-zero one.

import { SNIPPET_CODE_ADDR, SNIPPET_DATA_ADDR, SNIPPET_DATA_SIZE } from '../../src/machine/snippet.js';
import { snippetDataValue } from '../oracle/snippet-env.js';
import { encode, opText, reg, RSP, type Enc, type Mem, type Mode, type Reg, type RM, type Size } from './x86.js';

export const CF = 0x1, PF = 0x4, AF = 0x10, ZF = 0x40, SF = 0x80, DF = 0x400, OF = 0x800;
export const STATUS = CF | PF | AF | ZF | SF | OF;
/** The RFLAGS bits the differential test compares (the status flags and DF). */
export const COMPARED_FLAGS = STATUS | DF;

export type Part = 'l8' | 'h8' | '16' | '32' | '64';
export interface Access {
  reg: number;
  part: Part;
}

export function part(size: Size, high8 = false): Part {
  return high8 ? 'h8' : size === 8 ? 'l8' : size === 16 ? '16' : size === 32 ? '32' : '64';
}

/** The register access an operand makes (none for memory). */
export function acc(o: RM): Access[] {
  return o.kind === 'reg' ? [{ reg: o.reg, part: part(o.size, o.high8) }] : [];
}

export interface Effects {
  reads?: Access[];
  writes?: Access[];
  flagsRead?: number;
  /** Flags written with a defined value. */
  flagsDef?: number;
  /** Flags the instruction leaves architecturally undefined. */
  flagsUndef?: number;
  memRead?: boolean;
  /** Writes the data area (or the stack). */
  memWrite?: boolean;
  /** Written registers are undefined whatever the inputs (BSF/BSR's destination for a zero source);
   *  flags are not affected by this. */
  undefinedResult?: boolean;
  /** The bytes accessed start this far from the operand's effective address (BT with a register offset). */
  memDisp?: number;
  /** LEA: the memory operand is only an address computation. */
  noMemAccess?: boolean;
  /** Only the upper halves of these written registers are undefined (CMPXCHG r32 quirks). */
  undefinedHigh?: number[];
  /** The vector this instruction may raise (DIV/IDIV: 0); a deliberately faulting access is not
   *  range-checked. */
  fault?: number;
  /** PUSH/POP: moves RSP (not listed in writes: pushes and pops are balanced, RSP stays defined). */
  movesStack?: boolean;
  /** Register values known after the instruction (setup moves). */
  known?: Array<{ reg: number; value: bigint }>;
  /** New DF value, if the instruction sets it to a constant. */
  df?: 0 | 1;
}

export interface Env {
  mode: Mode;
  /** Pinned base register for memory operands (never written) and its value: a linear address
   *  in the data area (16-bit mode: an offset from DS base 0x20000). */
  base: number;
  baseVal: number;
  /** Pinned index register or null, and its small value. */
  index: number | null;
  indexVal: number;
  /** Registers no instruction may write: RSP, base, index. */
  pinned: number[];
  /** Number of GPRs usable in the mode (8 or 16). */
  nregs: number;
}

export interface CompareMask {
  /** Per GPR: compare bits 31:0 / bits 63:32. */
  lo: boolean[];
  hi: boolean[];
  flags: number;
}

export interface BuiltSnippet {
  code: Uint8Array;
  listing: string[];
  /** What to compare after a normal HLT. */
  atHlt: CompareMask;
  /** What to compare when the snippet stops on an exception (union over all instruction boundaries). */
  atException: CompareMask;
  /** Vectors the snippet may legitimately stop with. */
  faultVectors: number[];
}

const MASK64 = (1n << 64n) - 1n;

export class Builder {
  readonly bytes: number[] = [];
  readonly listing: string[] = [];
  private readonly tLo = new Array<boolean>(16).fill(false);
  private readonly tHi = new Array<boolean>(16).fill(false);
  private undef = 0;
  private memTaint = false;
  /** The data area may differ from its initial pattern. */
  memDirty = false;
  private readonly known: (bigint | null)[];
  private df: 0 | 1;
  private exLo = new Array<boolean>(16).fill(false);
  private exHi = new Array<boolean>(16).fill(false);
  private exUndef = 0;
  private readonly faults = new Set<number>();
  private inserted = 0;

  constructor(readonly env: Env, initial: bigint[], rflags: number) {
    this.known = initial.map((v) => v);
    this.df = rflags & DF ? 1 : 0;
  }

  get mode(): Mode {
    return this.env.mode;
  }

  /** Statically known value of a register operand (null if unknown). */
  knownReg(r: Reg): bigint | null {
    const v = this.known[r.reg];
    if (v === null || v === undefined || this.tLo[r.reg]) return null;
    if (r.high8) return (v >> 8n) & 0xffn;
    return v & ((1n << BigInt(r.size)) - 1n);
  }

  /** Linear address of a memory operand (its base and index are pinned, so it is static). */
  linear(m: Mem): number {
    const a = m.addr;
    if (a.base === 'rip') return a.disp;
    const val = (r: number | null) => (r === null ? 0 : r === this.env.base ? this.env.baseVal : r === this.env.index ? this.env.indexVal : NaN);
    const off = val(a.base) + val(a.index) * a.scale + a.disp;
    if (this.env.mode === 16) return SNIPPET_DATA_ADDR + ((a.asize === 16 ? off & 0xffff : off) >>> 0);
    return off;
  }

  /** Statically known value of a memory operand, while the data area is untouched. */
  knownMem(m: Mem): bigint | null {
    if (this.memDirty) return null;
    const lin = this.linear(m);
    return snippetDataValue(lin - SNIPPET_DATA_ADDR, m.size / 8);
  }

  knownOperand(o: RM): bigint | null {
    return o.kind === 'reg' ? this.knownReg(o) : this.knownMem(o);
  }

  get dfValue(): 0 | 1 {
    return this.df;
  }

  private isTainted(a: Access): boolean {
    return a.part === '64' ? this.tLo[a.reg]! || this.tHi[a.reg]! : this.tLo[a.reg]!;
  }

  /** A register not tainted in its low half, for the inserted flag-defining CMP. */
  private cleanReg(): number {
    const n = this.env.nregs;
    for (let k = 0; k < n; k++) {
      const r = (this.inserted * 3 + k) % n;
      if (!this.tLo[r]) return r;
    }
    return RSP;
  }

  /** Appends one machine instruction. */
  emit(text: string, enc: Enc, fx: Effects): void {
    const flagsRead = fx.flagsRead ?? 0;
    if (flagsRead & this.undef) {
      // CMP r32, r32 (39 /r) defines CF OF SF ZF AF PF and writes nothing else.
      const a = this.cleanReg();
      this.inserted++;
      const b = this.cleanReg();
      this.emit(`cmp ${opText(reg(a, 32))}, ${opText(reg(b, 32))}  ; inserted: defines the flags read next`,
        { mode: this.mode, opsize: 32, opcode: [0x39], regField: reg(b, 32), rm: reg(a, 32) },
        { reads: [{ reg: a, part: '32' }, { reg: b, part: '32' }], flagsDef: STATUS });
    }
    // Record the state at this boundary for the exception mask.
    this.noteBoundary();
    if (fx.fault !== undefined) this.faults.add(fx.fault);

    const e = encode(enc);
    const at = this.bytes.length;
    if (e.ripDispAt !== undefined) {
      const next = SNIPPET_CODE_ADDR + at + e.bytes.length;
      const d = (e.ripTarget! - next) | 0;
      e.bytes.splice(e.ripDispAt, 4, d & 0xff, (d >>> 8) & 0xff, (d >>> 16) & 0xff, (d >>> 24) & 0xff);
    }
    if (enc.rm?.kind === 'mem' && !fx.noMemAccess && fx.fault === undefined) this.checkRange(enc.rm, fx.memDisp ?? 0);
    this.bytes.push(...e.bytes);
    this.listing.push(`${e.bytes.map((b) => b.toString(16).padStart(2, '0')).join(' ').padEnd(36)} ${text}`);

    // Taint of the outputs: t from the inputs (regs, memory, flags), tr for written registers.
    let t = !!(flagsRead & this.undef) || (!!fx.memRead && this.memTaint);
    for (const r of fx.reads ?? []) if (this.isTainted(r)) t = true;
    const tr = t || !!fx.undefinedResult;
    for (const w of fx.writes ?? []) {
      if (this.env.pinned.includes(w.reg)) throw new Error(`generator bug: "${text}" writes pinned register ${w.reg}`);
      this.known[w.reg] = null;
      if (w.part === '64' || fx.undefinedResult) {
        this.tLo[w.reg] = tr;
        this.tHi[w.reg] = tr;
      } else if (w.part === '32' && this.mode === 64) {
        this.tLo[w.reg] = tr;
        this.tHi[w.reg] = false;
      } else {
        this.tLo[w.reg] = this.tLo[w.reg]! || tr;
      }
    }
    if (fx.movesStack) this.known[RSP] = null;
    for (const r of fx.undefinedHigh ?? []) this.tHi[r] = true;
    for (const k of fx.known ?? []) if (!tr) this.known[k.reg] = k.value & MASK64;
    if (fx.memWrite) {
      this.memDirty = true;
      if (t) this.memTaint = true;
    }
    const def = fx.flagsDef ?? 0;
    const und = fx.flagsUndef ?? 0;
    this.undef = (this.undef & ~(def | und)) | und | (t ? def : 0);
    if (fx.df !== undefined) this.df = fx.df;
  }

  private checkRange(m: Mem, disp: number): void {
    const lin = this.linear(m) + disp;
    if (!(lin >= SNIPPET_DATA_ADDR && lin + m.size / 8 <= SNIPPET_DATA_ADDR + SNIPPET_DATA_SIZE)) {
      throw new Error(`generator bug: memory operand ${opText(m)} at ${lin.toString(16)} outside the data area`);
    }
  }

  private noteBoundary(): void {
    for (let r = 0; r < 16; r++) {
      this.exLo[r] = this.exLo[r]! || this.tLo[r]!;
      this.exHi[r] = this.exHi[r]! || this.tHi[r]!;
    }
    this.exUndef |= this.undef;
  }

  private mask(lo: boolean[], hi: boolean[], undef: number): CompareMask {
    const n = this.env.nregs;
    return {
      lo: lo.map((t, r) => r < n && !t),
      hi: hi.map((t, r) => this.mode === 64 && r < n && !t),
      flags: COMPARED_FLAGS & ~undef,
    };
  }

  finish(): BuiltSnippet {
    this.noteBoundary();
    this.bytes.push(0xf4);
    this.listing.push(`${'f4'.padEnd(36)} hlt`);
    return {
      code: Uint8Array.from(this.bytes),
      listing: this.listing,
      atHlt: this.mask(this.tLo, this.tHi, this.undef),
      atException: this.mask(this.exLo, this.exHi, this.exUndef),
      faultVectors: [...this.faults].sort((a, b) => a - b),
    };
  }
}

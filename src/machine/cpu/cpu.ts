// The x86-64 CPU: architectural state, modes, paging with a software TLB, lazy flags,
// memory access and the interpreter loop. Instruction semantics live in the exec-*.ts
// files; exceptions, interrupts and descriptor tables in system.ts.
//
// Conventions (DESIGN.md "Speed conventions"): registers are two Int32Arrays of 32-bit
// halves (no BigInt), guest RAM is read through a DataView, decoded instructions are cached
// per physical page, and nothing in the loop allocates. A guest fault is a throw of the
// preallocated CPU_FAULT object, never `new Error`.

import type { GuestMemory } from '../memory.js';
import { DecodedStore, Info, Ea } from './decoded.js';
import { Decoder, DecodeStatus } from './decoder.js';
import { ENDS_BLOCK } from './opcode-table.js';

/** Op ids the 64-bit loop dispatches directly (see loop64). */
const DEC_RM = GROUP_BASE + Grp.G5_FF * 8 + 1;
const INC_RM = GROUP_BASE + Grp.G5_FF * 8;
const SHIFT_IMM = GROUP_BASE + Grp.G2_C1 * 8;
/** Groups 0x80-0x83: ALU r/m, imm (four consecutive groups of eight). */
const ALU_IMM = GROUP_BASE + Grp.G1_80 * 8;
import { LazyOp, SIGN_BIT, PARITY, ult64 } from './flags.js';
import { Flag, Cr0, Cr4, Efer, Seg, Vec, PfErr, ARITH_FLAGS, FLAGS_FIXED1, DescAttr } from './constants.js';
import { execute } from './execute.js';
import { alu64, incDecRm, shiftRm, aluRmImm, shift64Reg, isFastShift } from './exec-alu.js';
import { movRegRm, movRmReg } from './exec-data.js';
import { GROUP_BASE, Grp } from './opcode-table.js';
import { deliverEvent, EventKind } from './system.js';
import { FpuState } from './fpu-state.js';

/** What the CPU asks of the machine around it. Every call is at an exact icount. */
export interface CpuHost {
  ioRead(cpu: Cpu, port: number, size: number): number;
  ioWrite(cpu: Cpu, port: number, size: number, value: number): void;
  /** True when an IN/OUT the I/O privilege would refuse is served anyway (a hypervisor backdoor). */
  ioPermissionOverride?(cpu: Cpu, port: number): boolean;
  /** Fill out[0..3] with EAX, EBX, ECX, EDX. */
  /** CPUID: an exit when the guest executes it; `internal` when the CPU asks itself (CR4 checks), which is no exit and is not recorded. */
  cpuid(cpu: Cpu, leaf: number, subleaf: number, out: Int32Array, internal?: boolean): void;
  /** Fill out[0] (lo) and out[1] (hi); return false for #GP. */
  rdmsr(cpu: Cpu, msr: number, out: Int32Array): boolean;
  /** Return false for #GP. */
  wrmsr(cpu: Cpu, msr: number, lo: number, hi: number): boolean;
  /** VMCALL/VMMCALL; return false for #UD (no hypervisor interface claims it). */
  hypercall(cpu: Cpu, insn: 'vmcall' | 'vmmcall'): boolean;
  /** An external interrupt is pending (checked only when RFLAGS.IF=1 and no shadow). */
  interruptPending(cpu: Cpu): boolean;
  /** Acknowledge the pending interrupt and return its vector. */
  acknowledgeInterrupt(cpu: Cpu): number;
  /** MOV from/to CR8 in 64-bit mode: the task priority of the local APIC, when there is one. */
  readCr8?(cpu: Cpu): number;
  writeCr8?(cpu: Cpu, value: number): void;
  /** PAUSE executed (bhyve -P makes this an exit). */
  pause(cpu: Cpu): void;
}

/** Why run() returned. */
export const enum Stop {
  LIMIT = 0, // the instruction budget (or a timer deadline) was reached
  HLT = 1, // the CPU halted and no interrupt is deliverable now
  EXIT = 2, // the host asked to stop (an exit record is pending)
  SHUTDOWN = 3, // triple fault
  BREAK = 4, // something needs the machine's attention (I/O done, IF changed...)
}

/** The one object thrown for guest faults and host-requested stops. */
export const CPU_FAULT = { fault: true };
export const CPU_EXIT = { exit: true };

const TLB_BITS = 12;
const TLB_SIZE = 1 << TLB_BITS;
const TLB_MASK = TLB_SIZE - 1;
const INVALID_TAG = 1; // never equal to a page-aligned address

/** Access kinds for translation. */
export const enum Access { READ = 0, WRITE = 1, EXEC = 2 }

export class Cpu {
  // ---- general registers, RIP, RFLAGS ----
  readonly lo = new Int32Array(16);
  readonly hi = new Int32Array(16);
  ripLo = 0;
  ripHi = 0;
  /** Start of the instruction being executed (RIP for faults). */
  curLo = 0;
  curHi = 0;
  /** RFLAGS bits that are not currently lazy. */
  flagsReg = FLAGS_FIXED1;
  lfMask = 0;
  lfOp = LazyOp.NONE;
  lfSize = 0;
  lfRes = 0;
  lfResHi = 0;
  lfDst = 0;
  lfDstHi = 0;
  lfSrc = 0;
  lfSrcHi = 0;

  // ---- segments (selector, base halves, limit, attributes as DescAttr) ----
  readonly segSel = new Int32Array(6);
  readonly segBase = new Int32Array(6);
  readonly segBaseHi = new Int32Array(6);
  readonly segLimit = new Int32Array(6);
  readonly segAttr = new Int32Array(6);
  gdtBaseLo = 0;
  gdtBaseHi = 0;
  gdtLimit = 0xffff;
  idtBaseLo = 0;
  idtBaseHi = 0;
  idtLimit = 0xffff;
  ldtSel = 0;
  ldtBaseLo = 0;
  ldtBaseHi = 0;
  ldtLimit = 0;
  ldtAttr = 0;
  trSel = 0;
  trBaseLo = 0;
  trBaseHi = 0;
  trLimit = 0xffff;
  trAttr = 0x8b;

  // ---- control, debug, model-specific ----
  cr0 = Cr0.ET | Cr0.CD | Cr0.NW;
  cr2Lo = 0;
  cr2Hi = 0;
  cr3Lo = 0;
  cr3Hi = 0;
  cr4 = 0;
  cr8 = 0;
  efer = 0;
  readonly drLo = new Int32Array(8);
  readonly drHi = new Int32Array(8);
  /** MSRs the CPU itself implements (syscall, bases, PAT...), as [lo, hi] halves. */
  readonly msrLo = new Int32Array(16);
  readonly msrHi = new Int32Array(16);
  xcr0 = 1;
  /** x87 and SSE registers (fpu-state.ts). */
  readonly fpu = new FpuState();

  // ---- derived mode (recomputed by updateMode) ----
  /** Code size code: 1 = 16-bit, 2 = 32-bit, 3 = 64-bit. */
  codeSize = 1;
  /** Stack size code: 1 = 16-bit, 2 = 32-bit, 3 = 64-bit. */
  stackSize = 1;
  cpl = 0;
  long = false; // EFER.LMA
  protectedMode = false;
  pagingMode = 0; // 0 off, 2 = 32-bit, 3 = PAE, 4 = 4-level
  ipMask = 0xffff; // EIP wraps at 16 bits in 16-bit code
  /** CS base as instruction fetch uses it (0 in 64-bit mode). */
  csBase = 0;

  // ---- execution state ----
  halted = false;
  /** The icount (retired instructions) before which interrupts stay inhibited (STI/MOV SS shadow). */
  inhibitUntil = -1;
  /** Instructions retired by this CPU. */
  insns = 0;
  /** Set by instructions that change what the run loop must check (I/O, IF, mode...). */
  breakLoop = false;
  /** Set by the machine: return from run() after the current instruction. */
  stopRequest = false;
  /** Exception being raised. */
  excVec = 0;
  excErr = -1;
  /** Nesting of event delivery, for #DF and triple-fault detection. */
  deliveryDepth = 0;
  deliveringVec = -1;
  shutdown = false;
  /** NMI pending and blocked-by-NMI state. */
  nmiPending = false;
  nmiBlocked = false;
  /** If set and it returns true for an exception, the CPU stops (Stop.EXIT) instead of delivering it. */
  exceptionHook: ((vec: number, err: number) => boolean) | null = null;
  /** Scratch for host calls. */
  readonly scratch = new Int32Array(4);
  /** High half returned by 64-bit reads and EA computation. */
  rHi = 0;
  eaHi = 0;

  // ---- memory, TLB, decode cache ----
  readonly mem: GuestMemory;
  readonly view: DataView;
  readonly ram: Uint8Array;
  readonly ramSize: number;
  private readonly tlbHi = new Int32Array(TLB_SIZE);
  private readonly tlbPhys = new Int32Array(TLB_SIZE);
  private readonly tlbSR = new Int32Array(TLB_SIZE).fill(INVALID_TAG);
  private readonly tlbSW = new Int32Array(TLB_SIZE).fill(INVALID_TAG);
  private readonly tlbSX = new Int32Array(TLB_SIZE).fill(INVALID_TAG);
  private readonly tlbUR = new Int32Array(TLB_SIZE).fill(INVALID_TAG);
  private readonly tlbUW = new Int32Array(TLB_SIZE).fill(INVALID_TAG);
  private readonly tlbUX = new Int32Array(TLB_SIZE).fill(INVALID_TAG);
  /** Tag arrays used for ordinary accesses at the current privilege. */
  tlbR = this.tlbSR;
  tlbW = this.tlbSW;
  private tlbHasLarge = false;
  readonly store = new DecodedStore();
  readonly decoder = new Decoder(this.store);
  /** Per physical RAM page: slot+1 of the instruction decoded at each offset, or null. */
  private readonly codeTables: (Int32Array | null)[];
  private codeTableList: number[] = [];
  /** Fetch cache: the linear page and physical base of the current code page. */
  private fetchLinLo = INVALID_TAG;
  private fetchLinHi = 0;
  private fetchTable: Int32Array | null = null;
  private fetchPhys = 0;
  private decodeMode = 0;

  constructor(
    mem: GuestMemory,
    public host: CpuHost,
    public readonly id = 0,
  ) {
    this.mem = mem;
    this.view = mem.view;
    this.ram = mem.ram;
    this.ramSize = mem.size;
    this.codeTables = new Array(mem.size >>> 12).fill(null);
    mem.attachCodeCache(id, { invalidate: (page) => this.invalidateCodePage(page), dropWrites: (page) => this.dropWriteEntries(page) });
    this.resetState();
  }

  // =====================================================================================
  // Reset and mode
  // =====================================================================================

  /** Power-on state (SDM vol. 3, 10.1.1, table 10-1): real mode at F000:FFF0. */
  resetState(): void {
    this.lo.fill(0);
    this.hi.fill(0);
    this.lo[2] = 0x600; // EDX: family/model/stepping (family 6)
    this.ripLo = 0xfff0;
    this.ripHi = 0;
    this.setFlags(FLAGS_FIXED1);
    for (let s = 0; s < 6; s++) {
      this.segSel[s] = 0;
      this.segBase[s] = 0;
      this.segBaseHi[s] = 0;
      this.segLimit[s] = 0xffff;
      this.segAttr[s] = DescAttr.P | DescAttr.S | DescAttr.RW | DescAttr.A;
    }
    this.segSel[Seg.CS] = 0xf000;
    this.segBase[Seg.CS] = 0xffff0000 | 0;
    this.segAttr[Seg.CS] = DescAttr.P | DescAttr.S | DescAttr.EXEC | DescAttr.RW | DescAttr.A;
    this.gdtBaseLo = this.gdtBaseHi = 0;
    this.gdtLimit = 0xffff;
    this.idtBaseLo = this.idtBaseHi = 0;
    this.idtLimit = 0xffff;
    this.ldtSel = this.ldtBaseLo = this.ldtBaseHi = 0;
    this.ldtLimit = 0xffff;
    this.ldtAttr = 0x82;
    this.trSel = this.trBaseLo = this.trBaseHi = 0;
    this.trLimit = 0xffff;
    this.trAttr = 0x8b;
    this.cr0 = Cr0.ET | Cr0.CD | Cr0.NW;
    this.cr2Lo = this.cr2Hi = this.cr3Lo = this.cr3Hi = 0;
    this.cr4 = 0;
    this.cr8 = 0;
    this.efer = 0;
    this.drLo.fill(0);
    this.drHi.fill(0);
    this.drLo[6] = 0xffff0ff0 | 0;
    this.drLo[7] = 0x400;
    this.msrLo.fill(0);
    this.msrHi.fill(0);
    this.msrLo[MsrSlot.PAT] = 0x00070406;
    this.msrHi[MsrSlot.PAT] = 0x00070406;
    this.xcr0 = 1;
    this.fpu.reset();
    this.halted = false;
    this.inhibitUntil = -1;
    this.shutdown = false;
    this.nmiPending = false;
    this.nmiBlocked = false;
    this.deliveryDepth = 0;
    this.deliveringVec = -1;
    this.updateMode();
    this.flushTlb();
  }

  /** Recompute everything derived from CR0, EFER, CS and SS. Call after any change to them. */
  updateMode(): void {
    this.protectedMode = (this.cr0 & Cr0.PE) !== 0;
    this.long = (this.efer & Efer.LMA) !== 0;
    const csAttr = this.segAttr[Seg.CS];
    let codeSize: number;
    if (!this.protectedMode) {
      codeSize = 1;
      this.cpl = 0;
    } else {
      if (this.long && (csAttr & DescAttr.L) !== 0) codeSize = 3;
      else codeSize = (csAttr & DescAttr.DB) !== 0 ? 2 : 1;
      this.cpl = this.segSel[Seg.CS] & 3;
      if ((this.flagsReg & Flag.VM) !== 0) this.cpl = 3;
    }
    this.codeSize = codeSize;
    this.ipMask = codeSize === 1 ? 0xffff : -1;
    // 64-bit mode ignores the CS base (SDM vol. 1, 3.4.2.1).
    this.csBase = codeSize === 3 ? 0 : this.segBase[Seg.CS];
    this.stackSize = codeSize === 3 ? 3 : this.protectedMode && (this.segAttr[Seg.SS] & DescAttr.DB) !== 0 ? 2 : 1;
    if ((this.cr0 & Cr0.PG) === 0) this.pagingMode = 0;
    else if (this.long) this.pagingMode = 4;
    else if ((this.cr4 & Cr4.PAE) !== 0) this.pagingMode = 3;
    else this.pagingMode = 2;
    const user = this.cpl === 3;
    this.tlbR = user ? this.tlbUR : this.tlbSR;
    this.tlbW = user ? this.tlbUW : this.tlbSW;
    if (this.decodeMode !== codeSize) {
      // Cached decodes depend on the default operand/address size.
      this.decodeMode = codeSize;
      this.flushCodeCache();
    }
    this.fetchLinLo = INVALID_TAG;
    this.breakLoop = true;
  }

  // =====================================================================================
  // Registers
  // =====================================================================================

  /** Read a register of size code `size` (8-bit encodings 16-19 are AH..BH). */
  getReg(size: number, r: number): number {
    switch (size) {
      case 0:
        return r < 16 ? this.lo[r] & 0xff : (this.lo[r - 16] >> 8) & 0xff;
      case 1:
        return this.lo[r] & 0xffff;
      default:
        return this.lo[r];
    }
  }

  /** Write a register; 32-bit writes zero the upper half (SDM vol. 1, 3.4.1.1). For 64-bit use setReg64. */
  setReg(size: number, r: number, v: number): void {
    switch (size) {
      case 0:
        if (r < 16) this.lo[r] = (this.lo[r] & ~0xff) | (v & 0xff);
        else this.lo[r - 16] = (this.lo[r - 16] & ~0xff00) | ((v & 0xff) << 8);
        return;
      case 1:
        this.lo[r] = (this.lo[r] & ~0xffff) | (v & 0xffff);
        return;
      default:
        this.lo[r] = v;
        this.hi[r] = 0;
    }
  }

  setReg64(r: number, lo: number, hi: number): void {
    this.lo[r] = lo;
    this.hi[r] = hi;
  }

  // =====================================================================================
  // Flags
  // =====================================================================================

  getCF(): number {
    if ((this.lfMask & Flag.CF) === 0) return this.flagsReg & Flag.CF;
    const s = this.lfSize;
    switch (this.lfOp) {
      case LazyOp.ADD:
        return (s === 3 ? ult64(this.lfRes, this.lfResHi, this.lfDst, this.lfDstHi) : this.lfRes >>> 0 < this.lfDst >>> 0) ? 1 : 0;
      case LazyOp.ADC:
        return (s === 3 ? !ult64(this.lfDst, this.lfDstHi, this.lfRes, this.lfResHi) : this.lfRes >>> 0 <= this.lfDst >>> 0) ? 1 : 0;
      case LazyOp.SUB:
        return (s === 3 ? ult64(this.lfDst, this.lfDstHi, this.lfSrc, this.lfSrcHi) : this.lfDst >>> 0 < this.lfSrc >>> 0) ? 1 : 0;
      case LazyOp.SBB:
        return (s === 3 ? !ult64(this.lfSrc, this.lfSrcHi, this.lfDst, this.lfDstHi) : this.lfDst >>> 0 <= this.lfSrc >>> 0) ? 1 : 0;
      default:
        return 0;
    }
  }

  getZF(): boolean {
    if ((this.lfMask & Flag.ZF) === 0) return (this.flagsReg & Flag.ZF) !== 0;
    return this.lfSize === 3 ? (this.lfRes | this.lfResHi) === 0 : this.lfRes === 0;
  }

  getSF(): boolean {
    if ((this.lfMask & Flag.SF) === 0) return (this.flagsReg & Flag.SF) !== 0;
    return this.lfSize === 3 ? this.lfResHi < 0 : (this.lfRes & SIGN_BIT[this.lfSize]) !== 0;
  }

  getOF(): boolean {
    if ((this.lfMask & Flag.OF) === 0) return (this.flagsReg & Flag.OF) !== 0;
    const s = this.lfSize;
    const d = s === 3 ? this.lfDstHi : this.lfDst;
    const r = s === 3 ? this.lfResHi : this.lfRes;
    const src = s === 3 ? this.lfSrcHi : this.lfSrc;
    switch (this.lfOp) {
      case LazyOp.ADD:
      case LazyOp.ADC:
        return (((d ^ r) & (src ^ r)) & SIGN_BIT[s]) !== 0;
      case LazyOp.SUB:
      case LazyOp.SBB:
        return (((d ^ src) & (d ^ r)) & SIGN_BIT[s]) !== 0;
      default:
        return false;
    }
  }

  getPF(): boolean {
    if ((this.lfMask & Flag.PF) === 0) return (this.flagsReg & Flag.PF) !== 0;
    return PARITY[this.lfRes & 0xff] !== 0;
  }

  getAF(): boolean {
    if ((this.lfMask & Flag.AF) === 0) return (this.flagsReg & Flag.AF) !== 0;
    if (this.lfOp === LazyOp.LOGIC) return false;
    return ((this.lfDst ^ this.lfSrc ^ this.lfRes) & 0x10) !== 0;
  }

  /** The full RFLAGS value (low 32 bits; the upper half is reserved zero). */
  getFlags(): number {
    if (this.lfMask === 0) return this.flagsReg;
    let f = this.flagsReg & ~this.lfMask;
    const m = this.lfMask;
    if (m & Flag.CF) f |= this.getCF();
    if (m & Flag.PF && this.getPF()) f |= Flag.PF;
    if (m & Flag.AF && this.getAF()) f |= Flag.AF;
    if (m & Flag.ZF && this.getZF()) f |= Flag.ZF;
    if (m & Flag.SF && this.getSF()) f |= Flag.SF;
    if (m & Flag.OF && this.getOF()) f |= Flag.OF;
    return f;
  }

  /** Replace RFLAGS wholesale (callers apply privilege rules first). */
  setFlags(v: number): void {
    const oldIF = this.flagsReg & Flag.IF;
    const oldVM = this.flagsReg & Flag.VM;
    this.flagsReg = (v & 0x3f7fd7) | FLAGS_FIXED1;
    this.lfMask = 0;
    if ((this.flagsReg & Flag.IF) !== oldIF) this.breakLoop = true;
    if ((this.flagsReg & Flag.VM) !== oldVM) this.updateMode();
  }

  /** Make the given arithmetic flags concrete in flagsReg (before a partial update). */
  materialize(mask: number): void {
    const lazy = this.lfMask & mask;
    if (lazy === 0) return;
    let f = this.flagsReg & ~lazy;
    if ((lazy & Flag.CF) !== 0) f |= this.getCF();
    if ((lazy & Flag.PF) !== 0 && this.getPF()) f |= Flag.PF;
    if ((lazy & Flag.AF) !== 0 && this.getAF()) f |= Flag.AF;
    if ((lazy & Flag.ZF) !== 0 && this.getZF()) f |= Flag.ZF;
    if ((lazy & Flag.SF) !== 0 && this.getSF()) f |= Flag.SF;
    if ((lazy & Flag.OF) !== 0 && this.getOF()) f |= Flag.OF;
    this.flagsReg = f;
    this.lfMask &= ~lazy;
  }

  /**
   * Set arithmetic flags eagerly: `values` holds the new bits for the flags in `mask`. The
   * other flags stay as they are, lazy or not (the lazy record is still valid for them).
   */
  setArith(mask: number, values: number): void {
    this.flagsReg = (this.flagsReg & ~mask) | (values & mask);
    this.lfMask &= ~mask;
  }

  /** Record a lazy ALU result (32-bit or narrower; values already masked to the size).
   *  The high halves are only read when lfSize is 3, so they are not written here. */
  lazy(op: LazyOp, size: number, dst: number, src: number, res: number): void {
    this.lfOp = op;
    this.lfSize = size;
    this.lfDst = dst;
    this.lfSrc = src;
    this.lfRes = res;
    this.lfMask = ARITH_FLAGS;
  }

  lazy64(op: LazyOp, dLo: number, dHi: number, sLo: number, sHi: number, rLo: number, rHi: number): void {
    this.lfOp = op;
    this.lfSize = 3;
    this.lfDst = dLo;
    this.lfDstHi = dHi;
    this.lfSrc = sLo;
    this.lfSrcHi = sHi;
    this.lfRes = rLo;
    this.lfResHi = rHi;
    this.lfMask = ARITH_FLAGS;
  }

  /** Evaluate condition code cc (0-15, SDM vol. 1, appendix B). */
  cond(cc: number): boolean {
    let r: boolean;
    switch (cc >> 1) {
      case 0: r = this.getOF(); break;
      case 1: r = this.getCF() !== 0; break;
      case 2: r = this.getZF(); break;
      case 3: r = this.getCF() !== 0 || this.getZF(); break;
      case 4: r = this.getSF(); break;
      case 5: r = this.getPF(); break;
      case 6: r = this.getSF() !== this.getOF(); break;
      default: r = this.getZF() || this.getSF() !== this.getOF(); break;
    }
    return (cc & 1) !== 0 ? !r : r;
  }

  // =====================================================================================
  // Faults
  // =====================================================================================

  /** Raise exception `vec` (with error code `err`, or -1 for none). Never returns. */
  fault(vec: number, err = -1): never {
    this.excVec = vec;
    this.excErr = err;
    throw CPU_FAULT;
  }

  /** Stop before the current instruction retires; the host has recorded an exit. */
  requestExit(): never {
    throw CPU_EXIT;
  }

  // =====================================================================================
  // Paging and the TLB (SDM vol. 3, chapter 4)
  // =====================================================================================

  flushTlb(): void {
    this.tlbSR.fill(INVALID_TAG);
    this.tlbSW.fill(INVALID_TAG);
    this.tlbSX.fill(INVALID_TAG);
    this.tlbUR.fill(INVALID_TAG);
    this.tlbUW.fill(INVALID_TAG);
    this.tlbUX.fill(INVALID_TAG);
    this.tlbHasLarge = false;
    this.fetchLinLo = INVALID_TAG;
  }

  /** INVLPG: drop the translation of one linear page (all of it for a large page). */
  invalidatePage(lo: number, hi: number): void {
    if (this.tlbHasLarge) {
      this.flushTlb();
      return;
    }
    const i = (lo >>> 12) & TLB_MASK;
    if (this.tlbHi[i] === hi) {
      this.tlbSR[i] = this.tlbSW[i] = this.tlbSX[i] = INVALID_TAG;
      this.tlbUR[i] = this.tlbUW[i] = this.tlbUX[i] = INVALID_TAG;
    }
    this.fetchLinLo = INVALID_TAG;
  }

  /**
   * Translate a linear address (as halves) for an access; fills the TLB when the page is
   * plain RAM. `user` is the privilege of the access (implicit supervisor accesses pass
   * false). Returns the physical address (a non-negative number, possibly above 2^32).
   */
  translate(lo: number, hi: number, access: Access, user: boolean): number {
    const pageLo = lo & ~0xfff;
    if (this.pagingMode === 0) {
      const pa = lo >>> 0;
      this.fillTlb(pageLo, hi, pa - (pa & 0xfff), true, true, true, true);
      return pa;
    }
    if (this.pagingMode === 4) {
      // Canonical check (SDM vol. 1, 3.3.7.1): bits 63:47 all equal.
      const top = hi >> 15;
      if (top !== 0 && top !== -1) this.fault(this.stackFaultHint ? Vec.SS : Vec.GP, 0);
    }
    return this.walk(lo, hi, access, user);
  }

  /** Set by stack accesses so a non-canonical stack address raises #SS instead of #GP. */
  stackFaultHint = false;

  private walk(lo: number, hi: number, access: Access, user: boolean): number {
    const write = access === Access.WRITE;
    const mem = this.mem;
    const nxe = (this.efer & Efer.NXE) !== 0;
    let writable = true;
    let usr = true;
    let nx = false;
    let pteAddr: number;
    let pte: number;
    let pteHi = 0;
    let pageBase: number; // physical base of the page frame
    let pageOffsetMask: number; // bits of the linear address inside the page
    const errBase = (write ? PfErr.W : 0) | (user ? PfErr.U : 0) | (access === Access.EXEC && (nxe || (this.cr4 & Cr4.SMEP) !== 0) ? PfErr.I : 0);
    const entries: number[] = this.walkEntries;
    entries.length = 0;

    const fail = (present: boolean, rsvd = false): never => {
      this.cr2Lo = lo;
      this.cr2Hi = hi;
      this.fault(Vec.PF, errBase | (present ? PfErr.P : 0) | (rsvd ? PfErr.RSVD | PfErr.P : 0));
    };

    if (this.pagingMode === 2) {
      // 32-bit paging: CR3 -> PD (1024 entries) -> PT (SDM vol. 3, 4.3).
      pteAddr = ((this.cr3Lo & 0xfffff000) >>> 0) + ((lo >>> 22) << 2);
      pte = this.physRead32(pteAddr);
      if ((pte & 1) === 0) fail(false);
      writable = (pte & 2) !== 0;
      usr = (pte & 4) !== 0;
      entries.push(pteAddr);
      if ((pte & 0x80) !== 0 && (this.cr4 & Cr4.PSE) !== 0) {
        // 4 MiB page; PSE-36 high bits ignored (our physical space is below 4 GiB).
        pageBase = (pte & 0xffc00000) >>> 0;
        pageOffsetMask = 0x3fffff;
        this.tlbHasLarge = true;
      } else {
        pteAddr = ((pte & 0xfffff000) >>> 0) + (((lo >>> 12) & 0x3ff) << 2);
        pte = this.physRead32(pteAddr);
        if ((pte & 1) === 0) fail(false);
        writable = writable && (pte & 2) !== 0;
        usr = usr && (pte & 4) !== 0;
        entries.push(pteAddr);
        pageBase = (pte & 0xfffff000) >>> 0;
        pageOffsetMask = 0xfff;
      }
    } else {
      let tableBase: number;
      let level: number;
      if (this.pagingMode === 3) {
        // PAE: CR3 -> PDPT (4 entries) -> PD -> PT (SDM vol. 3, 4.4).
        const pdpteAddr = ((this.cr3Lo & 0xffffffe0) >>> 0) + ((lo >>> 30) << 3);
        pte = this.physRead32(pdpteAddr);
        pteHi = this.physRead32(pdpteAddr + 4);
        if ((pte & 1) === 0) fail(false);
        if ((pte & 0x1e6) !== 0 || (pteHi & ~0x7f) !== 0) fail(true, true);
        tableBase = this.frame(pte, pteHi);
        level = 2;
      } else {
        tableBase = (this.cr3Hi & 0x7f) * 4294967296 + ((this.cr3Lo & 0xfffff000) >>> 0);
        level = 4;
      }
      for (;;) {
        // Index bits of this level: 4 -> 47:39, 3 -> 38:30, 2 -> 29:21, 1 -> 20:12.
        let index: number;
        if (level === 4) index = (hi >>> 7) & 0x1ff;
        else if (level === 3) index = (lo >>> 30) | ((hi & 0x7f) << 2);
        else if (level === 2) index = (lo >>> 21) & 0x1ff;
        else index = (lo >>> 12) & 0x1ff;
        if (level === 3) index &= 0x1ff;
        pteAddr = tableBase + index * 8;
        pte = this.physRead32(pteAddr);
        pteHi = this.physRead32(pteAddr + 4);
        if ((pte & 1) === 0) fail(false);
        // Reserved: XD without EFER.NXE, and address bits 51:39 above our MAXPHYADDR of 39.
        if ((pteHi < 0 && !nxe) || (pteHi & 0x000fff80) !== 0) fail(true, true);
        writable = writable && (pte & 2) !== 0;
        usr = usr && (pte & 4) !== 0;
        if (nxe && pteHi < 0) nx = true;
        entries.push(pteAddr);
        const ps = (pte & 0x80) !== 0;
        if (level === 1 || (ps && (level === 2 || level === 3))) {
          if (level === 3) {
            if ((pte & 0x3fffe000) !== 0) fail(true, true);
            pageBase = (pteHi & 0x7f) * 4294967296 + ((pte & 0xc0000000) >>> 0);
            pageOffsetMask = 0x3fffffff;
            this.tlbHasLarge = true;
          } else if (level === 2) {
            if ((pte & 0x1fe000) !== 0) fail(true, true);
            pageBase = (pteHi & 0x7f) * 4294967296 + ((pte & 0xffe00000) >>> 0);
            pageOffsetMask = 0x1fffff;
            this.tlbHasLarge = true;
          } else {
            pageBase = this.frame(pte, pteHi);
            pageOffsetMask = 0xfff;
          }
          break;
        }
        if (ps && level === 4) fail(true, true);
        tableBase = this.frame(pte, pteHi);
        level--;
      }
    }

    // Permission checks (SDM vol. 3, 4.6).
    const wp = (this.cr0 & Cr0.WP) !== 0;
    if (user && !usr) fail(true);
    if (write && !writable && (user || wp)) fail(true);
    if (access === Access.EXEC && nx) fail(true);
    if (access === Access.EXEC && !user && usr && (this.cr4 & Cr4.SMEP) !== 0) fail(true);

    // Accessed flags on every level, dirty on the final entry for writes (SDM vol. 3, 4.8).
    const last = entries.length - 1;
    for (let i = 0; i <= last; i++) {
      const a = entries[i];
      const v = this.physRead32(a);
      let nv = v | 0x20;
      if (i === last && write) nv |= 0x40;
      if (nv !== v) this.physWrite32(a, nv);
    }
    const dirty = write || (this.physRead32(entries[last]) & 0x40) !== 0;

    const offsetInPage = (lo & pageOffsetMask & ~0xfff) >>> 0;
    const frame4k = pageBase + offsetInPage;
    const pa = frame4k + (lo & 0xfff);
    const sw = dirty && (writable || !wp);
    const uw = dirty && writable && usr;
    this.fillTlb(lo & ~0xfff, hi, frame4k, usr, sw, uw, !nx);
    return pa;
  }

  private readonly walkEntries: number[] = [];

  private frame(lo: number, hi: number): number {
    // `&` yields a signed int32: convert back so frames at or above 2 GiB stay positive.
    return (hi & 0x7f) * 4294967296 + ((lo & 0xfffff000) >>> 0);
  }

  private fillTlb(pageLo: number, hi: number, frame: number, usr: boolean, sw: boolean, uw: boolean, exec: boolean): void {
    const i = (pageLo >>> 12) & TLB_MASK;
    // Only plain RAM gets fast-path entries; MMIO and unbacked pages always take the slow path.
    const ram = this.mem.isRam(frame, 4096);
    this.tlbSR[i] = this.tlbSW[i] = this.tlbSX[i] = INVALID_TAG;
    this.tlbUR[i] = this.tlbUW[i] = this.tlbUX[i] = INVALID_TAG;
    if (!ram) return;
    this.tlbHi[i] = hi;
    this.tlbPhys[i] = frame;
    const code = this.mem.codePages[frame >>> 12] !== 0;
    this.tlbSR[i] = pageLo;
    if (sw && !code) this.tlbSW[i] = pageLo;
    if (exec) this.tlbSX[i] = pageLo;
    if (usr) {
      this.tlbUR[i] = pageLo;
      if (uw && !code) this.tlbUW[i] = pageLo;
      if (exec) this.tlbUX[i] = pageLo;
    }
  }

  physRead32(pa: number): number {
    if (pa >= 0 && pa + 4 <= this.ramSize) return this.view.getInt32(pa, true);
    return this.mem.physRead(pa, 4);
  }

  physWrite32(pa: number, v: number): void {
    this.mem.physWrite(pa, 4, v);
  }

  // =====================================================================================
  // Memory access by linear address (lo, hi). Fast path: TLB hit on RAM, no page crossing.
  // =====================================================================================

  rd8(lo: number, hi: number): number {
    const i = (lo >>> 12) & TLB_MASK;
    if (this.tlbR[i] === (lo & ~0xfff) && this.tlbHi[i] === hi) return this.ram[this.tlbPhys[i] + (lo & 0xfff)];
    return this.readSlow(lo, hi, 1, this.cpl === 3);
  }

  rd16(lo: number, hi: number): number {
    const i = (lo >>> 12) & TLB_MASK;
    if (this.tlbR[i] === (lo & ~0xfff) && this.tlbHi[i] === hi && (lo & 0xfff) <= 0xffe) {
      return this.view.getUint16(this.tlbPhys[i] + (lo & 0xfff), true);
    }
    return this.readSlow(lo, hi, 2, this.cpl === 3);
  }

  rd32(lo: number, hi: number): number {
    const i = (lo >>> 12) & TLB_MASK;
    if (this.tlbR[i] === (lo & ~0xfff) && this.tlbHi[i] === hi && (lo & 0xfff) <= 0xffc) {
      return this.view.getInt32(this.tlbPhys[i] + (lo & 0xfff), true);
    }
    return this.readSlow(lo, hi, 4, this.cpl === 3);
  }

  /** 64-bit read: returns the low half, the high half in this.rHi. */
  rd64(lo: number, hi: number): number {
    const i = (lo >>> 12) & TLB_MASK;
    if (this.tlbR[i] === (lo & ~0xfff) && this.tlbHi[i] === hi && (lo & 0xfff) <= 0xff8) {
      const pa = this.tlbPhys[i] + (lo & 0xfff);
      this.rHi = this.view.getInt32(pa + 4, true);
      return this.view.getInt32(pa, true);
    }
    const user = this.cpl === 3;
    const l = this.readSlow(lo, hi, 4, user);
    const nlo = (lo + 4) | 0;
    this.rHi = this.readSlow(nlo, nlo >>> 0 < 4 ? (hi + 1) | 0 : hi, 4, user);
    return l;
  }

  wr8(lo: number, hi: number, v: number): void {
    const i = (lo >>> 12) & TLB_MASK;
    if (this.tlbW[i] === (lo & ~0xfff) && this.tlbHi[i] === hi) {
      this.ram[this.tlbPhys[i] + (lo & 0xfff)] = v;
      return;
    }
    this.writeSlow(lo, hi, 1, v, this.cpl === 3);
  }

  wr16(lo: number, hi: number, v: number): void {
    const i = (lo >>> 12) & TLB_MASK;
    if (this.tlbW[i] === (lo & ~0xfff) && this.tlbHi[i] === hi && (lo & 0xfff) <= 0xffe) {
      this.view.setUint16(this.tlbPhys[i] + (lo & 0xfff), v, true);
      return;
    }
    this.writeSlow(lo, hi, 2, v, this.cpl === 3);
  }

  wr32(lo: number, hi: number, v: number): void {
    const i = (lo >>> 12) & TLB_MASK;
    if (this.tlbW[i] === (lo & ~0xfff) && this.tlbHi[i] === hi && (lo & 0xfff) <= 0xffc) {
      this.view.setInt32(this.tlbPhys[i] + (lo & 0xfff), v, true);
      return;
    }
    this.writeSlow(lo, hi, 4, v, this.cpl === 3);
  }

  wr64(lo: number, hi: number, vLo: number, vHi: number): void {
    const i = (lo >>> 12) & TLB_MASK;
    if (this.tlbW[i] === (lo & ~0xfff) && this.tlbHi[i] === hi && (lo & 0xfff) <= 0xff8) {
      const pa = this.tlbPhys[i] + (lo & 0xfff);
      this.view.setInt32(pa, vLo, true);
      this.view.setInt32(pa + 4, vHi, true);
      return;
    }
    // Check both halves are writable before writing either (no torn writes on #PF).
    const user = this.cpl === 3;
    const nlo = (lo + 4) | 0;
    const nhi = nlo >>> 0 < 4 ? (hi + 1) | 0 : hi;
    this.probeWrite(lo, hi, 4, user);
    this.probeWrite(nlo, nhi, 4, user);
    this.writeSlow(lo, hi, 4, vLo, user);
    this.writeSlow(nlo, nhi, 4, vHi, user);
  }

  /** Read `size` bytes (1, 2 or 4) anywhere: page-crossing, MMIO, unbacked memory. */
  readSlow(lo: number, hi: number, size: number, user: boolean): number {
    const off = lo & 0xfff;
    if (off + size > 0x1000) {
      let v = 0;
      for (let k = 0; k < size; k++) {
        const a = (lo + k) | 0;
        const ah = a >>> 0 < lo >>> 0 ? (hi + 1) | 0 : hi;
        v |= this.readSlow(a, ah, 1, user) << (8 * k);
      }
      return size === 4 ? v : v & (size === 2 ? 0xffff : 0xff);
    }
    const pa = this.translate(lo, hi, Access.READ, user);
    if (pa >= 0 && pa + size <= this.ramSize && (this.mem.mmio.length === 0 || this.mem.findMmio(pa) === null)) {
      if (size === 1) return this.ram[pa];
      if (size === 2) return this.view.getUint16(pa, true);
      return this.view.getInt32(pa, true);
    }
    this.breakLoop = true;
    const v = this.mem.physRead(pa, size);
    return size === 4 ? v | 0 : size === 2 ? v & 0xffff : v & 0xff;
  }

  writeSlow(lo: number, hi: number, size: number, v: number, user: boolean): void {
    const off = lo & 0xfff;
    if (off + size > 0x1000) {
      // Translate every byte first so a #PF on the second page leaves memory untouched.
      for (let k = 0; k < size; k++) {
        const a = (lo + k) | 0;
        this.probeWrite(a, a >>> 0 < lo >>> 0 ? (hi + 1) | 0 : hi, 1, user);
      }
      for (let k = 0; k < size; k++) {
        const a = (lo + k) | 0;
        this.writeSlow(a, a >>> 0 < lo >>> 0 ? (hi + 1) | 0 : hi, 1, (v >> (8 * k)) & 0xff, user);
      }
      return;
    }
    const pa = this.translate(lo, hi, Access.WRITE, user);
    if (pa >= this.ramSize || (this.mem.mmio.length !== 0 && this.mem.findMmio(pa) !== null)) this.breakLoop = true;
    this.mem.physWrite(pa, size, v);
  }

  private probeWrite(lo: number, hi: number, _size: number, user: boolean): void {
    this.translate(lo, hi, Access.WRITE, user);
  }

  /** Memory operand read of size code `size` at a linear address; 64-bit high half in rHi. */
  rdSize(size: number, lo: number, hi: number): number {
    switch (size) {
      case 0: return this.rd8(lo, hi);
      case 1: return this.rd16(lo, hi);
      case 2: return this.rd32(lo, hi);
      default: return this.rd64(lo, hi);
    }
  }

  wrSize(size: number, lo: number, hi: number, v: number, vHi: number): void {
    switch (size) {
      case 0: this.wr8(lo, hi, v); return;
      case 1: this.wr16(lo, hi, v); return;
      case 2: this.wr32(lo, hi, v); return;
      default: this.wr64(lo, hi, v, vHi);
    }
  }

  /** Implicit supervisor accesses (descriptor tables, TSS, interrupt stacks at CPL change). */
  supervisorRead(lo: number, hi: number, size: number): number {
    return this.readSlow(lo, hi, size, false);
  }
  supervisorWrite(lo: number, hi: number, size: number, v: number): void {
    this.writeSlow(lo, hi, size, v, false);
  }

  // =====================================================================================
  // Effective addresses (SDM vol. 2, 2.1.5) and segments
  // =====================================================================================

  /** Linear address of slot d's memory operand; high half in this.eaHi. */
  ea(d: number): number {
    const s = this.store;
    const e = s.ea[d];
    const info = s.info[d];
    const base = e & 31;
    const index = (e >> Ea.INDEX_SHIFT) & 31;
    const seg = (info >> Info.SEG_SHIFT) & 7;
    const asize = (info >> Info.ASIZE_SHIFT) & 3;
    let lo = s.disp[d];
    if (asize === 3) {
      let hi = lo >> 31;
      let t: number;
      if (base < 16) {
        t = (lo >>> 0) + (this.lo[base] >>> 0);
        lo = t | 0;
        hi = (hi + this.hi[base] + (t > 0xffffffff ? 1 : 0)) | 0;
      } else if (base === Ea.RIP) {
        t = (lo >>> 0) + (this.ripLo >>> 0);
        lo = t | 0;
        hi = (hi + this.ripHi + (t > 0xffffffff ? 1 : 0)) | 0;
      }
      if (index < 16) {
        const sc = (e >> Ea.SCALE_SHIFT) & 3;
        let il = this.lo[index];
        let ih = this.hi[index];
        if (sc !== 0) {
          ih = (ih << sc) | (il >>> (32 - sc));
          il <<= sc;
        }
        t = (lo >>> 0) + (il >>> 0);
        lo = t | 0;
        hi = (hi + ih + (t > 0xffffffff ? 1 : 0)) | 0;
      }
      if (seg >= Seg.FS) {
        t = (lo >>> 0) + (this.segBase[seg] >>> 0);
        lo = t | 0;
        hi = (hi + this.segBaseHi[seg] + (t > 0xffffffff ? 1 : 0)) | 0;
      }
      // A non-canonical address faults: #SS when it is SS-based (RSP/RBP base), else #GP (SDM vol. 1, 3.3.7.1).
      const top = hi >> 15;
      if (top !== 0 && top !== -1) this.fault(seg === Seg.SS ? Vec.SS : Vec.GP, 0);
      this.eaHi = hi;
      return lo;
    }
    if (base < 16) lo = (lo + this.lo[base]) | 0;
    else if (base === Ea.RIP) lo = (lo + this.ripLo) | 0;
    if (index < 16) lo = (lo + (this.lo[index] << ((e >> Ea.SCALE_SHIFT) & 3))) | 0;
    if (asize === 1) lo &= 0xffff;
    this.eaSeg = seg;
    this.eaOff = lo;
    return this.segAddr(seg, lo);
  }

  /** Segment and offset of the last legacy-mode memory operand (for checkSeg). */
  eaSeg = 0;
  eaOff = 0;

  /**
   * Segment limit and type checks for an access of `bytes` bytes at `off` in `seg`
   * (SDM vol. 3, 5.3 and 5.4.1). 64-bit mode has none; a fault is #SS for SS, else #GP(0).
   */
  checkSeg(seg: number, off: number, bytes: number, write: boolean): void {
    if (this.codeSize === 3) return;
    const attr = this.segAttr[seg];
    if (this.protectedMode) {
      if ((attr & DescAttr.P) === 0) this.segFault(seg); // null or unusable selector
      if ((attr & DescAttr.EXEC) !== 0) {
        if (write || (attr & DescAttr.RW) === 0) this.segFault(seg);
      } else if (write && (attr & DescAttr.RW) === 0) this.segFault(seg);
    }
    const limit = this.segLimit[seg] >>> 0;
    const start = off >>> 0;
    const end = start + bytes - 1;
    if ((attr & (DescAttr.EXEC | DescAttr.DC)) === DescAttr.DC && this.protectedMode) {
      // Expand-down data segment: valid offsets are limit+1 .. 0xffff or 0xffffffff.
      const upper = (attr & DescAttr.DB) !== 0 ? 0xffffffff : 0xffff;
      if (start <= limit || end > upper) this.segFault(seg);
    } else if (end > limit) this.segFault(seg);
  }

  private segFault(seg: number): never {
    return this.fault(seg === Seg.SS ? Vec.SS : Vec.GP, 0);
  }

  /** Linear address of offset `off` (already wrapped to the address size) in segment `seg`. */
  segAddr(seg: number, off: number): number {
    if (this.codeSize === 3) {
      // 64-bit mode: only FS and GS have bases; a 32-bit offset is zero-extended.
      if (seg >= Seg.FS) {
        const t = (off >>> 0) + (this.segBase[seg] >>> 0);
        this.eaHi = (this.segBaseHi[seg] + (t > 0xffffffff ? 1 : 0)) | 0;
        return t | 0;
      }
      this.eaHi = 0;
      return off;
    }
    this.eaHi = 0;
    return (off + this.segBase[seg]) | 0;
  }

  // =====================================================================================
  // Stack (SDM vol. 1, 6.2)
  // =====================================================================================

  /** Push a value of size code `size` (1, 2 or 3). Writes first, then commits RSP. */
  push(size: number, v: number, vHi: number): void {
    const n = size === 1 ? 2 : size === 2 ? 4 : 8;
    this.stackFaultHint = true;
    if (this.stackSize === 3) {
      const t = (this.lo[4] >>> 0) - n;
      const lo = t | 0;
      const hi = (this.hi[4] + (t < 0 ? -1 : 0)) | 0;
      this.wrSize(size, lo, hi, v, vHi);
      this.lo[4] = lo;
      this.hi[4] = hi;
    } else if (this.stackSize === 2) {
      const sp = (this.lo[4] - n) | 0;
      this.checkSeg(Seg.SS, sp, n, true);
      this.wrSize(size, (sp + this.segBase[Seg.SS]) | 0, 0, v, vHi);
      this.lo[4] = sp;
      this.hi[4] = 0;
    } else {
      const sp = (this.lo[4] - n) & 0xffff;
      this.checkSeg(Seg.SS, sp, n, true);
      this.wrSize(size, (sp + this.segBase[Seg.SS]) | 0, 0, v, vHi);
      this.lo[4] = (this.lo[4] & ~0xffff) | sp;
    }
    this.stackFaultHint = false;
  }

  /** Pop a value of size code `size`; the high half of a 64-bit value in rHi. */
  pop(size: number): number {
    const v = this.peek(size, 0);
    this.adjustSp(size === 1 ? 2 : size === 2 ? 4 : 8);
    return v;
  }

  /** Read the stack at RSP + offset without moving it. */
  peek(size: number, offset: number): number {
    this.stackFaultHint = true;
    let v: number;
    if (this.stackSize === 3) {
      const t = (this.lo[4] >>> 0) + offset;
      v = this.rdSize(size, t | 0, (this.hi[4] + (t > 0xffffffff ? 1 : 0)) | 0);
    } else if (this.stackSize === 2) {
      this.checkSeg(Seg.SS, (this.lo[4] + offset) | 0, size === 1 ? 2 : size === 2 ? 4 : 8, false);
      v = this.rdSize(size, (this.lo[4] + offset + this.segBase[Seg.SS]) | 0, 0);
    } else {
      this.checkSeg(Seg.SS, (this.lo[4] + offset) & 0xffff, size === 1 ? 2 : size === 2 ? 4 : 8, false);
      v = this.rdSize(size, (((this.lo[4] + offset) & 0xffff) + this.segBase[Seg.SS]) | 0, 0);
    }
    this.stackFaultHint = false;
    return v;
  }

  adjustSp(n: number): void {
    if (this.stackSize === 3) {
      const t = (this.lo[4] >>> 0) + n;
      this.lo[4] = t | 0;
      this.hi[4] = (this.hi[4] + (t > 0xffffffff ? 1 : t < 0 ? -1 : 0)) | 0;
    } else if (this.stackSize === 2) {
      this.lo[4] = (this.lo[4] + n) | 0;
      this.hi[4] = 0;
    } else {
      this.lo[4] = (this.lo[4] & ~0xffff) | ((this.lo[4] + n) & 0xffff);
    }
  }

  // =====================================================================================
  // Decode cache
  // =====================================================================================

  private invalidateCodePage(page: number): void {
    if (this.codeTables[page] !== null) this.codeTables[page] = null;
    this.mem.unmarkCodePage(page, this.id);
    if (this.fetchPhys >>> 12 === page) this.fetchLinLo = INVALID_TAG;
    // Self-modifying code: the instruction after the store must see the new bytes.
    this.breakLoop = true;
  }

  flushCodeCache(): void {
    for (const p of this.codeTableList) {
      this.codeTables[p] = null;
      this.mem.unmarkCodePage(p, this.id);
    }
    this.codeTableList = [];
    this.store.next = 1;
    this.fetchLinLo = INVALID_TAG;
  }

  /** Make physical page `page` a code page: no write fast path to it from now on. */
  private makeCodeTable(page: number): Int32Array {
    const t = new Int32Array(4096);
    this.codeTables[page] = t;
    this.codeTableList.push(page);
    // Every vCPU drops its write entries that point at this frame (dropWriteEntries).
    this.mem.markCodePage(page, this.id);
    return t;
  }

  /** No write fast path to physical page `page` any more (it holds decoded code). */
  private dropWriteEntries(page: number): void {
    const frame = page << 12;
    for (let i = 0; i < TLB_SIZE; i++) {
      if (this.tlbPhys[i] === frame) this.tlbSW[i] = this.tlbUW[i] = INVALID_TAG;
    }
  }

  /** Decoded slot for the instruction at the current RIP (faults like a fetch would). */
  fetchDecode(): number {
    const linLo = (this.ripLo + this.csBase) | 0;
    const linHi = this.codeSize === 3 ? this.ripHi : 0;
    const pageLo = linLo & ~0xfff;
    if (pageLo !== this.fetchLinLo || linHi !== this.fetchLinHi) this.refreshFetch(linLo, linHi);
    const off = linLo & 0xfff;
    const table = this.fetchTable;
    if (table !== null) {
      const slot = table[off];
      if (slot !== 0) return slot;
    }
    return this.decodeAt(linLo, linHi, off);
  }

  private refreshFetch(linLo: number, linHi: number): void {
    const i = (linLo >>> 12) & TLB_MASK;
    const pageLo = linLo & ~0xfff;
    const xt = this.cpl === 3 ? this.tlbUX : this.tlbSX;
    let phys: number;
    if (xt[i] === pageLo && this.tlbHi[i] === linHi) phys = this.tlbPhys[i];
    else {
      const pa = this.translate(linLo, linHi, Access.EXEC, this.cpl === 3);
      phys = pa - (pa & 0xfff);
    }
    this.fetchLinLo = pageLo;
    this.fetchLinHi = linHi;
    this.fetchPhys = phys;
    if (this.mem.isRam(phys, 4096)) {
      const page = phys >>> 12;
      this.fetchTable = this.codeTables[page] ?? this.makeCodeTable(page);
    } else {
      this.fetchTable = null; // executing from MMIO or unbacked memory: decode every time
    }
  }

  private decodeAt(linLo: number, linHi: number, off: number): number {
    if (this.store.full) {
      this.flushCodeCache();
      this.refreshFetch(linLo, linHi);
    }
    this.store.reserve();
    const dec = this.decoder;
    const w = dec.window;
    const phys = this.fetchPhys;
    const table = this.fetchTable;
    const cacheable = table !== null && !this.store.full;
    this.fillWindow(phys, off);
    const first = cacheable ? this.store.next : 0;
    const st = dec.decode(first, this.codeSize);
    if (st === DecodeStatus.NEED_MORE) {
      // The instruction continues on the next page: fetch it (may #PF) and do not cache.
      const n = dec.windowLen;
      const nextLo = (linLo - off + 4096) | 0;
      const nextHi = nextLo === 0 ? (linHi + 1) | 0 : linHi;
      const pa = this.translate(nextLo, nextHi, Access.EXEC, this.cpl === 3);
      for (let k = n; k < 16; k++) w[k] = this.mem.physRead(pa + (k - n), 1) & 0xff;
      dec.windowLen = 16;
      dec.decode(0, this.codeSize);
      this.store.rem[0] = 1;
      return 0;
    }
    if (!cacheable) {
      this.store.rem[0] = 1;
      return 0;
    }
    // Decode the rest of the straight-line block into the following slots, so the run loop
    // steps slot by slot without looking each instruction up (QEMU's translation blocks, in
    // decoded form). The block stops at a control transfer, the page end, an instruction
    // already decoded, or 32 instructions.
    const s = this.store;
    let slot = first;
    let o = off;
    s.next++;
    table[o] = slot;
    let count = 1;
    while (count < 32 && ENDS_BLOCK[s.op[slot]] === 0) {
      o += this.decoder.length;
      if (o >= 4096 || table[o] !== 0) break;
      s.reserve();
      if (s.full) break;
      this.fillWindow(phys, o);
      const next = s.next;
      if (dec.decode(next, this.codeSize) !== DecodeStatus.OK) break; // page end or #UD: decode it when reached
      slot = next;
      s.next++;
      table[o] = slot;
      count++;
    }
    for (let i = 0; i < count; i++) s.rem[first + i] = count - i;
    return first;
  }

  /** Copy the bytes of the code page at `off` (up to 16, not past the page) into the decoder window. */
  private fillWindow(phys: number, off: number): void {
    const dec = this.decoder;
    const w = dec.window;
    const n = Math.min(16, 4096 - off);
    if (phys + 4096 <= this.ramSize) {
      for (let k = 0; k < n; k++) w[k] = this.ram[phys + off + k];
    } else {
      for (let k = 0; k < n; k++) w[k] = this.mem.physRead(phys + off + k, 1) & 0xff;
    }
    dec.windowLen = n;
  }

  // =====================================================================================
  // The run loop
  // =====================================================================================

  /**
   * Run until `limit` instructions have retired in total (this.insns), or something stops
   * the CPU. Interrupts are taken only between instructions, when RFLAGS.IF=1 and no
   * interrupt shadow is active, so the icount of every event is exact.
   */
  run(limit: number): Stop {
    if (this.shutdown) return Stop.SHUTDOWN;
    for (;;) {
      if (this.insns >= limit) return Stop.LIMIT;
      // Events at this instruction boundary.
      if (this.nmiPending && !this.nmiBlocked) {
        this.nmiPending = false;
        this.halted = false;
        if (!this.deliver(Vec.NMI, -1, EventKind.NMI)) return Stop.SHUTDOWN;
      } else if ((this.flagsReg & Flag.IF) !== 0 && this.insns >= this.inhibitUntil && this.host.interruptPending(this)) {
        const vec = this.host.acknowledgeInterrupt(this);
        this.halted = false;
        if (!this.deliver(vec, -1, EventKind.EXTERNAL)) return Stop.SHUTDOWN;
      }
      if (this.halted) return Stop.HLT;
      this.breakLoop = false;
      if ((this.flagsReg & Flag.TF) !== 0) {
        const r = this.singleStep();
        if (r !== Stop.BREAK) return r;
        continue;
      }
      // Inside an STI/MOV SS shadow, stop right after it so a pending interrupt is taken
      // at exactly the first boundary where it is allowed.
      const r = this.runBatch(this.insns < this.inhibitUntil ? Math.min(limit, this.inhibitUntil) : limit);
      if (this.stopRequest) {
        // The machine asked to stop after this instruction (debug-exit, reset, PAUSE exit).
        this.stopRequest = false;
        return r;
      }
      if (r === Stop.LIMIT && this.insns < limit) continue;
      if (r !== Stop.BREAK) return r;
    }
  }

  /**
   * Interpret until the limit or until an instruction sets breakLoop. `insns` is updated per
   * retired instruction so a device called in the middle of an instruction sees the exact count.
   */
  private runBatch(limit: number): Stop {
    if (this.codeSize === 3) return this.runBatch64(limit);
    let info = this.store.info;
    let ops = this.store.op;
    try {
      while (this.insns < limit) {
        const cur = this.ripLo;
        const curHi = this.ripHi;
        this.curLo = cur;
        this.curHi = curHi;
        // Fetch: the common case is a cached decode on the current code page (fetchDecode
        // handles page changes, misses and decoding).
        const lin = (cur + this.csBase) | 0;
        const table = this.fetchTable;
        let d = 0;
        if (table !== null && (lin & ~0xfff) === this.fetchLinLo && (this.codeSize === 3 ? curHi : 0) === this.fetchLinHi) d = table[lin & 0xfff];
        if (d === 0) {
          d = this.fetchDecode();
          info = this.store.info; // decoding may have grown the store
          ops = this.store.op;
        }
        const inf = info[d];
        const next = (cur + ((inf >> Info.LEN_SHIFT) & 15)) & this.ipMask;
        if (next >>> 0 < cur >>> 0 && this.codeSize === 3) this.ripHi = (curHi + 1) | 0;
        this.ripLo = next;
        execute(this, d, ops[d], inf);
        this.insns++;
        if (this.breakLoop) return this.halted ? Stop.HLT : Stop.BREAK;
      }
      return Stop.LIMIT;
    } catch (e) {
      return this.afterThrow(e);
    }
  }

  /**
   * A batch ended in a throw: restore RIP to the instruction (which did not retire, so the
   * icount stays exact) and deliver its fault, or report the host's stop.
   */
  private afterThrow(e: unknown): Stop {
    this.ripLo = this.curLo;
    this.ripHi = this.curHi;
    if (e === CPU_EXIT) return Stop.EXIT;
    if (e !== CPU_FAULT) throw e;
    try {
      if (!this.deliver(this.excVec, this.excErr, EventKind.FAULT)) return Stop.SHUTDOWN;
    } catch (e2) {
      if (e2 === CPU_EXIT) return Stop.EXIT;
      throw e2;
    }
    return Stop.BREAK;
  }

  /**
   * runBatch specialised for 64-bit mode, the hot case: no CS base, no IP wrap at 16 bits,
   * and the retired count kept in a local that is published to `insns` before each
   * instruction (so devices and faults still see the exact count).
   */
  private runBatch64(limit: number): Stop {
    try {
      return this.loop64(limit);
    } catch (e) {
      return this.afterThrow(e); // loop64 published the count before the faulting instruction
    }
  }

  /** The 64-bit interpreter loop proper (kept free of try/catch so V8 optimises it fully). */
  private loop64(limit: number): Stop {
    const s = this.store;
    let info = s.info;
    let ops = s.op;
    let rem = s.rem;
    let n = this.insns;
    while (n < limit) {
      const cur0 = this.ripLo;
      const curHi = this.ripHi;
      this.curLo = cur0; // a fetch fault reports the instruction being fetched
      this.curHi = curHi; // RIP's high half cannot change inside a block
      const table = this.fetchTable;
      let d = 0;
      if (table !== null && (cur0 & ~0xfff) === this.fetchLinLo && curHi === this.fetchLinHi) d = table[cur0 & 0xfff];
      if (d === 0) {
        this.insns = n;
        d = this.fetchDecode();
        info = s.info; // decoding may have grown the store
        ops = s.op;
        rem = s.rem;
        // The fetch's page walk can drop decoded code (A/D updates) or change what the loop
        // must check; the inline forms below do not look at breakLoop, so stop here.
        if (this.breakLoop) return this.halted ? Stop.HLT : Stop.BREAK;
      }
      // Step through the straight-line block: the next slot is d + 1. The block is cut short
      // so the instruction limit (a timer deadline or the caller's budget) is met exactly.
      let left = rem[d];
      if (left > limit - n) left = limit - n;
      for (;;) {
        const cur = this.ripLo;
        const inf = info[d];
        const next = (cur + ((inf >> Info.LEN_SHIFT) & 15)) | 0;
        if (next >>> 0 < cur >>> 0) this.ripHi = (curHi + 1) | 0;
        this.ripLo = next;
        const op = ops[d];
        if (op < 0x40 && (op & 7) < 4 && (inf & (Info.MEM | Info.OSIZE_MASK)) === 3) {
          // Inline: 64-bit register-register ALU, the commonest instruction form. It calls no
          // host and cannot fault, so the count and RIP need not be published for it.
          const reg = (inf >> Info.REG_SHIFT) & 31;
          const rm = (inf >> Info.RM_SHIFT) & 31;
          const dst = (op & 2) === 0 ? rm : reg;
          const src = (op & 2) === 0 ? reg : rm;
          const res = alu64(this, op >> 3, this.lo[dst], this.hi[dst], this.lo[src], this.hi[src]);
          if (op >> 3 !== 7) {
            this.lo[dst] = res;
            this.hi[dst] = this.rHi;
          }
        } else if (op >= 0x70 && op <= 0x7f) {
          // Jcc rel8: loop branches (the block ends here).
          if (op === 0x75 ? !this.getZF() : op === 0x74 ? this.getZF() : this.cond(op & 15)) {
            const t = (next >>> 0) + s.imm[d];
            this.ripLo = t | 0;
            if (t > 0xffffffff || t < 0) {
              const hi = (curHi + (t < 0 ? -1 : 1)) | 0;
              if (hi >> 15 !== 0 && hi >> 15 !== -1) {
                // A non-canonical target is #GP(0) on the jump itself (SDM Jcc, 64-bit mode).
                this.insns = n;
                this.curLo = cur;
                this.fault(Vec.GP, 0);
              }
              this.ripHi = hi;
            }
          }
        } else if (op >= SHIFT_IMM && op < SHIFT_IMM + 8 && (inf & (Info.MEM | Info.OSIZE_MASK)) === 3 && isFastShift(op & 7) && (s.imm[d] & 63) !== 0) {
          // 64-bit register shift/rotate by an immediate: calls no host, cannot fault.
          shift64Reg(this, (inf >> Info.RM_SHIFT) & 31, op & 7, s.imm[d] & 63);
        } else {
          // Everything else may call the host or fault: publish the exact count and RIP first.
          this.insns = n;
          this.curLo = cur;
          if (op === DEC_RM || op === INC_RM) incDecRm(this, d, op === DEC_RM);
          else if (op >= SHIFT_IMM && op < SHIFT_IMM + 8) shiftRm(this, d, op & 7, s.imm[d]);
          else if (op === 0x8b) movRegRm(this, d);
          else if (op === 0x89) movRmReg(this, d);
          else if (op >= ALU_IMM && op < ALU_IMM + 32) aluRmImm(this, d, op & 7);
          else execute(this, d, op, inf);
          if (this.breakLoop) {
            this.insns = n + 1;
            return this.halted ? Stop.HLT : Stop.BREAK;
          }
        }
        n++;
        if (--left === 0 || this.ripLo !== next) break;
        d++;
      }
    }
    this.insns = n;
    return Stop.LIMIT;
  }

  /** Events delivered so far (lets single-step tell a plain instruction from one that delivered). */
  deliveries = 0;

  /**
   * RFLAGS.TF was set at the start of the next instruction: run exactly that instruction,
   * then take the single-step #DB trap with DR6.BS (SDM vol. 3, 18.3.1.4), unless the
   * instruction faulted or delivered an event of its own.
   */
  private singleStep(): Stop {
    const before = this.insns;
    const deliveries = this.deliveries;
    const r = this.runBatch(before + 1);
    if (this.insns === before + 1 && this.deliveries === deliveries && !this.shutdown && r !== Stop.EXIT) {
      this.drLo[6] |= 0x4000;
      this.halted = false;
      try {
        if (!this.deliver(Vec.DB, -1, EventKind.FAULT)) return Stop.SHUTDOWN;
      } catch (e) {
        if (e === CPU_EXIT) return Stop.EXIT;
        throw e;
      }
    }
    if (this.stopRequest) {
      this.stopRequest = false;
      return r === Stop.LIMIT ? Stop.BREAK : r;
    }
    return r === Stop.LIMIT || r === Stop.HLT ? (this.halted ? Stop.HLT : Stop.BREAK) : r;
  }

  /** Deliver an event; false on triple fault (the CPU is then shut down). */
  deliver(vec: number, err: number, kind: EventKind): boolean {
    deliverEvent(this, vec, err, kind);
    return !this.shutdown;
  }
}

/** Slots of the CPU's own MSR storage (Cpu.msrLo/msrHi). */
export const enum MsrSlot {
  STAR = 0, LSTAR = 1, CSTAR = 2, FMASK = 3, KERNEL_GS_BASE = 4, SYSENTER_CS = 5,
  SYSENTER_ESP = 6, SYSENTER_EIP = 7, PAT = 8, TSC_AUX = 9, MISC_ENABLE = 10, APIC_BASE = 11,
  TSC_DEADLINE = 12, SPEC_CTRL = 13,
}

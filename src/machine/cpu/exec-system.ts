// System instructions: descriptor-table loads and stores, MOV to/from CR/DR, CLTS, LMSW/SMSW,
// INVLPG, RDMSR/WRMSR, CPUID, RDTSC/RDTSCP, SWAPGS, VMCALL/VMMCALL, LAR/LSL/VERR/VERW,
// XGETBV/XSETBV, FXSAVE/FXRSTOR placeholders for the FPU unit, CLI/STI (SDM vol. 2 and 3).

import type { Cpu } from './cpu.js';
import { MsrSlot } from './cpu.js';
import { Info } from './decoded.js';
import { Cr0, Cr4, Efer, Flag, Msr, Seg, Vec, DescAttr } from './constants.js';
import { readRm, writeRm, regField, rmField, osizeOf, isMem, writeReg } from './operands.js';
import { loadLdt, loadTaskRegister, cr0Changed } from './system.js';

function requireCpl0(c: Cpu): void {
  if (c.protectedMode && c.cpl !== 0) c.fault(Vec.GP, 0);
}

/** SGDT/SIDT: 2-byte limit then the base (4 bytes outside 64-bit mode, 8 inside). */
export function storeTable(c: Cpu, d: number, idt: boolean): void {
  if (!isMem(c, d)) c.fault(Vec.UD);
  if ((c.cr4 & Cr4.UMIP) !== 0 && c.cpl > 0) c.fault(Vec.GP, 0);
  const lo = c.ea(d);
  const hi = c.eaHi;
  c.wr16(lo, hi, idt ? c.idtLimit : c.gdtLimit);
  const baseLo = idt ? c.idtBaseLo : c.gdtBaseLo;
  const baseHi = idt ? c.idtBaseHi : c.gdtBaseHi;
  if (c.codeSize === 3) c.wr64((lo + 2) | 0, hi, baseLo, baseHi);
  else c.wr32((lo + 2) | 0, hi, baseLo);
}

/** LGDT/LIDT (a 16-bit operand size loads a 24-bit base). */
export function loadTable(c: Cpu, d: number, idt: boolean): void {
  if (!isMem(c, d)) c.fault(Vec.UD);
  requireCpl0(c);
  const lo = c.ea(d);
  const hi = c.eaHi;
  const limit = c.rd16(lo, hi);
  let baseLo: number;
  let baseHi = 0;
  if (c.codeSize === 3) {
    baseLo = c.rd64((lo + 2) | 0, hi);
    baseHi = c.rHi;
    // A non-canonical base is #GP(0): hardware and KVM's emulator (em_lgdt_lidt) refuse it,
    // and kvm-unit-tests x86/la57.c expects it (SDM vol. 3, 2.4.1: the base is a linear address).
    const top = baseHi >> 15;
    if (top !== 0 && top !== -1) c.fault(Vec.GP, 0);
  } else {
    baseLo = c.rd32((lo + 2) | 0, hi);
    if (osizeOf(c, d) === 1) baseLo &= 0xffffff;
  }
  if (idt) {
    c.idtLimit = limit;
    c.idtBaseLo = baseLo;
    c.idtBaseHi = baseHi;
  } else {
    c.gdtLimit = limit;
    c.gdtBaseLo = baseLo;
    c.gdtBaseHi = baseHi;
  }
}

export function group6(c: Cpu, d: number, reg: number): void {
  if (!c.protectedMode || (c.flagsReg & Flag.VM) !== 0) c.fault(Vec.UD);
  switch (reg) {
    case 0: // SLDT
    case 1: // STR
      if ((c.cr4 & Cr4.UMIP) !== 0 && c.cpl > 0) c.fault(Vec.GP, 0);
      writeRm(c, d, isMem(c, d) ? 1 : osizeOf(c, d), reg === 0 ? c.ldtSel : c.trSel, 0);
      return;
    case 2: // LLDT
      requireCpl0(c);
      loadLdt(c, readRm(c, d, 1));
      return;
    case 3: // LTR
      requireCpl0(c);
      loadTaskRegister(c, readRm(c, d, 1));
      return;
    case 4: // VERR
    case 5: // VERW
      verify(c, readRm(c, d, 1), reg === 5);
      return;
    default:
      c.fault(Vec.UD);
  }
}

/** Read a descriptor for LAR/LSL/VERR/VERW without faulting; null if unusable. */
function peekDescriptor(c: Cpu, sel: number): [number, number] | null {
  if ((sel & ~3) === 0) return null;
  const ldt = (sel & 4) !== 0;
  const limit = ldt ? c.ldtLimit : c.gdtLimit;
  if ((sel & ~7) + 7 > limit >>> 0) return null;
  const base = ((ldt ? c.ldtBaseLo : c.gdtBaseLo) + (sel & ~7)) | 0;
  const hi = c.long ? (ldt ? c.ldtBaseHi : c.gdtBaseHi) : 0;
  return [c.supervisorRead(base, hi, 4), c.supervisorRead((base + 4) | 0, hi, 4)];
}

function visible(c: Cpu, sel: number, d1: number): boolean {
  const attr = (d1 >> 8) & 0xff;
  const dpl = (attr >> 5) & 3;
  const conformingCode = (attr & 0x1c) === 0x1c;
  return conformingCode || (dpl >= c.cpl && dpl >= (sel & 3));
}

function verify(c: Cpu, sel: number, write: boolean): void {
  const dsc = peekDescriptor(c, sel);
  let ok = false;
  if (dsc !== null && (dsc[1] & 0x1000) !== 0 && visible(c, sel, dsc[1])) {
    const code = (dsc[1] & 0x800) !== 0;
    const rw = (dsc[1] & 0x200) !== 0;
    ok = write ? !code && rw : !code || rw;
  }
  c.setArith(Flag.ZF, ok ? Flag.ZF : 0);
}

/** LAR (kind 0) / LSL (kind 1). */
export function larLsl(c: Cpu, d: number, lsl: boolean): void {
  if (!c.protectedMode || (c.flagsReg & Flag.VM) !== 0) c.fault(Vec.UD);
  const sel = readRm(c, d, 1);
  const dsc = peekDescriptor(c, sel);
  let ok = dsc !== null && visible(c, sel, dsc[1]);
  if (ok && dsc !== null && (dsc[1] & 0x1000) === 0) {
    const type = (dsc[1] >> 8) & 0xf;
    // System types valid for LAR/LSL (SDM LAR table 3-? / LSL): TSS and LDT (+ gates for LAR).
    const valid = lsl ? [1, 2, 3, 9, 11] : [1, 2, 3, 4, 5, 9, 11, 12];
    ok = valid.includes(type);
  }
  if (!ok || dsc === null) {
    c.setArith(Flag.ZF, 0);
    return;
  }
  const size = osizeOf(c, d);
  let v: number;
  if (lsl) {
    const raw = (dsc[0] & 0xffff) | (dsc[1] & 0xf0000);
    v = (dsc[1] & 0x800000) !== 0 ? (raw << 12) | 0xfff : raw;
  } else v = dsc[1] & 0x00f0ff00;
  writeReg(c, regField(c, d), size, size === 1 ? v & 0xffff : v, 0);
  c.setArith(Flag.ZF, Flag.ZF);
}

/** 0F 01: group 7 (memory forms and the mod=3 encodings). */
export function group7(c: Cpu, d: number, reg: number): void {
  if (isMem(c, d)) {
    switch (reg) {
      case 0: storeTable(c, d, false); return;
      case 1: storeTable(c, d, true); return;
      case 2: loadTable(c, d, false); return;
      case 3: loadTable(c, d, true); return;
      case 4: smsw(c, d); return;
      case 6: lmsw(c, d); return;
      case 7: // INVLPG
        requireCpl0(c);
        c.invalidatePage(c.ea(d), c.eaHi);
        return;
      default: c.fault(Vec.UD);
    }
  }
  const rm = rmField(c, d) & 7;
  switch ((reg << 3) | rm) {
    case 0x01: // VMCALL (0F 01 C1)
    case 0x19: // VMMCALL (0F 01 D9)
      if (!c.host.hypercall(c, reg === 0 ? 'vmcall' : 'vmmcall')) c.fault(Vec.UD);
      c.breakLoop = true;
      return;
    case 0x08: // MONITOR
    case 0x09: // MWAIT: not advertised in CPUID
      c.fault(Vec.UD);
      return;
    case 0x0a: // CLAC
    case 0x0b: // STAC: SMAP not advertised
      c.fault(Vec.UD);
      return;
    case 0x10: // XGETBV
      if ((c.cr4 & Cr4.OSXSAVE) === 0) c.fault(Vec.UD);
      if (c.lo[1] !== 0) c.fault(Vec.GP, 0);
      c.setReg(2, 0, c.xcr0);
      c.setReg(2, 2, 0);
      return;
    case 0x11: // XSETBV
      if ((c.cr4 & Cr4.OSXSAVE) === 0) c.fault(Vec.UD);
      requireCpl0(c);
      // x87 must stay enabled; only x87|SSE are supported until the FPU/SSE unit says more.
      if (c.lo[1] !== 0 || c.lo[2] !== 0 || (c.lo[0] & 1) === 0 || (c.lo[0] & ~3) !== 0) c.fault(Vec.GP, 0);
      c.xcr0 = c.lo[0];
      return;
    case 0x38: // SWAPGS
      if (c.codeSize !== 3) c.fault(Vec.UD);
      requireCpl0(c);
      swapgs(c);
      return;
    case 0x39: // RDTSCP
      rdtsc(c);
      c.setReg(2, 1, c.msrLo[MsrSlot.TSC_AUX]);
      return;
    default:
      if (reg === 4) {
        smsw(c, d);
        return;
      }
      if (reg === 6) {
        lmsw(c, d);
        return;
      }
      c.fault(Vec.UD);
  }
}

function smsw(c: Cpu, d: number): void {
  if ((c.cr4 & Cr4.UMIP) !== 0 && c.cpl > 0) c.fault(Vec.GP, 0);
  const size = isMem(c, d) ? 1 : osizeOf(c, d);
  writeRm(c, d, size, c.cr0, 0);
}

function lmsw(c: Cpu, d: number): void {
  requireCpl0(c);
  const v = readRm(c, d, 1);
  const old = c.cr0;
  // LMSW changes PE, MP, EM, TS only and cannot clear PE (SDM LMSW).
  c.cr0 = (c.cr0 & ~0xe) | (v & 0xf) | (c.cr0 & 1);
  cr0Changed(c, old);
}

function swapgs(c: Cpu): void {
  const lo = c.segBase[Seg.GS];
  const hi = c.segBaseHi[Seg.GS];
  c.segBase[Seg.GS] = c.msrLo[MsrSlot.KERNEL_GS_BASE];
  c.segBaseHi[Seg.GS] = c.msrHi[MsrSlot.KERNEL_GS_BASE];
  c.msrLo[MsrSlot.KERNEL_GS_BASE] = lo;
  c.msrHi[MsrSlot.KERNEL_GS_BASE] = hi;
}

export function rdtsc(c: Cpu): void {
  if ((c.cr4 & Cr4.TSD) !== 0 && c.cpl !== 0 && c.protectedMode) c.fault(Vec.GP, 0);
  c.host.rdmsr(c, Msr.TSC, c.scratch);
  c.setReg(2, 0, c.scratch[0]);
  c.setReg(2, 2, c.scratch[1]);
}

/** MOV r, CRn / MOV CRn, r (SDM MOV—Move to/from Control Registers). */
export function movCr(c: Cpu, d: number, toCr: boolean): void {
  requireCpl0(c);
  const info = c.store.info[d];
  let n = (info >> Info.REG_SHIFT) & 31;
  if (n >= 16) n -= 12; // AH..BH encodings never apply here, undo the byte-register mapping
  // LOCK MOV CR0 is AMD's alternate encoding of CR8.
  if ((info & Info.LOCK) !== 0 && n === 0) n = 8;
  const r = (info >> Info.RM_SHIFT) & 15;
  const wide = c.codeSize === 3;
  if (!toCr) {
    let lo = 0;
    let hi = 0;
    switch (n) {
      case 0: lo = c.cr0; break;
      case 2: lo = c.cr2Lo; hi = c.cr2Hi; break;
      case 3: lo = c.cr3Lo; hi = c.cr3Hi; break;
      case 4: lo = c.cr4; break;
      case 8: lo = c.host.readCr8 === undefined ? c.cr8 : (c.cr8 = c.host.readCr8(c)); break;
      default: c.fault(Vec.UD);
    }
    if (wide) {
      c.lo[r] = lo;
      c.hi[r] = hi;
    } else c.setReg(2, r, lo);
    return;
  }
  const lo = c.lo[r];
  const hi = wide ? c.hi[r] : 0;
  switch (n) {
    case 0: {
      if (hi !== 0) c.fault(Vec.GP, 0);
      const v = lo | Cr0.ET;
      // Invalid combinations (SDM vol. 3, 2.5 and MOV CR0): PG without PE, NW without CD.
      if ((v & Cr0.PG) !== 0 && (v & Cr0.PE) === 0) c.fault(Vec.GP, 0);
      if ((v & Cr0.NW) !== 0 && (v & Cr0.CD) === 0) c.fault(Vec.GP, 0);
      // Enabling paging with EFER.LME requires PAE; it activates long mode (EFER.LMA).
      const enablingPg = (v & Cr0.PG) !== 0 && (c.cr0 & Cr0.PG) === 0;
      if (enablingPg && (c.efer & Efer.LME) !== 0) {
        if ((c.cr4 & Cr4.PAE) === 0) c.fault(Vec.GP, 0);
        c.efer |= Efer.LMA;
      }
      if ((v & Cr0.PG) === 0 && (c.cr0 & Cr0.PG) !== 0) {
        if (c.codeSize === 3) c.fault(Vec.GP, 0);
        c.efer &= ~Efer.LMA;
      }
      const old = c.cr0;
      c.cr0 = v & (0xe005003f | 0);
      cr0Changed(c, old);
      return;
    }
    case 2:
      c.cr2Lo = lo;
      c.cr2Hi = hi;
      return;
    case 3:
      c.cr3Lo = lo;
      c.cr3Hi = hi;
      c.flushTlb();
      c.breakLoop = true;
      return;
    case 4: {
      // Reserved bits and features we do not implement (VMXE, SMXE, PKE, CET, LA57...) -> #GP.
      // The bit of a feature that CPUID does not enumerate is reserved as well (SDM MOV CR4:
      // "#GP(0) If an attempt is made to write a 1 to any reserved bit in CR4"; KVM's
      // cr4_reserved_bits does this for PCIDE, OSXSAVE, FSGSBASE, SMEP, SMAP and UMIP, and
      // kvm-unit-tests x86/pcid.c expects #GP for PCIDE without CPUID.1:ECX.PCID).
      const allowed = Cr4.VME | Cr4.PVI | Cr4.TSD | Cr4.DE | Cr4.PSE | Cr4.PAE | Cr4.MCE | Cr4.PGE | Cr4.PCE |
        Cr4.OSFXSR | Cr4.OSXMMEXCPT | cpuidCr4Bits(c);
      if (hi !== 0 || (lo & ~allowed) !== 0) c.fault(Vec.GP, 0);
      if (c.long && (lo & Cr4.PAE) === 0) c.fault(Vec.GP, 0);
      c.cr4 = lo;
      c.flushTlb();
      c.updateMode();
      return;
    }
    case 8:
      if (hi !== 0 || (lo & ~15) !== 0) c.fault(Vec.GP, 0);
      c.cr8 = lo;
      c.host.writeCr8?.(c, lo); // CR8 is the local APIC's TPR[7:4] (SDM vol. 3, 11.8.6.1)
      c.breakLoop = true;
      return;
    default:
      c.fault(Vec.UD);
  }
}

/**
 * The CR4 bits whose features CPUID enumerates: PCIDE (CPUID.1:ECX[17]), OSXSAVE (CPUID.1:ECX[26]),
 * FSGSBASE, SMEP, SMAP (CPUID.(7,0):EBX[0], [7], [20]) and UMIP (CPUID.(7,0):ECX[2]).
 */
function cpuidCr4Bits(c: Cpu): number {
  const out = c.scratch;
  c.host.cpuid(c, 1, 0, out, true);
  let bits = ((out[2] & (1 << 17)) !== 0 ? Cr4.PCIDE : 0) | ((out[2] & (1 << 26)) !== 0 ? Cr4.OSXSAVE : 0);
  c.host.cpuid(c, 0, 0, out, true);
  if (out[0] >>> 0 >= 7) {
    c.host.cpuid(c, 7, 0, out, true);
    if ((out[1] & (1 << 0)) !== 0) bits |= Cr4.FSGSBASE;
    if ((out[1] & (1 << 7)) !== 0) bits |= Cr4.SMEP;
    if ((out[1] & (1 << 20)) !== 0) bits |= Cr4.SMAP;
    if ((out[2] & (1 << 2)) !== 0) bits |= Cr4.UMIP;
  }
  return bits;
}

/** MOV r, DRn / MOV DRn, r. Breakpoints are stored, not armed (documented limitation). */
export function movDr(c: Cpu, d: number, toDr: boolean): void {
  requireCpl0(c);
  const info = c.store.info[d];
  let n = (info >> Info.REG_SHIFT) & 31;
  if (n >= 16) n -= 12;
  const r = (info >> Info.RM_SHIFT) & 15;
  if (n === 4 || n === 5) {
    if ((c.cr4 & Cr4.DE) !== 0) c.fault(Vec.UD);
    n += 2;
  }
  if (n > 7) c.fault(Vec.UD);
  if (toDr) {
    c.drLo[n] = c.lo[r];
    c.drHi[n] = c.codeSize === 3 ? c.hi[r] : 0;
    if (n === 6) c.drLo[6] = (c.lo[r] & 0xe00f) | (0xffff0ff0 | 0);
    if (n === 7) c.drLo[7] = (c.lo[r] & ~0xd000) | 0x400;
  } else if (c.codeSize === 3) {
    c.lo[r] = c.drLo[n];
    c.hi[r] = c.drHi[n];
  } else c.setReg(2, r, c.drLo[n]);
}

export function clts(c: Cpu): void {
  requireCpl0(c);
  c.cr0 &= ~Cr0.TS;
}

export function rdmsr(c: Cpu): void {
  requireCpl0(c);
  if (!c.host.rdmsr(c, c.lo[1] >>> 0, c.scratch)) c.fault(Vec.GP, 0);
  c.setReg(2, 0, c.scratch[0]);
  c.setReg(2, 2, c.scratch[1]);
}

export function wrmsr(c: Cpu): void {
  requireCpl0(c);
  if (!c.host.wrmsr(c, c.lo[1] >>> 0, c.lo[0], c.lo[2])) c.fault(Vec.GP, 0);
  c.breakLoop = true;
}

export function cpuid(c: Cpu): void {
  const out = c.scratch;
  c.host.cpuid(c, c.lo[0] >>> 0, c.lo[1] >>> 0, out);
  c.setReg(2, 0, out[0]);
  c.setReg(2, 3, out[1]);
  c.setReg(2, 1, out[2]);
  c.setReg(2, 2, out[3]);
}

export function cli(c: Cpu): void {
  if (c.protectedMode && c.cpl > ((c.flagsReg >> 12) & 3)) c.fault(Vec.GP, 0);
  c.materialize(0);
  c.flagsReg &= ~Flag.IF;
}

export function sti(c: Cpu): void {
  if (c.protectedMode && c.cpl > ((c.flagsReg >> 12) & 3)) c.fault(Vec.GP, 0);
  if ((c.flagsReg & Flag.IF) === 0) {
    c.flagsReg |= Flag.IF;
    // Interrupts stay blocked until after the next instruction (SDM STI).
    c.inhibitUntil = c.insns + 2;
    c.breakLoop = true;
  }
}

/** The CPU-implemented MSRs (the machine asks here first, then the personalities). */
export function cpuReadMsr(c: Cpu, msr: number, out: Int32Array): boolean {
  const slot = msrSlot(msr);
  if (slot >= 0) {
    out[0] = c.msrLo[slot];
    out[1] = c.msrHi[slot];
    return true;
  }
  switch (msr) {
    case Msr.EFER: out[0] = c.efer; out[1] = 0; return true;
    case Msr.FS_BASE: out[0] = c.segBase[Seg.FS]; out[1] = c.segBaseHi[Seg.FS]; return true;
    case Msr.GS_BASE: out[0] = c.segBase[Seg.GS]; out[1] = c.segBaseHi[Seg.GS]; return true;
    default: return false;
  }
}

export function cpuWriteMsr(c: Cpu, msr: number, lo: number, hi: number): boolean {
  const canonical = (): boolean => {
    const top = hi >> 15;
    return top === 0 || top === -1;
  };
  switch (msr) {
    case Msr.EFER: {
      // Writable: SCE, LME, NXE; LMA is read-only; LME cannot change while paging is on.
      if (hi !== 0 || (lo & ~(Efer.SCE | Efer.LME | Efer.LMA | Efer.NXE)) !== 0) return false;
      if ((c.cr0 & Cr0.PG) !== 0 && ((lo ^ c.efer) & Efer.LME) !== 0) return false;
      c.efer = (lo & ~Efer.LMA) | (c.efer & Efer.LMA);
      c.flushTlb();
      c.updateMode();
      return true;
    }
    case Msr.FS_BASE:
    case Msr.GS_BASE:
    case Msr.KERNEL_GS_BASE:
    case Msr.LSTAR:
    case Msr.CSTAR:
    case Msr.SYSENTER_ESP:
    case Msr.SYSENTER_EIP:
      if (!canonical()) return false;
      if (msr === Msr.FS_BASE || msr === Msr.GS_BASE) {
        const s = msr === Msr.FS_BASE ? Seg.FS : Seg.GS;
        c.segBase[s] = lo;
        c.segBaseHi[s] = hi;
        return true;
      }
      break;
    case Msr.PAT: {
      // Each byte must be a valid memory type: 0, 1, 4, 5, 6, 7 (SDM vol. 3, 13.12.2).
      for (let i = 0; i < 8; i++) {
        const t = ((i < 4 ? lo : hi) >>> ((i & 3) * 8)) & 0xff;
        if (t === 2 || t === 3 || t > 7) return false;
      }
      break;
    }
    case Msr.TSC_AUX:
      if (hi !== 0) return false;
      break;
  }
  const slot = msrSlot(msr);
  if (slot < 0) return false;
  c.msrLo[slot] = lo;
  c.msrHi[slot] = hi;
  return true;
}

function msrSlot(msr: number): number {
  switch (msr) {
    case Msr.STAR: return MsrSlot.STAR;
    case Msr.LSTAR: return MsrSlot.LSTAR;
    case Msr.CSTAR: return MsrSlot.CSTAR;
    case Msr.FMASK: return MsrSlot.FMASK;
    case Msr.KERNEL_GS_BASE: return MsrSlot.KERNEL_GS_BASE;
    case Msr.SYSENTER_CS: return MsrSlot.SYSENTER_CS;
    case Msr.SYSENTER_ESP: return MsrSlot.SYSENTER_ESP;
    case Msr.SYSENTER_EIP: return MsrSlot.SYSENTER_EIP;
    case Msr.PAT: return MsrSlot.PAT;
    case Msr.TSC_AUX: return MsrSlot.TSC_AUX;
    default: return -1;
  }
}

/** Placeholder for DescAttr use by later FPU code (keeps imports honest). */
export const SYSTEM_ATTR_PRESENT = DescAttr.P;

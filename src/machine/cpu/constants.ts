// Architectural constants, named as in the Intel SDM (vol. 3 unless noted).

// General registers, encoding order (SDM vol. 2, table 2-2).
export const enum Reg {
  AX = 0, CX = 1, DX = 2, BX = 3, SP = 4, BP = 5, SI = 6, DI = 7,
  R8 = 8, R9 = 9, R10 = 10, R11 = 11, R12 = 12, R13 = 13, R14 = 14, R15 = 15,
}

// Segment registers, encoding order of the sreg field (SDM vol. 2, 3.1.1.3).
export const enum Seg { ES = 0, CS = 1, SS = 2, DS = 3, FS = 4, GS = 5, NONE = 7 }
export const SEG_NAMES = ['es', 'cs', 'ss', 'ds', 'fs', 'gs'];

// RFLAGS bits (SDM vol. 1, 3.4.3).
export const enum Flag {
  CF = 1 << 0, PF = 1 << 2, AF = 1 << 4, ZF = 1 << 6, SF = 1 << 7, TF = 1 << 8,
  IF = 1 << 9, DF = 1 << 10, OF = 1 << 11, IOPL = 3 << 12, NT = 1 << 14, RF = 1 << 16,
  VM = 1 << 17, AC = 1 << 18, VIF = 1 << 19, VIP = 1 << 20, ID = 1 << 21,
}
/** The six arithmetic status flags. */
export const ARITH_FLAGS = 0x8d5;
/** Bit 1 of RFLAGS always reads as 1. */
export const FLAGS_FIXED1 = 0x2;

// CR0 (SDM vol. 3, 2.5).
export const enum Cr0 {
  PE = 1 << 0, MP = 1 << 1, EM = 1 << 2, TS = 1 << 3, ET = 1 << 4, NE = 1 << 5,
  WP = 1 << 16, AM = 1 << 18, NW = 1 << 29, CD = 1 << 30, PG = 1 << 31,
}
// CR4 (SDM vol. 3, 2.5).
export const enum Cr4 {
  VME = 1 << 0, PVI = 1 << 1, TSD = 1 << 2, DE = 1 << 3, PSE = 1 << 4, PAE = 1 << 5,
  MCE = 1 << 6, PGE = 1 << 7, PCE = 1 << 8, OSFXSR = 1 << 9, OSXMMEXCPT = 1 << 10,
  UMIP = 1 << 11, FSGSBASE = 1 << 16, PCIDE = 1 << 17, OSXSAVE = 1 << 18, SMEP = 1 << 20, SMAP = 1 << 21,
}
// EFER (SDM vol. 3, 2.2.1).
export const enum Efer { SCE = 1 << 0, LME = 1 << 8, LMA = 1 << 10, NXE = 1 << 11 }

// Exception vectors (SDM vol. 3, table 6-1).
export const enum Vec {
  DE = 0, DB = 1, NMI = 2, BP = 3, OF = 4, BR = 5, UD = 6, NM = 7, DF = 8,
  TS = 10, NP = 11, SS = 12, GP = 13, PF = 14, MF = 16, AC = 17, MC = 18, XM = 19,
}

// Page-fault error code bits (SDM vol. 3, 4.7).
export const enum PfErr { P = 1, W = 2, U = 4, RSVD = 8, I = 16 }

// Architectural MSRs (SDM vol. 4).
export const enum Msr {
  TSC = 0x10, PLATFORM_ID = 0x17, APIC_BASE = 0x1b, FEATURE_CONTROL = 0x3a, TSC_ADJUST = 0x3b,
  SPEC_CTRL = 0x48, PRED_CMD = 0x49, BIOS_SIGN_ID = 0x8b, MTRRCAP = 0xfe,
  SYSENTER_CS = 0x174, SYSENTER_ESP = 0x175, SYSENTER_EIP = 0x176,
  MCG_CAP = 0x179, MCG_STATUS = 0x17a, MISC_ENABLE = 0x1a0,
  MTRR_PHYSBASE0 = 0x200, MTRR_FIX64K = 0x250, MTRR_FIX16K_80000 = 0x258, MTRR_FIX16K_A0000 = 0x259,
  MTRR_FIX4K_C0000 = 0x268, MTRR_FIX4K_F8000 = 0x26f, PAT = 0x277, MTRR_DEF_TYPE = 0x2ff,
  MC0_CTL = 0x400, TSC_DEADLINE = 0x6e0, X2APIC_FIRST = 0x800, X2APIC_LAST = 0x8ff,
  EFER = 0xc0000080, STAR = 0xc0000081, LSTAR = 0xc0000082, CSTAR = 0xc0000083, FMASK = 0xc0000084,
  FS_BASE = 0xc0000100, GS_BASE = 0xc0000101, KERNEL_GS_BASE = 0xc0000102, TSC_AUX = 0xc0000103,
}

// Descriptor attribute bits as we keep them: the access byte in bits 0-7 and the
// flags nibble (AVL, L, D/B, G) in bits 12-15, i.e. descriptor bits 40-55 shifted down by 40.
export const enum DescAttr {
  A = 1 << 0, RW = 1 << 1, DC = 1 << 2, EXEC = 1 << 3, S = 1 << 4, DPL_SHIFT = 5, P = 1 << 7,
  AVL = 1 << 12, L = 1 << 13, DB = 1 << 14, G = 1 << 15,
}

// Operand/address size codes in decoded instructions.
export const enum Size { B = 0, W = 1, D = 2, Q = 3 }

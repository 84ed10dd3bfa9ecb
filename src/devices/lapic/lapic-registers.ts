// Local APIC register map and bit fields (Intel SDM vol. 3A, chapter 11; table 11-1 for the
// xAPIC MMIO offsets, table 11-6 for the x2APIC MSRs, which are 0x800 + offset / 16).

/** xAPIC MMIO offsets (table 11-1). */
export const enum Reg {
  ID = 0x020,
  VERSION = 0x030,
  TPR = 0x080,
  APR = 0x090,
  PPR = 0x0a0,
  EOI = 0x0b0,
  RRD = 0x0c0,
  LDR = 0x0d0,
  DFR = 0x0e0,
  SVR = 0x0f0,
  ISR0 = 0x100,
  TMR0 = 0x180,
  IRR0 = 0x200,
  ESR = 0x280,
  ICR_LO = 0x300,
  ICR_HI = 0x310,
  LVT_TIMER = 0x320,
  LVT_THERMAL = 0x330,
  LVT_PERF = 0x340,
  LVT_LINT0 = 0x350,
  LVT_LINT1 = 0x360,
  LVT_ERROR = 0x370,
  TIMER_INITIAL = 0x380,
  TIMER_CURRENT = 0x390,
  TIMER_DIVIDE = 0x3e0,
  /** x2APIC only (MSR 0x83f). */
  SELF_IPI = 0x3f0,
}

/** The LVT entries, in register order (index = (offset - 0x320) / 16). */
export const enum Lvt {
  Timer = 0,
  Thermal = 1,
  Perf = 2,
  Lint0 = 3,
  Lint1 = 4,
  Error = 5,
}
export const LVT_COUNT = 6;

/**
 * Version register (11.4.8): version 0x14 (an integrated APIC), Max LVT Entry 5 (six entries:
 * no CMCI), bit 24 clear (EOI-broadcast suppression not supported).
 */
export const APIC_VERSION = 0x0005_0014;

// LVT fields (figure 11-8).
export const LVT_VECTOR = 0xff;
export const LVT_DELIVERY_MODE = 0x700;
export const LVT_DELIVERY_STATUS = 0x1000; // read-only, always idle here
export const LVT_POLARITY = 0x2000;
export const LVT_REMOTE_IRR = 0x4000; // read-only
export const LVT_LEVEL = 0x8000;
export const LVT_MASKED = 0x1_0000;
export const LVT_TIMER_MODE = 0x6_0000;
export const LVT_TIMER_MODE_SHIFT = 17;

/** Writable bits of each LVT entry (figure 11-8: reserved and read-only bits excluded). */
export const LVT_WRITABLE: readonly number[] = [
  LVT_MASKED | LVT_TIMER_MODE | LVT_VECTOR, // timer: vector, mask, mode (no delivery mode)
  LVT_MASKED | LVT_DELIVERY_MODE | LVT_VECTOR, // thermal
  LVT_MASKED | LVT_DELIVERY_MODE | LVT_VECTOR, // performance counters
  LVT_MASKED | LVT_LEVEL | LVT_POLARITY | LVT_DELIVERY_MODE | LVT_VECTOR, // LINT0
  LVT_MASKED | LVT_LEVEL | LVT_POLARITY | LVT_DELIVERY_MODE | LVT_VECTOR, // LINT1
  LVT_MASKED | LVT_VECTOR, // error: vector and mask only
];

/** Timer modes (LVT timer bits 18:17, table 11-2). */
export const enum TimerMode {
  OneShot = 0,
  Periodic = 1,
  TscDeadline = 2,
  Reserved = 3,
}

// Spurious-interrupt vector register (figure 11-23).
export const SVR_VECTOR = 0xff;
export const SVR_APIC_ENABLED = 0x100;
export const SVR_FOCUS_DISABLED = 0x200;
/** Bit 12 (EOI-broadcast suppression) is reserved: the version register does not offer it. */
export const SVR_WRITABLE = SVR_VECTOR | SVR_APIC_ENABLED | SVR_FOCUS_DISABLED;

// Error status register bits (figure 11-9).
export const ESR_SEND_ILLEGAL_VECTOR = 0x20;
export const ESR_RECEIVE_ILLEGAL_VECTOR = 0x40;
export const ESR_ILLEGAL_REGISTER = 0x80;

// ICR low (figure 11-12): vector, delivery mode, destination mode, delivery status (read-only,
// always idle), level, trigger mode, destination shorthand.
export const ICR_DEST_LOGICAL = 0x800;
export const ICR_LEVEL_ASSERT = 0x4000;
export const ICR_TRIGGER_LEVEL = 0x8000;
export const ICR_SHORTHAND_SHIFT = 18;
export const ICR_LO_WRITABLE = 0x000c_cfff;
/** xAPIC ICR high: destination in bits 31:24. */
export const ICR_HI_WRITABLE = 0xff00_0000;

/** Divide configuration register: bits 0, 1 and 3 (figure 11-10). */
export const DCR_WRITABLE = 0xb;

/** Timer divisor of a divide configuration value: 000b -> 2, ..., 110b -> 128, 111b -> 1. */
export function timerDivisor(dcr: number): number {
  const v = (dcr & 3) | ((dcr >> 1) & 4);
  return 1 << ((v + 1) & 7);
}

/** DFR (figure 11-14): the model in bits 31:28, bits 27:0 read as ones. */
export const DFR_MODEL_FLAT = 0xf;
export const DFR_MODEL_CLUSTER = 0x0;
export const DFR_RESERVED_ONES = 0x0fff_ffff;

// IA32_APIC_BASE (MSR 0x1b, figure 11-5, and 11.12.1 for EXTD).
export const MSR_APIC_BASE = 0x1b;
export const MSR_TSC_DEADLINE = 0x6e0;
export const MSR_X2APIC_FIRST = 0x800;
export const MSR_X2APIC_LAST = 0x8ff;
export const APIC_BASE_BSP = 0x100;
export const APIC_BASE_EXTD = 0x400;
export const APIC_BASE_EN = 0x800;
/** Default base 0xfee00000 (11.4.4). */
export const APIC_BASE_DEFAULT = 0xfee0_0000;
/** Reserved bits of the low half: 7:0 and 9 (bit 8, BSP, is read-only and ignored on write). */
export const APIC_BASE_LO_RESERVED = 0x2ff;
/** MAXPHYADDR 39 (the machine's CPUID 0x80000008): bits 38:32 of the base are valid. */
export const APIC_BASE_HI_VALID = 0x7f;

/** Offsets that exist in xAPIC mode (table 11-1), for the illegal-register-address error. */
export function isXapicRegister(off: number): boolean {
  if (off >= Reg.ISR0 && off < Reg.ESR) return true;
  switch (off) {
    case Reg.ID: case Reg.VERSION: case Reg.TPR: case Reg.APR: case Reg.PPR: case Reg.EOI: case Reg.RRD:
    case Reg.LDR: case Reg.DFR: case Reg.SVR: case Reg.ESR: case Reg.ICR_LO: case Reg.ICR_HI:
    case Reg.LVT_TIMER: case Reg.LVT_THERMAL: case Reg.LVT_PERF: case Reg.LVT_LINT0: case Reg.LVT_LINT1:
    case Reg.LVT_ERROR: case Reg.TIMER_INITIAL: case Reg.TIMER_CURRENT: case Reg.TIMER_DIVIDE:
      return true;
    default:
      return false;
  }
}

/** MSRs that exist in x2APIC mode (table 11-6; no APR, RRD, DFR, ICR high, CMCI). */
export function isX2apicRegister(off: number): boolean {
  if (off === Reg.APR || off === Reg.RRD || off === Reg.DFR || off === Reg.ICR_HI) return false;
  return off === Reg.SELF_IPI || isXapicRegister(off);
}

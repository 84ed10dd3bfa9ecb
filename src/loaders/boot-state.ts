// The initial CPU state a loader asks the machine to set, as plain data.
//
// Segment registers are given with their descriptor caches (the hidden part the CPU uses),
// in the same terms as KVM's struct kvm_segment and the Intel SDM vol. 3A 3.4.5 "Segment
// Descriptors": type, S, DPL, P, D/B, L, G. The machine copies them as they are.

export interface SegmentState {
  selector: number;
  base: number;
  /** Byte-granular limit (0xffffffff for a flat 4 GiB segment). */
  limit: number;
  /** Descriptor type field (SDM 3.4.5.1): 0xb = code execute/read accessed, 0x3 = data read/write accessed. */
  type: number;
  /** S: 1 for code/data, 0 for system segments. */
  s: 0 | 1;
  dpl: number;
  present: 0 | 1;
  /** D/B: 1 = 32-bit default operand size / stack. */
  db: 0 | 1;
  /** L: 64-bit code segment. */
  l: 0 | 1;
  /** G: limit in 4 KiB units in the descriptor (the limit above is already expanded). */
  g: 0 | 1;
}

export interface DescriptorTableState {
  base: number;
  limit: number;
}

/** The state of a CPU about to enter a 32-bit protected-mode kernel, paging off. */
export interface ProtectedModeEntryState {
  /** 32-bit general registers. */
  eax: number;
  ebx: number;
  ecx: number;
  edx: number;
  esi: number;
  edi: number;
  ebp: number;
  esp: number;
  eip: number;
  eflags: number;
  cs: SegmentState;
  ds: SegmentState;
  es: SegmentState;
  fs: SegmentState;
  gs: SegmentState;
  ss: SegmentState;
  cr0: number;
  cr3: number;
  cr4: number;
  /** IA32_EFER low 32 bits (high bits 0). */
  efer: number;
  gdtr: DescriptorTableState;
  idtr: DescriptorTableState;
  /** The A20 gate: true = address line 20 not masked. */
  a20: boolean;
}

/** CR0.PE (SDM vol. 3A 2.5). */
export const CR0_PE = 1 << 0;
/** CR0.ET: hard-wired to 1 on every processor since the i486 (SDM vol. 3A 2.5). */
export const CR0_ET = 1 << 4;
/** EFLAGS bit 1 is reserved and always reads 1 (SDM vol. 1 3.4.3). */
export const EFLAGS_FIXED = 1 << 1;
export const EFLAGS_IF = 1 << 9;
export const EFLAGS_VM = 1 << 17;

/** Selectors of the flat GDT the loaders build: null, then code, then data (SDM 3.4.2). */
export const FLAT_CODE_SELECTOR = 0x08;
export const FLAT_DATA_SELECTOR = 0x10;

/** A flat 32-bit segment (base 0, limit 4 GiB, DPL 0). */
export function flatSegment(kind: 'code' | 'data', selector: number): SegmentState {
  return { selector, base: 0, limit: 0xffffffff, type: kind === 'code' ? 0xb : 0x3, s: 1, dpl: 0, present: 1, db: 1, l: 0, g: 1 };
}

/**
 * The 8-byte GDT descriptor for flatSegment(kind): base 0, limit 0xfffff pages, G=1, D/B=1,
 * P=1, DPL=0, S=1, type 0xb/0x3 (SDM vol. 3A figure 3-8). As [low dword, high dword].
 */
export function flatDescriptor(kind: 'code' | 'data'): [number, number] {
  return [0x0000ffff, kind === 'code' ? 0x00cf9b00 : 0x00cf9300];
}

// Helpers shared by the personalities' CPUID blocks (spec digest §1.1).

/** Little-endian dword i (0, 4, 8) of a 12-byte signature, as CPUID returns it in EBX, ECX, EDX (§1.1). */
export function sigDword(s: string, i: number): number {
  return (s.charCodeAt(i) | (s.charCodeAt(i + 1) << 8) | (s.charCodeAt(i + 2) << 16) | (s.charCodeAt(i + 3) << 24)) | 0;
}

/** Fill out[] with a vendor leaf: EAX = max leaf, EBX..EDX = 12-byte signature (§1.1). */
export function vendorLeaf(out: Int32Array, maxLeaf: number, signature: string): void {
  out[0] = maxLeaf | 0;
  out[1] = sigDword(signature, 0);
  out[2] = sigDword(signature, 4);
  out[3] = sigDword(signature, 8);
}

export function setRegs(out: Int32Array, a: number, b: number, c: number, d: number): void {
  out[0] = a | 0;
  out[1] = b | 0;
  out[2] = c | 0;
  out[3] = d | 0;
}

/** Base of the first hypervisor block (§1.1). */
export const HV_BASE = 0x40000000;

/** Construction-time placement and host inputs every personality may use. */
export interface PersonalityOptions {
  /** Virtual TSC frequency in kHz (the machine's clock.tscKHz). Default 2 000 000 (the VM API default). */
  tscKHz?: number;
  /** Local-APIC bus/timer frequency in kHz. Default 1 000 000 (1 GHz, what KVM's APIC uses, §1.3). */
  apicKHz?: number;
  /** Number of vCPUs. Default 1. */
  vcpus?: number;
  /** Where the machine places this personality's (first) block. Default 0x40000000. */
  base?: number;
}

export const DEFAULT_TSC_KHZ = 2_000_000;
export const DEFAULT_APIC_KHZ = 1_000_000;

/** Split a non-negative integer < 2^64 held in a Number (exact below 2^53) into halves. */
export function splitU64(v: number, out: Int32Array): void {
  out[0] = v % 4294967296 | 0;
  out[1] = Math.floor(v / 4294967296) | 0;
}

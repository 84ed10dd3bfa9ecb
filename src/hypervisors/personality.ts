// What a hypervisor personality plugs into the machine: a CPUID block, MSRs, hypercalls,
// and optionally port I/O. Personalities never import devices or each other; the machine
// asks each in order and the first that claims an exit answers it.

import type { PortIoBus } from '../machine/io-bus.js';

/** Registers a hypercall sees and answers (halves of RAX..R10 per the usual ABIs). */
export interface HypercallRegs {
  lo: Int32Array;
  hi: Int32Array;
  /** 'vmcall' (Intel encoding) or 'vmmcall' (AMD encoding). */
  insn: 'vmcall' | 'vmmcall';
  cpl: number;
  /** 64-bit mode (the ABI passes arguments in different registers in 32-bit guests). */
  long: boolean;
}

export interface HypervisorPersonality {
  readonly name: string;
  /**
   * CPUID leaves of this personality relative to its base (leaf - base, 0..0xff);
   * false if the leaf is not one of its own (the machine then answers zeros).
   * `base` is where the machine placed it (0x40000000, 0x40000100, ...).
   * `vcpu` (optional, 0 when omitted) is the index of the asking vCPU: a few leaves are per vCPU
   * (Xen's HVM leaf reports the vCPU id).
   */
  cpuid(offset: number, subleaf: number, base: number, out: Int32Array, vcpu?: number): boolean;
  /** Return true if handled (out filled), false if not this personality's MSR. `vcpu` as for cpuid. */
  rdmsr?(msr: number, out: Int32Array, vcpu?: number): boolean;
  /** 'ok', 'gp' (its MSR, bad value) or 'no' (not its MSR). `vcpu` as for cpuid. */
  wrmsr?(msr: number, lo: number, hi: number, vcpu?: number): 'ok' | 'gp' | 'no';
  /** Return true if the hypercall was handled (registers updated). */
  hypercall?(regs: HypercallRegs): boolean;
  attachPorts?(bus: PortIoBus): void;
}

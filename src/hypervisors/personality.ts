// What a hypervisor personality plugs into the machine: a CPUID block, MSRs, hypercalls, and
// optionally backdoor ports. Personalities never import devices or each other; the machine
// asks each in order and the first that claims an exit answers it.
//
// The machine hands each personality a HypervisorHost (attach) before the guest runs: guest
// memory, the virtual clock, interrupt injection and the key/value store. Everything a
// personality shows the guest must come from there (never from the host's clock or state), so
// a run replays bit for bit.

import type { GuestMemory } from '../machine/memory.js';
import type { KvStore } from './kv-store.js';

/** A vCPU's registers as an exit handler sees them: halves of the 16 GPRs (index 0 RAX .. 15 R15). */
export interface GuestRegs {
  /** The vCPU taking the exit. */
  vcpu: number;
  lo: Int32Array;
  hi: Int32Array;
  cpl: number;
  /** 64-bit mode: EFER.LMA and CS.L (the ABIs pass arguments in other registers in 32-bit and compatibility mode). */
  long: boolean;
  /** CR0.PE (hypercalls from real mode are #UD on Hyper-V); absent means protected. */
  protectedMode?: boolean;
}

/** Registers a hypercall sees and answers. */
export interface HypercallRegs extends GuestRegs {
  /** 'vmcall' (Intel encoding) or 'vmmcall' (AMD encoding). */
  insn: 'vmcall' | 'vmmcall';
}

/** The machine as a personality sees it. */
export interface HypervisorHost {
  readonly vcpus: number;
  /** Guest-physical memory (checked accessors: false / null outside RAM, never a throw). */
  readonly mem: GuestMemory;
  /** Virtual nanoseconds since power-on at the current instruction of the running vCPU. */
  nowNs(): number;
  /** The guest's TSC at the current instruction. */
  tsc(): number;
  /** The guest's TSC frequency now (it changes under the migration knob). */
  tscKHz(): number;
  /** Unix time (seconds) at power-on: the wall clock the guest is told (same as the RTC's). */
  readonly bootTime: number;
  /** Raise an interrupt vector on a vCPU (Xen upcall, SynIC). */
  injectInterrupt(vcpu: number, vector: number): void;
  /** Run `cb` after `ns` virtual nanoseconds; returns an id for cancel. */
  after(ns: number, cb: () => void): number;
  cancel(id: number): void;
  /** The key/value store behind pvbus-style information stores (`--kv`). */
  readonly kv: KvStore;
  /** End the run as a power-off / a reset, after the current instruction (Xen SCHEDOP_shutdown). */
  powerOff?(): void;
  reset?(): void;
  /** True if the vCPU executes in 64-bit mode now (Xen picks the shared_info layout by it). */
  vcpuLongMode?(vcpu: number): boolean;
  /**
   * The guest-physical address of a linear address through the vCPU's page tables now, or
   * null if it is not mapped (no #PF, CR2 untouched; accessed/dirty bits are set as a walk by
   * the hypervisor sets them). Hypercall arguments are linear addresses.
   */
  linearToPhysical?(vcpu: number, linearLo: number, linearHi: number, write: boolean): number | null;
}

export interface HypervisorPersonality {
  readonly name: string;
  /** Called once by the machine before the guest runs. */
  attach?(host: HypervisorHost): void;
  /**
   * The TSC frequency changed or the VM resumed after a pause (the migration knob): rewrite
   * the clock structures the guest reads, by their update protocol.
   */
  clockChanged?(): void;
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
  /**
   * Ports whose accesses go to `portIo` with the vCPU's registers (the VMware backdoor reads
   * and writes EBX..EDI on an IN). Claimed before the port bus is consulted.
   */
  readonly backdoorPorts?: readonly number[];
  /**
   * An access to one of `backdoorPorts`. For an IN, return the value the guest reads (into
   * AL/AX/EAX, after this returns); other registers may be changed through `regs`. For an OUT,
   * the return value is ignored. A string instruction (REP INSB/OUTSB) calls this once per
   * element, with RCX still counting the element being transferred.
   */
  portIo?(regs: GuestRegs, port: number, size: number, write: boolean, value: number): number;
  /** An IN/OUT/INS/OUTS on one of backdoorPorts at CPL > IOPL: true = serve it instead of #GP (VMware's backdoor works from user mode, §4.1). */
  bypassesIoPermission?(regs: GuestRegs, port: number): boolean;
}

// What a recorder (or a replayer) sees of a run: every event that came from outside the
// guest's own instructions, stamped by the machine with the vCPU and its exact retired-
// instruction count. The machine calls these only when an observer is set, so a run without
// one pays a single null check per exit.
//
// The machine knows nothing of traces: src/trace implements this interface.

import type { VmExit } from './exit.js';

/** Where an interrupt came from (the trace format's source names). */
export type InterruptOrigin = 'pic' | 'ioapic' | 'lapic' | 'msi' | 'nmi' | 'exception' | 'hypervisor' | 'other';

export interface MachineObserver {
  /**
   * A port read: `value` is what the device (or the caller's answer) gave; the return value is
   * what the guest gets. A recorder returns `value`; a standalone replayer returns the recorded
   * value, so a different device model does not derail the replay.
   */
  ioRead(vcpu: number, icount: number, port: number, size: number, value: number): number;
  ioWrite(vcpu: number, icount: number, port: number, size: number, value: number): void;
  /** An MMIO read (as ioRead: returns what the guest gets) and write. */
  mmioRead(vcpu: number, icount: number, gpa: number, size: number, value: number): number;
  mmioWrite(vcpu: number, icount: number, gpa: number, size: number, value: number): void;
  cpuid(vcpu: number, icount: number, leaf: number, subleaf: number, result: Int32Array): void;
  /** An MSR access: value as read (answered) or written; `gp` when the guest got #GP. */
  msr(vcpu: number, icount: number, write: boolean, msr: number, lo: number, hi: number, gp: boolean): void;
  /** A hypercall: `args` are RAX, RBX, RCX, RDX, RSI, RDI, R8, R9, R10 at the call as lo/hi pairs. */
  hypercall(vcpu: number, icount: number, insn: 'vmcall' | 'vmmcall', args: Int32Array, result: Int32Array, handled: boolean): void;
  /** The vCPU executed HLT. */
  hlt(vcpu: number, icount: number): void;
  /** An external interrupt was acknowledged by the vCPU (it is being delivered now). */
  interrupt(vcpu: number, icount: number, vector: number, origin: InterruptOrigin): void;
  /** An exit returned to the caller of Machine.run (not instruction limits). */
  exit(vcpu: number, icount: number, exit: VmExit): void;
  /** The guest wrote a key of the information store. */
  kvWrite(vcpu: number, icount: number, key: string, value: string): void;
  /**
   * Bytes from the host a device hands the guest (disk data, a received frame, entropy):
   * returns the bytes the guest gets. A recorder returns `data`; a replayer returns the
   * recorded bytes, so a replay needs neither the host file nor the network.
   */
  hostInput(vcpu: number, icount: number, device: string, data: Uint8Array): Uint8Array;
  /** Bytes a device sends to the host (a transmitted frame). */
  hostOutput(vcpu: number, icount: number, device: string, data: Uint8Array): void;
}

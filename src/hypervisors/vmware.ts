// VMware's CPUID leaves (spec digest §1.5, §1.3; Linux arch/x86/kernel/cpu/vmware.c).
// PENDING: the backdoor ports 0x5658/0x5659 (§4) — GETVERSION, GETHZ, the GuestRPC channel.

import type { HypervisorPersonality } from './personality.js';
import { DEFAULT_APIC_KHZ, DEFAULT_TSC_KHZ, setRegs, vendorLeaf, type PersonalityOptions } from './cpuid-util.js';

/** §1.1 */
export const VMWARE_SIGNATURE = 'VMwareVMware';
/** Leaf offset of the generic timing information (§1.3). */
export const VMWARE_CPUID_TIMING = 0x10;
/** 0x40000010 ECX (§1.3): bit 0 VMMCALL, bit 1 VMCALL backdoor transport available. */
export const VMWARE_HYPERCALL_VMMCALL = 1 << 0;
export const VMWARE_HYPERCALL_VMCALL = 1 << 1;

export interface VmwareOptions extends PersonalityOptions {
  /** 0x40000010 ECX hypercall-transport bits (§1.3). Default 0: the backdoor is reached through I/O ports only. */
  hypercallModes?: number;
}

export class VmwarePersonality implements HypervisorPersonality {
  readonly name = 'vmware';
  readonly tscKHz: number;
  readonly apicKHz: number;
  readonly hypercallModes: number;

  constructor(opts: VmwareOptions = {}) {
    this.tscKHz = opts.tscKHz ?? DEFAULT_TSC_KHZ;
    this.apicKHz = opts.apicKHz ?? DEFAULT_APIC_KHZ;
    this.hypercallModes = opts.hypercallModes ?? 0;
  }

  cpuid(offset: number, _subleaf: number, base: number, out: Int32Array): boolean {
    switch (offset) {
      case 0: // §1.5: EAX max leaf (≥ 0x40000010 on modern VMware), 'VMwareVMware'
        vendorLeaf(out, base + VMWARE_CPUID_TIMING, VMWARE_SIGNATURE);
        return true;
      case VMWARE_CPUID_TIMING: // §1.3: EAX TSC kHz, EBX APIC bus kHz, ECX hypercall modes, EDX 0
        setRegs(out, this.tscKHz, this.apicKHz, this.hypercallModes, 0);
        return true;
      default:
        return false; // §1.1: zeros
    }
  }
}

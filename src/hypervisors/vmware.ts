// VMware's CPUID leaves (spec digest §1.5, §1.3; Linux arch/x86/kernel/cpu/vmware.c) and its
// backdoor ports 0x5658/0x5659 (§4: GETVERSION, GETHZ, the GuestRPC channels behind guestinfo).

import type { GuestRegs, HypervisorHost, HypervisorPersonality } from './personality.js';
import { BDOOR_HB_PORT, BDOOR_PORT, VmwareBackdoor, type BackdoorOptions } from './vmware-backdoor.js';
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
  /** Backdoor knobs (GETVERSION answers, CPL 0 restriction); see vmware-backdoor.ts. */
  backdoor?: Omit<BackdoorOptions, 'apicKHz'>;
}

export class VmwarePersonality implements HypervisorPersonality {
  readonly name = 'vmware';
  readonly tscKHz: number;
  readonly apicKHz: number;
  readonly hypercallModes: number;
  readonly backdoorPorts = [BDOOR_PORT, BDOOR_HB_PORT] as const;
  /** The backdoor, once the machine has attached us (its GuestRPC state and tools host are public for tests). */
  backdoor: VmwareBackdoor | null = null;
  private host: HypervisorHost | null = null;
  private readonly backdoorOpts: Omit<BackdoorOptions, 'apicKHz'>;

  constructor(opts: VmwareOptions = {}) {
    this.tscKHz = opts.tscKHz ?? DEFAULT_TSC_KHZ;
    this.apicKHz = opts.apicKHz ?? DEFAULT_APIC_KHZ;
    this.hypercallModes = opts.hypercallModes ?? 0;
    this.backdoorOpts = opts.backdoor ?? {};
  }

  attach(host: HypervisorHost): void {
    this.host = host;
    this.backdoor = new VmwareBackdoor(host, { ...this.backdoorOpts, apicKHz: this.apicKHz });
  }

  /**
   * The machine asks this before raising #GP for an IN/OUT/INS/OUTS at CPL > IOPL on one of
   * our ports (not wired yet: the CPU checks the I/O permission before any port handler).
   */
  bypassesIoPermission(regs: GuestRegs, port: number): boolean {
    return this.backdoor?.bypassesIoPermission(regs, port) ?? false;
  }

  portIo(regs: GuestRegs, port: number, size: number, write: boolean, value: number): number {
    if (this.backdoor === null) return size === 1 ? 0xff : size === 2 ? 0xffff : -1; // not attached: an empty port
    return this.backdoor.portIo(regs, port, size, write, value);
  }

  cpuid(offset: number, _subleaf: number, base: number, out: Int32Array): boolean {
    switch (offset) {
      case 0: // §1.5: EAX max leaf (≥ 0x40000010 on modern VMware), 'VMwareVMware'
        vendorLeaf(out, base + VMWARE_CPUID_TIMING, VMWARE_SIGNATURE);
        return true;
      case VMWARE_CPUID_TIMING: // §1.3: EAX TSC kHz, EBX APIC bus kHz, ECX hypercall modes, EDX 0
        // The TSC frequency now (GETHZ gives the same figure), the configured one before attach.
        setRegs(out, this.host?.tscKHz() ?? this.tscKHz, this.apicKHz, this.hypercallModes, 0);
        return true;
      default:
        return false; // §1.1: zeros
    }
  }
}

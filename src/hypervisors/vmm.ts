// OpenBSD vmm(4) as a host (spec digest §1.7; sys/arch/amd64/amd64/vmm_machdep.c): the
// 'OpenBSDVMM58' block at its base and a KVM-compatible block right after it for Linux guests.
// The machine asks one personality per 0x100 block, so 'vmm' is two personality objects sharing one
// clock-MSR store: VmmPersonality (first block) and VmmKvmCompatPersonality (next block).
//
// The clock MSRs write vmm's pvclock into guest memory (kvmclock-vmm.ts: shift 12,
// mul (1e9 << 20) / tsc_hz, §3.4).

import type { HypervisorHost, HypervisorPersonality } from './personality.js';
import { DEFAULT_TSC_KHZ, setRegs, vendorLeaf, type PersonalityOptions } from './cpuid-util.js';
import { KVM_SIGNATURE } from './kvm.js';
import {
  KvmClockMsrs,
  KVM_FEATURE_CLOCKSOURCE2,
  KVM_FEATURE_CLOCKSOURCE_STABLE_BIT,
  KVM_FEATURE_NOP_IO_DELAY,
  MSR_KVM_SYSTEM_TIME_NEW,
  MSR_KVM_WALL_CLOCK_NEW,
  type KvmClockHooks,
} from './kvm-msrs.js';
import { VmmPvclock, vmmPvclockScale } from './kvmclock-vmm.js';

export { vmmPvclockScale };

/** §1.1: VMM_HV_SIGNATURE. */
export const VMM_SIGNATURE = 'OpenBSDVMM58';
/** §1.7: 0x40000001 EAX = CLOCKSOURCE2 | STABLE_BIT (vmm reports 0 when it has no TSC frequency). */
export const VMM_FEATURES = KVM_FEATURE_CLOCKSOURCE2 | KVM_FEATURE_CLOCKSOURCE_STABLE_BIT; // 0x01000008
/** §1.7: 0x40000101 EAX = NOP_IO_DELAY | CLOCKSOURCE2 | STABLE_BIT. */
export const VMM_KVM_FEATURES = KVM_FEATURE_NOP_IO_DELAY | VMM_FEATURES; // 0x0100000a

export interface VmmOptions extends PersonalityOptions {
  hooks?: KvmClockHooks;
}

export class VmmPersonality implements HypervisorPersonality {
  readonly name = 'vmm';
  readonly tscKHz: number;
  /** vmm handles only 0x4B564D00/01 (§1.7): CLOCKSOURCE2 without the legacy bit. */
  readonly msrs: KvmClockMsrs;
  /** The structures in guest memory behind the two MSRs. */
  readonly pvclock = new VmmPvclock();

  constructor(opts: VmmOptions = {}) {
    this.tscKHz = opts.tscKHz ?? DEFAULT_TSC_KHZ;
    this.msrs = new KvmClockMsrs(KVM_FEATURE_CLOCKSOURCE2, opts.hooks);
  }

  attach(host: HypervisorHost): void {
    this.pvclock.attach(host);
  }

  clockChanged(): void {
    this.pvclock.clockChanged();
  }

  cpuid(offset: number, _subleaf: number, _base: number, out: Int32Array): boolean {
    switch (offset) {
      case 0: // §1.7: EAX = 0 (!), 'OpenBSDVMM58'
        vendorLeaf(out, 0, VMM_SIGNATURE);
        return true;
      case 1: // §1.7: EAX = CLOCKSOURCE2 | STABLE_BIT when the TSC frequency is known (always here)
        setRegs(out, this.tscKHz > 0 ? VMM_FEATURES : 0, 0, 0, 0);
        return true;
      default:
        return false; // §1.7: other 0x400000xx zeros
    }
  }

  rdmsr(msr: number, out: Int32Array, vcpu = 0): boolean {
    return this.msrs.rdmsr(msr, out, vcpu);
  }

  wrmsr(msr: number, lo: number, hi: number, vcpu = 0): 'ok' | 'gp' | 'no' {
    // vmm checks the GPA first: a bad one is #GP and leaves the MSR as it was (§1.7, §3.1).
    if (msr === MSR_KVM_SYSTEM_TIME_NEW && this.pvclock.systemTimeWrite(vcpu, lo, hi) === 'gp') return 'gp';
    if (msr === MSR_KVM_WALL_CLOCK_NEW && this.pvclock.wallClockWrite(lo, hi) === 'gp') return 'gp';
    return this.msrs.wrmsr(msr, lo, hi, vcpu);
  }
}

/** vmm's KVM-compatible block (§1.7), placed right after VmmPersonality. CPUID only: MSRs go to vmm. */
export class VmmKvmCompatPersonality implements HypervisorPersonality {
  readonly name = 'vmm-kvm';
  constructor(readonly vmm: VmmPersonality) {}

  cpuid(offset: number, _subleaf: number, base: number, out: Int32Array): boolean {
    switch (offset) {
      case 0: // §1.7: EAX = 0x40000101 (base+1), 'KVMKVMKVM\0\0\0'
        vendorLeaf(out, base + 1, KVM_SIGNATURE);
        return true;
      case 1: // §1.7: EAX = NOP_IO_DELAY | CLOCKSOURCE2 | STABLE_BIT (the last two only with a TSC frequency)
        setRegs(out, KVM_FEATURE_NOP_IO_DELAY | (this.vmm.tscKHz > 0 ? VMM_FEATURES : 0), 0, 0, 0);
        return true;
      default:
        return false;
    }
  }
}

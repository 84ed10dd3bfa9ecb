// KVM's CPUID block and paravirtual MSRs (Documentation/virt/kvm/x86/cpuid.rst; spec digest §1.2,
// §1.3, §3.5). Defaults reproduce what a guest sees under the KVM on these machines through Debian's
// QEMU (issue 4: feature bits 0x0100007b, max leaf base+1).

import type { HypervisorHost, HypervisorPersonality } from './personality.js';
import { DEFAULT_APIC_KHZ, DEFAULT_TSC_KHZ, sigDword, setRegs, type PersonalityOptions } from './cpuid-util.js';
import {
  KvmClockMsrs,
  KVM_FEATURE_ASYNC_PF,
  KVM_FEATURE_CLOCKSOURCE,
  KVM_FEATURE_CLOCKSOURCE2,
  KVM_FEATURE_CLOCKSOURCE_STABLE_BIT,
  KVM_FEATURE_NOP_IO_DELAY,
  KVM_FEATURE_PV_EOI,
  KVM_FEATURE_STEAL_TIME,
  MSR_KVM_SYSTEM_TIME,
  type KvmClockHooks,
} from './kvm-msrs.js';
import { KvmClock } from './kvmclock.js';

/** §1.1: `KVMKVMKVM\0\0\0`. */
export const KVM_SIGNATURE = 'KVMKVMKVM\0\0\0';

/**
 * KVM_FEATURE_* bits a QEMU/KVM guest sees by default (issue 4, measured on these machines: 0x0100007b):
 * CLOCKSOURCE (0), NOP_IO_DELAY (1), CLOCKSOURCE2 (3), ASYNC_PF (4), STEAL_TIME (5), PV_EOI (6),
 * CLOCKSOURCE_STABLE_BIT (24) (§1.2 table).
 */
export const KVM_DEFAULT_FEATURES =
  KVM_FEATURE_CLOCKSOURCE |
  KVM_FEATURE_NOP_IO_DELAY |
  KVM_FEATURE_CLOCKSOURCE2 |
  KVM_FEATURE_ASYNC_PF |
  KVM_FEATURE_STEAL_TIME |
  KVM_FEATURE_PV_EOI |
  KVM_FEATURE_CLOCKSOURCE_STABLE_BIT; // = 0x0100007b

export interface KvmOptions extends PersonalityOptions {
  /** CPUID base+1 EAX. Default KVM_DEFAULT_FEATURES (0x0100007b). */
  features?: number;
  /** CPUID base+1 EDX hints (§1.2: bit 0 KVM_HINTS_REALTIME). Default 0. */
  hints?: number;
  /**
   * Expose leaf base+0x10 (generic timing: EAX = TSC kHz, EBX = APIC kHz) and raise the max leaf
   * to base+0x10, as QEMU does with vmware-cpuid-freq and a known TSC frequency (§1.3). Default
   * false: the plain QEMU/KVM guest on these machines sees max leaf base+1.
   */
  timingLeaf?: boolean;
  hooks?: KvmClockHooks;
}

export class KvmPersonality implements HypervisorPersonality {
  readonly name = 'kvm';
  readonly features: number;
  readonly hints: number;
  readonly tscKHz: number;
  readonly apicKHz: number;
  readonly timingLeaf: boolean;
  readonly msrs: KvmClockMsrs;
  /** kvmclock and the wall clock in guest memory, behind the clock MSRs. */
  readonly clock: KvmClock;

  constructor(opts: KvmOptions = {}) {
    this.features = (opts.features ?? KVM_DEFAULT_FEATURES) | 0;
    this.hints = (opts.hints ?? 0) | 0;
    this.tscKHz = opts.tscKHz ?? DEFAULT_TSC_KHZ;
    this.apicKHz = opts.apicKHz ?? DEFAULT_APIC_KHZ;
    this.timingLeaf = opts.timingLeaf ?? false;
    this.clock = new KvmClock((this.features & KVM_FEATURE_CLOCKSOURCE_STABLE_BIT) !== 0);
    const user = opts.hooks ?? {};
    this.msrs = new KvmClockMsrs(this.features, {
      onSystemTime: (vcpu, lo, hi, msr) => {
        user.onSystemTime?.(vcpu, lo, hi, msr);
        this.clock.systemTimeWritten(vcpu, lo, hi, msr === MSR_KVM_SYSTEM_TIME);
      },
      onWallClock: (vcpu, lo, hi, msr) => {
        user.onWallClock?.(vcpu, lo, hi, msr);
        this.clock.wallClockWritten(lo, hi);
      },
    });
  }

  attach(host: HypervisorHost): void {
    this.clock.attach(host);
  }

  clockChanged(): void {
    this.clock.clockChanged();
  }

  /** The VM is being paused (the migration knob): the next update flags PVCLOCK_GUEST_STOPPED, as QEMU/KVM do. */
  guestStopped(): void {
    this.clock.guestStopped();
  }

  cpuid(offset: number, _subleaf: number, base: number, out: Int32Array): boolean {
    switch (offset) {
      case 0: // KVM_CPUID_SIGNATURE (§1.2): EAX = highest leaf (base+1, or base+0x10 with the timing leaf, §1.3)
        setRegs(out, base + (this.timingLeaf ? 0x10 : 1), sigDword(KVM_SIGNATURE, 0), sigDword(KVM_SIGNATURE, 4), sigDword(KVM_SIGNATURE, 8));
        return true;
      case 1: // KVM_CPUID_FEATURES (§1.2): EAX features, EBX = ECX = 0, EDX hints
        setRegs(out, this.features, 0, 0, this.hints);
        return true;
      case 0x10: // generic timing leaf (§1.3): EAX TSC kHz, EBX APIC bus kHz, ECX = EDX = 0 (QEMU)
        if (!this.timingLeaf) return false;
        setRegs(out, this.tscKHz, this.apicKHz, 0, 0);
        return true;
      default:
        return false; // §1.1: unimplemented leaves in the block read as zeros
    }
  }

  rdmsr(msr: number, out: Int32Array, vcpu = 0): boolean {
    return this.msrs.rdmsr(msr, out, vcpu);
  }

  wrmsr(msr: number, lo: number, hi: number, vcpu = 0): 'ok' | 'gp' | 'no' {
    return this.msrs.wrmsr(msr, lo, hi, vcpu);
  }
}

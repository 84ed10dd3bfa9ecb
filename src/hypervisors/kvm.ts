// KVM's CPUID signature block (Documentation/virt/kvm/x86/cpuid.rst; shared/specs
// hypervisor-interfaces.md §1.2). This is the detection-only placeholder that issue 2 asks
// for: the feature leaf advertises nothing until kvmclock and the paravirtual MSRs exist.

import type { HypervisorPersonality } from './personality.js';

export const KVM_SIGNATURE = 'KVMKVMKVM\0\0\0';

function sig(s: string, i: number): number {
  return (s.charCodeAt(i) | (s.charCodeAt(i + 1) << 8) | (s.charCodeAt(i + 2) << 16) | (s.charCodeAt(i + 3) << 24)) | 0;
}

export class KvmPersonality implements HypervisorPersonality {
  readonly name = 'kvm';

  cpuid(offset: number, _subleaf: number, base: number, out: Int32Array): boolean {
    switch (offset) {
      case 0: // KVM_CPUID_SIGNATURE: EAX = highest leaf of the block
        out[0] = base + 1;
        out[1] = sig(KVM_SIGNATURE, 0);
        out[2] = sig(KVM_SIGNATURE, 4);
        out[3] = sig(KVM_SIGNATURE, 8);
        return true;
      case 1: // KVM_CPUID_FEATURES: none advertised yet
        out[0] = out[1] = out[2] = out[3] = 0;
        return true;
      default:
        return false;
    }
  }
}

// Xen's CPUID leaves (spec digest §1.6; xen/include/public/arch-x86/cpuid.h and
// xen/arch/x86/cpuid.c cpuid_hypervisor_leaves) and its hypercall-page MSR (§5.1).
//
// PENDING (needs guest memory / the machine): filling the hypercall page (§5.1), hypercalls
// (xen_version, memory_op, hvm_op, vcpu_op, event channels, sched_op), shared_info and its time.

import type { HypervisorPersonality } from './personality.js';
import { DEFAULT_TSC_KHZ, HV_BASE, setRegs, vendorLeaf, type PersonalityOptions } from './cpuid-util.js';
import { pvclockScaleForTscKHz } from './pvclock.js';

/** §1.1 */
export const XEN_SIGNATURE = 'XenVMMXenVMM';
/** Xen's default number of leaves after base (XEN_CPUID_MAX_NUM_LEAVES = 5, public arch-x86/cpuid.h). */
export const XEN_CPUID_MAX_NUM_LEAVES = 5;
/** Hypercall-page MSR (§5.1, Xen traps.c/msr.c guest_wrmsr_xen): 0x40000000, or 0x40000200 with Viridian. */
export const XEN_HYPERCALL_MSR = 0x40000000;
export const XEN_HYPERCALL_MSR_VIRIDIAN = 0x40000200;

/** Leaf base+3 sub-leaf 0 EAX (§1.6): bit 0 TSC emulated, bit 1 host TSC reliable, bit 2 RDTSCP available. */
export const XEN_CPUID_TSC_EMULATED = 1 << 0;
export const XEN_CPUID_HOST_TSC_RELIABLE = 1 << 1;
export const XEN_CPUID_RDTSCP_INSTR_AVAIL = 1 << 2;
/** Leaf base+4 EAX (§1.6; public cpuid.h). */
export const XEN_HVM_CPUID_APIC_ACCESS_VIRT = 1 << 0;
export const XEN_HVM_CPUID_X2APIC_VIRT = 1 << 1;
export const XEN_HVM_CPUID_IOMMU_MAPPINGS = 1 << 2;
export const XEN_HVM_CPUID_VCPU_ID_PRESENT = 1 << 3;
export const XEN_HVM_CPUID_DOMID_PRESENT = 1 << 4;
export const XEN_HVM_CPUID_UPCALL_VECTOR = 1 << 6;

/**
 * What current Xen puts in base+4 EAX for an HVM guest on hardware without APIC-register
 * virtualisation (cpuid.c): IOMMU_MAPPINGS | VCPU_ID_PRESENT | DOMID_PRESENT | UPCALL_VECTOR = 0x5c.
 */
export const XEN_DEFAULT_HVM_FEATURES =
  XEN_HVM_CPUID_IOMMU_MAPPINGS | XEN_HVM_CPUID_VCPU_ID_PRESENT | XEN_HVM_CPUID_DOMID_PRESENT | XEN_HVM_CPUID_UPCALL_VECTOR;

export interface XenOptions extends PersonalityOptions {
  /** Xen version for base+1 (§1.6). Default 4.17. */
  major?: number;
  minor?: number;
  /** Domain id reported in base+4 ECX. Default 1 (the first domU). */
  domid?: number;
  /**
   * Viridian (Hyper-V leaves at 0x40000000, Xen at 0x40000100): moves the hypercall MSR to
   * 0x40000200 (§1.6, §5.1). Default: true when the personality is not placed at 0x40000000.
   */
  viridian?: boolean;
  /** CPUID.80000001:EDX.RDTSCP of the CPU model (base+3 EAX bit 2). Default true (hvsim's model sets it). */
  rdtscp?: boolean;
}

export class XenPersonality implements HypervisorPersonality {
  readonly name = 'xen';
  readonly tscKHz: number;
  readonly major: number;
  readonly minor: number;
  readonly domid: number;
  readonly viridian: boolean;
  readonly rdtscp: boolean;
  /** Last value written to the hypercall MSR (the page GPA); PENDING: the page is not filled yet. */
  hypercallPage: { lo: number; hi: number } | null = null;

  constructor(opts: XenOptions = {}) {
    this.tscKHz = opts.tscKHz ?? DEFAULT_TSC_KHZ;
    this.major = opts.major ?? 4;
    this.minor = opts.minor ?? 17;
    this.domid = opts.domid ?? 1;
    this.viridian = opts.viridian ?? (opts.base !== undefined && opts.base !== HV_BASE);
    this.rdtscp = opts.rdtscp ?? true;
  }

  get hypercallMsr(): number {
    return this.viridian ? XEN_HYPERCALL_MSR_VIRIDIAN : XEN_HYPERCALL_MSR;
  }

  cpuid(offset: number, subleaf: number, base: number, out: Int32Array, vcpu = 0): boolean {
    switch (offset) {
      case 0: // §1.6: EAX = base + limit (Xen: limit = XEN_CPUID_MAX_NUM_LEAVES), 'XenVMMXenVMM'
        vendorLeaf(out, base + XEN_CPUID_MAX_NUM_LEAVES, XEN_SIGNATURE);
        return true;
      case 1: // §1.6: EAX = major << 16 | minor
        setRegs(out, (this.major << 16) | (this.minor & 0xffff), 0, 0, 0);
        return true;
      case 2: // §1.6: EAX 1 hypercall page, EBX MSR index, ECX features (PV only → 0 for HVM), EDX 0
        setRegs(out, 1, this.hypercallMsr, 0, 0);
        return true;
      case 3: // §1.6 time leaf
        if (subleaf === 0) {
          // EAX: not emulated (tsc_mode default on a reliable TSC), host TSC reliable, RDTSCP; EBX tsc_mode 0;
          // ECX guest TSC kHz; EDX incarnation 0 (PENDING: bump on simulated migration).
          setRegs(out, XEN_CPUID_HOST_TSC_RELIABLE | (this.rdtscp ? XEN_CPUID_RDTSCP_INSTR_AVAIL : 0), 0, this.tscKHz, 0);
        } else if (subleaf === 1) {
          // EAX/EBX TSC offset (0: the guest TSC is the virtual TSC), ECX mul, EDX shift (s8 sign-extended).
          // Xen's set_time_scale() gives the same (mul, shift) as kvm_get_time_scale for 1 GHz (§3.4).
          const ts = pvclockScaleForTscKHz(this.tscKHz);
          setRegs(out, 0, 0, ts.mul, ts.shift);
        } else if (subleaf === 2) {
          setRegs(out, this.tscKHz, 0, 0, 0); // EAX host (physical) TSC kHz
        } else setRegs(out, 0, 0, 0, 0);
        return true;
      case 4: // §1.6 HVM leaf, sub-leaf 0 only: EAX features, EBX vCPU id, ECX domid
        if (subleaf !== 0) setRegs(out, 0, 0, 0, 0);
        else setRegs(out, XEN_DEFAULT_HVM_FEATURES, vcpu, this.domid, 0);
        return true;
      case 5: // §1.6: PV-specific, zeros for HVM guests
        setRegs(out, 0, 0, 0, 0);
        return true;
      default:
        return false;
    }
  }

  rdmsr(msr: number, out: Int32Array): boolean {
    if (msr !== this.hypercallMsr) return false;
    out[0] = out[1] = 0; // Xen: "Write hypercall page MSR. Read as zero."
    return true;
  }

  wrmsr(msr: number, lo: number, hi: number): 'ok' | 'gp' | 'no' {
    if (msr !== this.hypercallMsr) return 'no';
    // §5.1: GPA of the page | page index in bits 11:0; Xen supports only index 0 (else #GP).
    if ((lo & 0xfff) !== 0) return 'gp';
    this.hypercallPage = { lo: lo | 0, hi: hi | 0 };
    // PENDING: fill the page with 128 stubs `mov eax, i; vmcall|vmmcall; ret` (§5.1).
    return 'ok';
  }
}

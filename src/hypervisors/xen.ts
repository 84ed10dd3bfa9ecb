// The Xen HVM personality (spec digest §1.6, §5): its CPUID leaves (xen/include/public/arch-x86/
// cpuid.h, xen/arch/x86/cpuid.c cpuid_hypervisor_leaves), the hypercall-page MSR (§5.1), and the
// hypercall entry: VMCALL/VMMCALL with Xen's register ABI (arch/x86/hvm/hypercall.c hvm_hypercall).
// The domain behind the hypercalls (shared_info, time, event channels, XenStore) is xen-domain.ts.
//
// What the machine does not offer yet is taken when present on the host object (XenHostServices):
// a linear-to-physical walk for hypercall arguments, power-off/reset for SCHEDOP_shutdown, and the
// vCPU's mode at the MSR write. docs/personalities/xen.md says what happens without them.

import type { HypercallRegs, HypervisorHost, HypervisorPersonality } from './personality.js';
import { DEFAULT_TSC_KHZ, HV_BASE, setRegs, vendorLeaf, type PersonalityOptions } from './cpuid-util.js';
import { pvclockScaleForTscKHz } from './pvclock.js';
import { XenDomain } from './xen-domain.js';
import { XenGuestArgs, type LinearToPhysical } from './xen-guest-args.js';
import { buildXenHypercallPage } from './xen-hypercall-page.js';
import { SHUTDOWN_reboot, SHUTDOWN_soft_reset, XEN_ENOSYS, XEN_EPERM, XENSTORE_SPECIAL_PFN } from './xen-abi.js';

/** Machine services the Xen personality uses when the host object has them (not yet in HypervisorHost). */
export interface XenHostServices {
  /** Walk the vCPU's page tables for a linear address given as halves (hypercall arguments are linear addresses); null on a fault. */
  linearToPhysical?: LinearToPhysical;
  /** Stop the run as a power-off (SCHEDOP_shutdown poweroff/crash/...). */
  powerOff?(): void;
  /** Stop the run as a reboot (SCHEDOP_shutdown reboot/soft_reset). */
  reset?(): void;
  /** True if the vCPU is in 64-bit mode now (Xen latches the shared_info layout at the MSR write). */
  vcpuLongMode?(vcpu: number): boolean;
}

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
  /** Last value written to the hypercall MSR (the page GPA). */
  hypercallPage: { lo: number; hi: number } | null = null;
  /** The domain behind the hypercalls; null until attach(). */
  domain: XenDomain | null = null;
  private host: (HypervisorHost & XenHostServices) | null = null;
  /** The MSR was written while the vCPU's mode was unknown: latch at the next hypercall. */
  private latchAtNextCall = false;

  constructor(opts: XenOptions = {}) {
    this.tscKHz = opts.tscKHz ?? DEFAULT_TSC_KHZ;
    this.major = opts.major ?? 4;
    this.minor = opts.minor ?? 17;
    this.domid = opts.domid ?? 1;
    this.viridian = opts.viridian ?? (opts.base !== undefined && opts.base !== HV_BASE);
    this.rdtscp = opts.rdtscp ?? true;
  }

  /** The TSC frequency now (it follows the migration knob once attached). */
  private currentTscKHz(): number {
    return this.host?.tscKHz() ?? this.tscKHz;
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
          setRegs(out, XEN_CPUID_HOST_TSC_RELIABLE | (this.rdtscp ? XEN_CPUID_RDTSCP_INSTR_AVAIL : 0), 0, this.currentTscKHz(), 0);
        } else if (subleaf === 1) {
          // EAX/EBX TSC offset (0: the guest TSC is the virtual TSC), ECX mul, EDX shift (s8 sign-extended).
          // Xen's set_time_scale() gives the same (mul, shift) as kvm_get_time_scale for 1 GHz (§3.4).
          const ts = pvclockScaleForTscKHz(this.currentTscKHz());
          setRegs(out, 0, 0, ts.mul, ts.shift);
        } else if (subleaf === 2) {
          setRegs(out, this.currentTscKHz(), 0, 0, 0); // EAX host (physical) TSC kHz
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

  attach(host: HypervisorHost): void {
    const h = host as HypervisorHost & XenHostServices;
    this.host = h;
    this.domain = new XenDomain(h, {
      domid: this.domid,
      major: this.major,
      minor: this.minor,
      storePage: this.placeStorePage(h),
      onShutdown: (reason) => {
        if (reason === SHUTDOWN_reboot || reason === SHUTDOWN_soft_reset) h.reset?.();
        else h.powerOff?.();
      },
    });
  }

  /**
   * The xenstore ring lives where libxl puts it for HVM guests, GPFN 0xfeffc (in the hole below
   * 4 GiB, reserved in the guest's memory map): a 4 KiB window of ours on the memory bus.
   */
  private placeStorePage(h: HypervisorHost): { bytes: Uint8Array; pfn: number } | null {
    const bytes = new Uint8Array(4096);
    const handler = {
      mmioRead: (off: number, size: number): number => {
        let v = 0;
        for (let i = 0; i < Math.min(size, 4) && off + i < 4096; i++) v |= bytes[off + i] << (8 * i);
        return v >>> 0;
      },
      mmioWrite: (off: number, size: number, value: number): void => {
        for (let i = 0; i < Math.min(size, 4) && off + i < 4096; i++) bytes[off + i] = (value >>> (8 * i)) & 0xff;
      },
    };
    try {
      h.mem.addMmio(XENSTORE_SPECIAL_PFN * 4096, 4096, handler, 'xen-xenstore-ring');
    } catch {
      return null; // something else is there: no XenStore (STORE_PFN reads 0)
    }
    return { bytes, pfn: XENSTORE_SPECIAL_PFN };
  }

  wrmsr(msr: number, lo: number, hi: number, vcpu = 0): 'ok' | 'gp' | 'no' {
    if (msr !== this.hypercallMsr) return 'no';
    // §5.1: GPA of the page | page index in bits 11:0; Xen supports only index 0 (else #GP).
    if ((lo & 0xfff) !== 0) return 'gp';
    const h = this.host;
    if (h !== null) {
      // msr.c guest_wrmsr_xen: the frame must be a writable RAM page of the guest, else #GP.
      const long = h.vcpuLongMode?.(vcpu);
      // Outside long mode Xen keeps only 32 bits of the frame number (bits 43:12 of the value).
      const gfn = (hi >>> 0) * 1048576 + (lo >>> 12);
      const gpa = (long === false ? gfn % 4294967296 : gfn) * 4096;
      if (!h.mem.isRam(gpa, 4096)) return 'gp';
      h.mem.writeBytes(gpa, buildXenHypercallPage(false)); // hvsim's CPU is GenuineIntel: VMCALL
      if (long !== undefined) this.domain!.latchLayout(!long);
      else this.latchAtNextCall = true;
    }
    this.hypercallPage = { lo: lo | 0, hi: hi | 0 };
    return 'ok';
  }

  /**
   * VMCALL/VMMCALL (hvm_hypercall): from CPL > 0 (or vm86) RAX = -EPERM; in 64-bit mode the number
   * is all of RAX and the arguments RDI, RSI, RDX, R10, R8; otherwise EAX and EBX, ECX, EDX, ESI,
   * EDI. The result goes to RAX (EAX only for a 32-bit guest). Unknown numbers: -ENOSYS.
   */
  hypercall(regs: HypercallRegs): boolean {
    const d = this.domain;
    if (d === null || this.host === null) return false;
    const { lo, hi } = regs;
    if (regs.cpl !== 0) {
      lo[0] = -XEN_EPERM;
      hi[0] = -1;
      return true;
    }
    // With Viridian, numbers with bit 31 set are Hyper-V's (hvm_hypercall): not ours to answer.
    if (this.viridian && (lo[0] & 0x80000000) !== 0) return false;
    const regsUsed = regs.long ? [7, 6, 2, 10, 8] : [3, 1, 2, 6, 7];
    const low = regsUsed.map((i) => lo[i] | 0);
    const ptrs = regsUsed.map((i) => (regs.long ? BigInt(hi[i] >>> 0) << 32n : 0n) | BigInt(lo[i] >>> 0));
    if (this.latchAtNextCall) {
      this.latchAtNextCall = false;
      d.latchLayout(!regs.long);
    }
    const nr = lo[0] >>> 0;
    const inRange = !regs.long || hi[0] === 0;
    const mem = new XenGuestArgs(this.host.mem, this.host.linearToPhysical ?? null, regs.vcpu);
    const r = inRange ? d.hypercall(nr, { vcpu: regs.vcpu, compat: !regs.long, low, ptrs, mem }) : -XEN_ENOSYS;
    lo[0] = r | 0;
    if (regs.long) hi[0] = r < 0 ? -1 : 0;
    return true;
  }

  /** The TSC frequency changed or the VM resumed: rewrite every vcpu_time_info and the wall clock. */
  clockChanged(): void {
    this.domain?.writeAllTime();
  }
}

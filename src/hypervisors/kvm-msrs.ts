// Storage semantics of KVM's paravirtual MSRs (spec digest §3.5, Linux Documentation/virt/kvm/x86/msr.rst),
// shared by the KVM personality and OpenBSD vmm(4)'s KVM-compatible clock (§1.7).
//
// What is here: which MSRs exist under which feature bits, per-vCPU / per-VM values as written and
// read back. The hooks are where the owner acts on a write: KvmPersonality writes kvmclock and the wall
// clock into guest memory through them (kvmclock.ts). Still PENDING: the steal-time, async-PF and
// PV-EOI areas.

/** MSR numbers (§3.5). */
export const MSR_KVM_WALL_CLOCK = 0x11;
export const MSR_KVM_SYSTEM_TIME = 0x12;
export const MSR_KVM_WALL_CLOCK_NEW = 0x4b564d00;
export const MSR_KVM_SYSTEM_TIME_NEW = 0x4b564d01;
export const MSR_KVM_ASYNC_PF_EN = 0x4b564d02;
export const MSR_KVM_STEAL_TIME = 0x4b564d03;
export const MSR_KVM_PV_EOI_EN = 0x4b564d04;

/** KVM_FEATURE_* bits of CPUID base+1 EAX (§1.2). */
export const KVM_FEATURE_CLOCKSOURCE = 1 << 0;
export const KVM_FEATURE_NOP_IO_DELAY = 1 << 1;
export const KVM_FEATURE_MMU_OP = 1 << 2;
export const KVM_FEATURE_CLOCKSOURCE2 = 1 << 3;
export const KVM_FEATURE_ASYNC_PF = 1 << 4;
export const KVM_FEATURE_STEAL_TIME = 1 << 5;
export const KVM_FEATURE_PV_EOI = 1 << 6;
export const KVM_FEATURE_PV_UNHALT = 1 << 7;
export const KVM_FEATURE_CLOCKSOURCE_STABLE_BIT = 1 << 24;

export interface KvmClockHooks {
  /** The guest wrote a system-time MSR; bit 0 of lo = enable, rest = GPA (§3.5). */
  onSystemTime?(vcpu: number, lo: number, hi: number, msr: number): void;
  /** The guest wrote a wall-clock MSR with the GPA of pvclock_wall_clock (§3.5). */
  onWallClock?(vcpu: number, lo: number, hi: number, msr: number): void;
}

interface Pair {
  lo: number;
  hi: number;
}

export class KvmClockMsrs {
  /** Per-vCPU value of the system-time MSR (legacy and new share it, as in KVM). */
  private readonly systemTime = new Map<number, Pair>();
  /** Per-vCPU values of the other PV MSRs, keyed `${msr}`. */
  private readonly other = new Map<string, Pair>();
  /** VM-wide last wall-clock GPA written (KVM reads back kvm->arch.wall_clock). */
  private wallClock: Pair = { lo: 0, hi: 0 };

  constructor(
    /** CPUID base+1 EAX the guest sees: decides which MSRs exist (§3.5: legacy under bit 0, new under bit 3, …). */
    readonly features: number,
    readonly hooks: KvmClockHooks = {},
  ) {}

  private has(msr: number): boolean {
    const f = this.features;
    switch (msr) {
      case MSR_KVM_WALL_CLOCK:
      case MSR_KVM_SYSTEM_TIME:
        return (f & KVM_FEATURE_CLOCKSOURCE) !== 0; // §3.5: legacy MSRs under CPUID bit 0
      case MSR_KVM_WALL_CLOCK_NEW:
      case MSR_KVM_SYSTEM_TIME_NEW:
        return (f & KVM_FEATURE_CLOCKSOURCE2) !== 0; // §3.5: new MSRs under CPUID bit 3
      case MSR_KVM_ASYNC_PF_EN:
        return (f & KVM_FEATURE_ASYNC_PF) !== 0; // §1.2 bit 4
      case MSR_KVM_STEAL_TIME:
        return (f & KVM_FEATURE_STEAL_TIME) !== 0; // §1.2 bit 5
      case MSR_KVM_PV_EOI_EN:
        return (f & KVM_FEATURE_PV_EOI) !== 0; // §1.2 bit 6
      default:
        return false;
    }
  }

  /** The system-time MSR value of a vCPU (enable bit + GPA), for the machine and for state export. */
  systemTimeOf(vcpu: number): Pair {
    return this.systemTime.get(vcpu) ?? { lo: 0, hi: 0 };
  }

  rdmsr(msr: number, out: Int32Array, vcpu = 0): boolean {
    if (!this.has(msr)) return false;
    let v: Pair;
    if (msr === MSR_KVM_SYSTEM_TIME || msr === MSR_KVM_SYSTEM_TIME_NEW) v = this.systemTimeOf(vcpu);
    else if (msr === MSR_KVM_WALL_CLOCK || msr === MSR_KVM_WALL_CLOCK_NEW) v = this.wallClock;
    else v = this.other.get(`${vcpu}:${msr}`) ?? { lo: 0, hi: 0 };
    out[0] = v.lo | 0;
    out[1] = v.hi | 0;
    return true;
  }

  wrmsr(msr: number, lo: number, hi: number, vcpu = 0): 'ok' | 'gp' | 'no' {
    if (!this.has(msr)) return 'no';
    const v = { lo: lo | 0, hi: hi | 0 };
    if (msr === MSR_KVM_SYSTEM_TIME || msr === MSR_KVM_SYSTEM_TIME_NEW) {
      this.systemTime.set(vcpu, v);
      this.hooks.onSystemTime?.(vcpu, v.lo, v.hi, msr);
    } else if (msr === MSR_KVM_WALL_CLOCK || msr === MSR_KVM_WALL_CLOCK_NEW) {
      // §3.5: the host fills the wall clock once per write (the hook's owner does the write).
      this.wallClock = v;
      this.hooks.onWallClock?.(vcpu, v.lo, v.hi, msr);
    } else {
      // PENDING: async-PF, steal-time and PV-EOI areas need guest memory; the values are kept so the
      // guest reads back what it wrote, and nothing is ever delivered through them.
      this.other.set(`${vcpu}:${msr}`, v);
    }
    return 'ok';
  }

  exportState(): object {
    return {
      systemTime: [...this.systemTime.entries()],
      other: [...this.other.entries()],
      wallClock: this.wallClock,
    };
  }
}

// The Microsoft Hyper-V personality (TLFS; spec digest §1.4, §3.8, §6.1-§6.5): CPUID leaves,
// synthetic MSRs, the hypercall page and hypercalls, the partition reference counter and reference
// TSC page, and the SynIC MSRs with their message/event pages. The pages are written into guest
// RAM at the GPFN the guest chose (as KVM does), not overlaid: docs/personalities/hyperv.md.

import type { HypercallRegs, HypervisorHost, HypervisorPersonality } from './personality.js';
import { dispatchHypercall, type HvConnections } from './hyperv-hypercall.js';
import { nextTscSequence, ns100, ReferenceCounter, referenceTscPageBytes, TSC_SEQUENCE_INVALID } from './hyperv-reference-time.js';
import { DEFAULT_APIC_KHZ, DEFAULT_TSC_KHZ, setRegs, splitU64, vendorLeaf, type PersonalityOptions } from './cpuid-util.js';

/** §1.1: vendor signature and the interface id of leaf 0x40000001. */
export const HYPERV_SIGNATURE = 'Microsoft Hv';
export const HYPERV_INTERFACE_HV1 = 0x31237648; // 'Hv#1' (§1.1, §1.4)

/** Leaf offsets (§1.4). */
export const HYPERV_CPUID_VENDOR_AND_MAX = 0x00;
export const HYPERV_CPUID_INTERFACE = 0x01;
export const HYPERV_CPUID_VERSION = 0x02;
export const HYPERV_CPUID_FEATURES = 0x03;
export const HYPERV_CPUID_ENLIGHTMENT_INFO = 0x04;
export const HYPERV_CPUID_IMPLEMENT_LIMITS = 0x05;
export const HYPERV_CPUID_HW_FEATURES = 0x06;

/** Partition privilege mask, low dword (0x40000003 EAX, §1.4). */
export const HV_MSR_VP_RUNTIME_AVAILABLE = 1 << 0;
export const HV_MSR_TIME_REF_COUNT_AVAILABLE = 1 << 1;
export const HV_MSR_SYNIC_AVAILABLE = 1 << 2;
export const HV_MSR_SYNTIMER_AVAILABLE = 1 << 3;
export const HV_MSR_APIC_ACCESS_AVAILABLE = 1 << 4;
export const HV_MSR_HYPERCALL_AVAILABLE = 1 << 5;
export const HV_MSR_VP_INDEX_AVAILABLE = 1 << 6;
export const HV_MSR_RESET_AVAILABLE = 1 << 7;
export const HV_MSR_REFERENCE_TSC_AVAILABLE = 1 << 9;
export const HV_ACCESS_FREQUENCY_MSRS = 1 << 11;
/** High dword (0x40000003 EBX, §1.4). */
export const HV_POST_MESSAGES = 1 << 4;
export const HV_SIGNAL_EVENTS = 1 << 5;
/** 0x40000003 EDX (§1.4): bit 8 guest can read the TSC/APIC frequency MSRs. */
export const HV_FEATURE_FREQUENCY_MSRS_AVAILABLE = 1 << 8;
/** 0x40000004 EAX (§1.4): bit 5 relaxed timing (disable watchdogs). */
export const HV_X64_RELAXED_TIMING_RECOMMENDED = 1 << 5;

/**
 * Privileges advertised (§1.4): reference counter (1) and reference TSC page (9) for the clocks,
 * SynIC (2, OpenBSD hv_attach needs it), AccessIntrCtrlRegs (4) for the VP assist page that Linux
 * ≥ 4.17 writes on every CPU, hypercall MSRs (5) and VP index (6) which Linux ≥ 5.16 requires
 * (§2.3), frequency MSRs (11, with EDX bit 8). Bit 4 also covers the APIC MSRs 0x40000070-72,
 * which are not implemented (#GP): 0x40000004 does not recommend them (HV_X64_APIC_ACCESS_RECOMMENDED
 * clear), so guests keep to the APIC. Not advertised: VP runtime, synthetic timers, reset, guest
 * idle, crash MSRs — their MSRs are not implemented.
 */
export const HYPERV_DEFAULT_PRIVILEGES_LO =
  HV_MSR_TIME_REF_COUNT_AVAILABLE |
  HV_MSR_SYNIC_AVAILABLE |
  HV_MSR_APIC_ACCESS_AVAILABLE |
  HV_MSR_HYPERCALL_AVAILABLE |
  HV_MSR_VP_INDEX_AVAILABLE |
  HV_MSR_REFERENCE_TSC_AVAILABLE |
  HV_ACCESS_FREQUENCY_MSRS; // = 0x00000a76
/** PostMessages and SignalEvents (§1.4 EBX bits 4, 5) for VMBus (§6.3). */
export const HYPERV_DEFAULT_PRIVILEGES_HI = HV_POST_MESSAGES | HV_SIGNAL_EVENTS; // = 0x30

/** Synthetic MSRs (§6.1). */
export const HV_X64_MSR_GUEST_OS_ID = 0x40000000;
export const HV_X64_MSR_HYPERCALL = 0x40000001;
export const HV_X64_MSR_VP_INDEX = 0x40000002;
export const HV_X64_MSR_TIME_REF_COUNT = 0x40000020;
export const HV_X64_MSR_REFERENCE_TSC = 0x40000021;
export const HV_X64_MSR_TSC_FREQUENCY = 0x40000022;
export const HV_X64_MSR_APIC_FREQUENCY = 0x40000023;
/** TLFS "Virtual Processor Assist Page": bit 0 enable, 11:1 RsvdP, 63:12 the page's GPA (privilege bit 4). */
export const HV_X64_MSR_VP_ASSIST_PAGE = 0x40000073;
export const HV_X64_MSR_SCONTROL = 0x40000080;
export const HV_X64_MSR_SVERSION = 0x40000081;
export const HV_X64_MSR_SIEFP = 0x40000082;
export const HV_X64_MSR_SIMP = 0x40000083;
export const HV_X64_MSR_EOM = 0x40000084;
export const HV_X64_MSR_SINT0 = 0x40000090;
export const HV_X64_MSR_SINT15 = 0x4000009f;

/** HYPERCALL MSR bits (§6.1): bit 0 enable, bit 1 locked. */
const HYPERCALL_ENABLE = 1 << 0;
const HYPERCALL_LOCKED = 1 << 1;
/**
 * The hypercall page's code (§6.3): VMCALL (0F 01 C1), RET (C3) — hvsim's CPU says GenuineIntel,
 * whose hypercall instruction is VMCALL. The same stub serves 32- and 64-bit callers: the register
 * convention is chosen by the caller's mode at the VMCALL. Like KVM, only these bytes are written.
 */
export const HYPERCALL_PAGE_STUB: Uint8Array = Uint8Array.of(0x0f, 0x01, 0xc1, 0xc3);
/** REFERENCE_TSC, SIEFP, SIMP: bit 0 enable (§3.8, §6.1). */
const PAGE_ENABLE = 1 << 0;
/** SINTx bit 16 masked; reset value is masked (§6.1). Vectors below 16 are invalid (§6.1 "vector (≥16)"). */
const SINT_MASKED = 1 << 16;
/**
 * Guest-physical address bits: hvsim's CPUID 0x80000008 reports MAXPHYADDR 39. A hypercall page
 * beyond the GPA space is #GP on the MSR write (TLFS hypercall-interface.md).
 */
const GPA_BITS = 39;

const PAGE_SIZE = 4096;

export interface HypervOptions extends PersonalityOptions {
  /** 0x40000002 (§1.4): build number, major, minor. Default Windows Server 2019: 17763, 10.0. */
  build?: number;
  major?: number;
  minor?: number;
  privilegesLo?: number;
  privilegesHi?: number;
  /** 0x40000003 EDX. Default HV_FEATURE_FREQUENCY_MSRS_AVAILABLE. */
  miscFeatures?: number;
  /** 0x40000004 EAX. Default relaxed timing. */
  recommendations?: number;
  /** 0x40000005 EAX/EBX: maximum virtual / logical processors. Defaults 240 / 0 (chosen, see report). */
  maxVps?: number;
  maxLps?: number;
  /**
   * Partition time in 100 ns units, replacing the machine's virtual clock (for tests of a
   * personality with no machine). Without it and without attach(), TIME_REF_COUNT is unhandled.
   */
  refTime100ns?: () => number;
}

interface Pair {
  lo: number;
  hi: number;
}

class SynicState {
  scontrol: Pair = { lo: 0, hi: 0 };
  siefp: Pair = { lo: 0, hi: 0 };
  simp: Pair = { lo: 0, hi: 0 };
  sint: Pair[] = Array.from({ length: 16 }, () => ({ lo: SINT_MASKED, hi: 0 }));
}

/** Guest-physical address of the page an MSR value points at (bits 63:12). */
function pageGpa(p: Pair): number {
  return (p.hi >>> 0) * 4294967296 + ((p.lo & ~(PAGE_SIZE - 1)) >>> 0);
}

function enabled(p: Pair): boolean {
  return (p.lo & PAGE_ENABLE) !== 0;
}

export class HypervPersonality implements HypervisorPersonality {
  readonly name = 'hyperv';
  readonly tscKHz: number;
  readonly apicKHz: number;
  readonly build: number;
  readonly major: number;
  readonly minor: number;
  readonly privilegesLo: number;
  readonly privilegesHi: number;
  readonly miscFeatures: number;
  readonly recommendations: number;
  readonly maxVps: number;
  readonly maxLps: number;
  private readonly refTime100ns?: () => number;
  private host: HypervisorHost | null = null;

  // Partition-wide MSR state (§6.1, §6.2)
  guestOsId: Pair = { lo: 0, hi: 0 };
  hypercallMsr: Pair = { lo: 0, hi: 0 };
  referenceTsc: Pair = { lo: 0, hi: 0 };
  /** TscSequence of the last page written (0: none yet). */
  tscSequence = TSC_SEQUENCE_INVALID;
  private readonly reference = new ReferenceCounter({
    time100ns: () => (this.refTime100ns !== undefined ? this.refTime100ns() : ns100(this.host?.nowNs() ?? 0)),
    ns: () => this.host?.nowNs() ?? 0,
    tsc: () => this.host?.tsc() ?? 0,
    tscKHz: () => this.currentTscKHz(),
  });
  // Per-vCPU SynIC state (§6.1)
  private readonly synic = new Map<number, SynicState>();
  /** Per-vCPU VP assist page MSR (reset value 0: disabled). */
  private readonly vpAssist = new Map<number, Pair>();
  /** Where VMBus will receive HvPostMessage / HvSignalEvent; until then every connection id is invalid. */
  connections: HvConnections | null = null;

  constructor(opts: HypervOptions = {}) {
    this.tscKHz = opts.tscKHz ?? DEFAULT_TSC_KHZ;
    this.apicKHz = opts.apicKHz ?? DEFAULT_APIC_KHZ;
    this.build = opts.build ?? 17763;
    this.major = opts.major ?? 10;
    this.minor = opts.minor ?? 0;
    this.privilegesLo = (opts.privilegesLo ?? HYPERV_DEFAULT_PRIVILEGES_LO) | 0;
    this.privilegesHi = (opts.privilegesHi ?? HYPERV_DEFAULT_PRIVILEGES_HI) | 0;
    this.miscFeatures = (opts.miscFeatures ?? HV_FEATURE_FREQUENCY_MSRS_AVAILABLE) | 0;
    this.recommendations = (opts.recommendations ?? HV_X64_RELAXED_TIMING_RECOMMENDED) | 0;
    this.maxVps = opts.maxVps ?? 240;
    this.maxLps = opts.maxLps ?? 0;
    this.refTime100ns = opts.refTime100ns;
  }

  attach(host: HypervisorHost): void {
    this.host = host;
  }

  /** The TSC frequency now: the machine's (it changes under the migration knob), else the configured one. */
  private currentTscKHz(): number {
    return this.host?.tscKHz() ?? this.tscKHz;
  }

  /** The TSC frequency changed or the VM resumed: republish the reference TSC page (§3.8 sequence protocol). */
  clockChanged(): void {
    if (enabled(this.referenceTsc)) this.publishReferenceTscPage();
  }

  cpuid(offset: number, _subleaf: number, base: number, out: Int32Array): boolean {
    switch (offset) {
      case HYPERV_CPUID_VENDOR_AND_MAX:
        // §1.4: max leaf; Linux requires 0x40000005 ≤ EAX ≤ 0x4000FFFF (§2.3). We end at the hardware-features leaf.
        vendorLeaf(out, base + HYPERV_CPUID_HW_FEATURES, HYPERV_SIGNATURE);
        return true;
      case HYPERV_CPUID_INTERFACE: // §1.4: EAX 'Hv#1', EBX..EDX reserved 0
        setRegs(out, HYPERV_INTERFACE_HV1, 0, 0, 0);
        return true;
      case HYPERV_CPUID_VERSION: // §1.4: EAX build, EBX major<<16 | minor, ECX service pack, EDX branch/number
        setRegs(out, this.build, (this.major << 16) | (this.minor & 0xffff), 0, 0);
        return true;
      case HYPERV_CPUID_FEATURES: // §1.4: EAX/EBX privilege mask, ECX power management, EDX misc features
        setRegs(out, this.privilegesLo, this.privilegesHi, 0, this.miscFeatures);
        return true;
      case HYPERV_CPUID_ENLIGHTMENT_INFO: // §1.4: EAX recommendations, EBX spinlock retries (0xFFFFFFFF = never notify)
        setRegs(out, this.recommendations, 0xffffffff, 0, 0);
        return true;
      case HYPERV_CPUID_IMPLEMENT_LIMITS: // §1.4: EAX max VPs, EBX max LPs, ECX interrupt-remapping vectors
        setRegs(out, this.maxVps, this.maxLps, 0, 0);
        return true;
      case HYPERV_CPUID_HW_FEATURES: // §1.4: hardware features in use — none
        setRegs(out, 0, 0, 0, 0);
        return true;
      default:
        return false; // §1.1: zeros
    }
  }

  private priv(bit: number): boolean {
    return (this.privilegesLo & bit) !== 0;
  }

  private synicOf(vcpu: number): SynicState {
    let s = this.synic.get(vcpu);
    if (s === undefined) {
      s = new SynicState();
      this.synic.set(vcpu, s);
    }
    return s;
  }

  /** Hypercall page enabled (the enable bit stuck, §6.1). */
  get hypercallEnabled(): boolean {
    return (this.hypercallMsr.lo & HYPERCALL_ENABLE) !== 0;
  }

  /** TIME_REF_COUNT now, or null without a clock (no machine and no refTime100ns). */
  referenceCounter(): bigint | null {
    if (this.host === null && this.refTime100ns === undefined) return null;
    return this.reference.now();
  }

  rdmsr(msr: number, out: Int32Array, vcpu = 0): boolean {
    const put = (p: Pair) => {
      out[0] = p.lo | 0;
      out[1] = p.hi | 0;
      return true;
    };
    switch (msr) {
      case HV_X64_MSR_GUEST_OS_ID:
        return this.priv(HV_MSR_HYPERCALL_AVAILABLE) && put(this.guestOsId); // §1.4 bit 5
      case HV_X64_MSR_HYPERCALL:
        return this.priv(HV_MSR_HYPERCALL_AVAILABLE) && put(this.hypercallMsr);
      case HV_X64_MSR_VP_INDEX: // §6.1: read-only vCPU index (§1.4 bit 6)
        return this.priv(HV_MSR_VP_INDEX_AVAILABLE) && put({ lo: vcpu, hi: 0 });
      case HV_X64_MSR_TIME_REF_COUNT: { // §3.8: 100 ns units (§1.4 bit 1)
        if (!this.priv(HV_MSR_TIME_REF_COUNT_AVAILABLE)) return false;
        const t = this.referenceCounter();
        if (t === null) return false;
        out[0] = Number(t & 0xffffffffn) | 0;
        out[1] = Number(t >> 32n) | 0;
        return true;
      }
      case HV_X64_MSR_REFERENCE_TSC: // §3.8 (§1.4 bit 9)
        return this.priv(HV_MSR_REFERENCE_TSC_AVAILABLE) && put(this.referenceTsc);
      case HV_X64_MSR_VP_ASSIST_PAGE: // §1.4 bit 4; reads back what was written
        return this.priv(HV_MSR_APIC_ACCESS_AVAILABLE) && put(this.vpAssist.get(vcpu) ?? { lo: 0, hi: 0 });
      case HV_X64_MSR_TSC_FREQUENCY: // §3.8: Hz, needs privilege bit 11 and EDX bit 8
      case HV_X64_MSR_APIC_FREQUENCY:
        if (!this.priv(HV_ACCESS_FREQUENCY_MSRS) || (this.miscFeatures & HV_FEATURE_FREQUENCY_MSRS_AVAILABLE) === 0) return false;
        splitU64((msr === HV_X64_MSR_TSC_FREQUENCY ? this.currentTscKHz() : this.apicKHz) * 1000, out);
        return true;
    }
    if (msr >= HV_X64_MSR_SCONTROL && msr <= HV_X64_MSR_SINT15 && this.priv(HV_MSR_SYNIC_AVAILABLE)) {
      const s = this.synicOf(vcpu);
      switch (msr) {
        case HV_X64_MSR_SCONTROL:
          return put(s.scontrol);
        case HV_X64_MSR_SVERSION: // §6.1: SynIC version 1
          return put({ lo: 1, hi: 0 });
        case HV_X64_MSR_SIEFP:
          return put(s.siefp);
        case HV_X64_MSR_SIMP:
          return put(s.simp);
        case HV_X64_MSR_EOM: // write-only; "reads from the EOM register always return zeros" (TLFS)
          return put({ lo: 0, hi: 0 });
      }
      if (msr >= HV_X64_MSR_SINT0) return put(s.sint[msr - HV_X64_MSR_SINT0]);
      return false; // 0x40000085..0x4000008f: reserved
    }
    return false;
  }

  wrmsr(msr: number, lo: number, hi: number, vcpu = 0): 'ok' | 'gp' | 'no' {
    lo |= 0;
    hi |= 0;
    switch (msr) {
      case HV_X64_MSR_GUEST_OS_ID:
        if (!this.priv(HV_MSR_HYPERCALL_AVAILABLE)) return 'no';
        this.guestOsId = { lo, hi };
        // §6.1: writing 0 disables the hypercall page.
        if (lo === 0 && hi === 0) this.hypercallMsr = { lo: this.hypercallMsr.lo & ~HYPERCALL_ENABLE, hi: this.hypercallMsr.hi };
        return 'ok';
      case HV_X64_MSR_HYPERCALL:
        if (!this.priv(HV_MSR_HYPERCALL_AVAILABLE)) return 'no';
        return this.writeHypercallMsr(lo, hi);
      case HV_X64_MSR_VP_INDEX: // §6.1 read-only
      case HV_X64_MSR_TIME_REF_COUNT: // §3.8: writes #GP
      case HV_X64_MSR_TSC_FREQUENCY: // §3.8 read-only
      case HV_X64_MSR_APIC_FREQUENCY: {
        const out = new Int32Array(2);
        return this.rdmsr(msr, out, vcpu) ? 'gp' : 'no';
      }
      case HV_X64_MSR_REFERENCE_TSC:
        if (!this.priv(HV_MSR_REFERENCE_TSC_AVAILABLE)) return 'no';
        // §3.8: bit 0 enable, 11:1 reserved (kept as written), 63:12 GPFN. A GPFN outside the GPA
        // space is accepted ("the page will not be accessible"): nothing is written then.
        this.referenceTsc = { lo, hi };
        if (enabled(this.referenceTsc)) this.publishReferenceTscPage();
        else this.reference.withdraw();
        return 'ok';
      case HV_X64_MSR_VP_ASSIST_PAGE:
        if (!this.priv(HV_MSR_APIC_ACCESS_AVAILABLE)) return 'no';
        return this.writeVpAssistPage(vcpu, lo, hi);
    }
    if (msr >= HV_X64_MSR_SCONTROL && msr <= HV_X64_MSR_SINT15 && this.priv(HV_MSR_SYNIC_AVAILABLE)) {
      const s = this.synicOf(vcpu);
      switch (msr) {
        case HV_X64_MSR_SCONTROL:
          s.scontrol = { lo, hi };
          return 'ok';
        case HV_X64_MSR_SVERSION: // read-only (§6.1)
          return 'gp';
        case HV_X64_MSR_SIEFP:
          s.siefp = this.placeSynicPage(s.siefp, { lo, hi });
          return 'ok';
        case HV_X64_MSR_SIMP:
          s.simp = this.placeSynicPage(s.simp, { lo, hi });
          return 'ok';
        case HV_X64_MSR_EOM: // no message is ever queued before VMBus: a no-op (TLFS: "if the queues are all empty")
          return 'ok';
      }
      if (msr >= HV_X64_MSR_SINT0) {
        // §6.1: vector in bits 7:0 must be ≥ 16 unless the SINT is masked (bit 16): the reset
        // value 0x10000 (vector 0, masked) must be writable back.
        if ((lo & SINT_MASKED) === 0 && (lo & 0xff) < 16) return 'gp';
        s.sint[msr - HV_X64_MSR_SINT0] = { lo, hi };
        return 'ok';
      }
      return 'no';
    }
    return 'no';
  }

  /** HV_X64_MSR_HYPERCALL (§6.1, §6.3; TLFS "Establishing the Hypercall Interface"). */
  private writeHypercallMsr(lo: number, hi: number): 'ok' | 'gp' {
    // Locked (bit 1) with enable makes the MSR immutable until reset.
    if ((this.hypercallMsr.lo & (HYPERCALL_LOCKED | HYPERCALL_ENABLE)) === (HYPERCALL_LOCKED | HYPERCALL_ENABLE)) return 'ok';
    // "If the guest attempts to move the hypercall page beyond the bounds of the GPA space, a #GP fault will result."
    if ((hi >>> (GPA_BITS - 32)) !== 0) return 'gp';
    // §6.1, §8 note 7: enable does not stick while GUEST_OS_ID is 0 (OpenBSD reads back and gives up).
    const osIdZero = this.guestOsId.lo === 0 && this.guestOsId.hi === 0;
    this.hypercallMsr = { lo: osIdZero ? lo & ~HYPERCALL_ENABLE : lo, hi };
    if (this.hypercallEnabled) this.host?.mem.writeBytes(pageGpa(this.hypercallMsr), HYPERCALL_PAGE_STUB);
    return 'ok';
  }

  /**
   * HV_X64_MSR_VP_ASSIST_PAGE (TLFS "Virtual Processor Assist Page"). A page beyond the GPA space
   * is #GP, as for the hypercall page; bits 11:1 are RsvdP (kept as written). The page is an
   * overlay that starts zeroed, so enabling or moving it clears it (KVM clears it on enable too):
   * apic_assist 0 means no EOI may be skipped, and nothing else on it is used without nested
   * virtualisation. A page outside RAM is accepted and not written.
   */
  private writeVpAssistPage(vcpu: number, lo: number, hi: number): 'ok' | 'gp' {
    if ((hi >>> (GPA_BITS - 32)) !== 0) return 'gp';
    const next = { lo, hi };
    this.vpAssist.set(vcpu, this.placeSynicPage(this.vpAssist.get(vcpu) ?? { lo: 0, hi: 0 }, next));
    return 'ok';
  }

  /**
   * Write the reference TSC page for the current TSC frequency with the next sequence number,
   * and make TIME_REF_COUNT follow it. A frequency the page cannot describe publishes sequence 0
   * ("use the MSR"); a page outside RAM is not written and the counter keeps to virtual time.
   */
  private publishReferenceTscPage(): void {
    const host = this.host;
    if (host === null) return;
    const params = this.reference.publish();
    const sequence = params === null ? TSC_SEQUENCE_INVALID : nextTscSequence(this.tscSequence);
    const page = referenceTscPageBytes(sequence, params?.scale ?? 0n, params?.offset ?? 0n);
    if (!host.mem.writeBytes(pageGpa(this.referenceTsc), page)) {
      this.reference.withdraw();
      return;
    }
    this.tscSequence = sequence;
  }

  /**
   * SIEFP / SIMP (§6.5) and the VP assist page: the pages start zeroed (TLFS: "cleared to zero" at VP creation), so a page
   * is cleared when it is enabled or moved while enabled (KVM clears it on enable too); rewriting
   * the same value keeps its contents. Outside RAM nothing is written.
   */
  private placeSynicPage(old: Pair, next: Pair): Pair {
    const moved = !enabled(old) || pageGpa(old) !== pageGpa(next);
    if (enabled(next) && moved) this.host?.mem.writeBytes(pageGpa(next), new Uint8Array(PAGE_SIZE));
    return next;
  }

  /**
   * VMCALL/VMMCALL. Not ours (the machine raises #UD unless another personality takes it) while
   * the hypercall page is disabled or from CPL > 0 (TLFS "Legal Hypercall Environments": #UD).
   */
  hypercall(regs: HypercallRegs): boolean {
    const host = this.host;
    if (host === null || !this.hypercallEnabled || regs.cpl !== 0 || regs.protectedMode === false) return false;
    dispatchHypercall(regs, { mem: host.mem, privilegesHi: this.privilegesHi, connections: this.connections, vcpu: regs.vcpu });
    return true;
  }
}

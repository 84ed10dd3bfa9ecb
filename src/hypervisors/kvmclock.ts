// KVM's kvmclock in guest memory (spec digest §3.1-§3.5; Linux arch/x86/kvm/x86.c kvm_write_system_time,
// kvm_guest_time_update, kvm_setup_guest_pvclock, kvm_write_wall_clock): the per-vCPU
// pvclock_vcpu_time_info at the GPA of the system-time MSR and the VM's pvclock_wall_clock.
//
// The virtual clock is exact, so one structure stamped with (TSC, ns) at some instant stays valid:
// the guest's extrapolation system_time + scale(tsc - tsc_timestamp) tracks host.nowNs() within the
// scaling error. Structures are therefore written only when the guest writes the MSR and when the
// clock changes under it (clockChanged: TSC frequency change or pause/resume), by the §3.2 protocol.

import type { HypervisorHost } from './personality.js';
import {
  encodePvclockVcpuTimeInfo,
  encodePvclockWallClock,
  kvmclockTimeInfo,
  pvclockReadNs,
  pvclockUpdateVersions,
  PVCLOCK_GUEST_STOPPED,
  PVCLOCK_VCPU_TIME_INFO_SIZE,
  PVCLOCK_WALL_CLOCK_SIZE,
} from './pvclock.js';

const PAGE_SIZE = 4096;
const TWO32 = 4294967296;

/**
 * The address in a 64-bit MSR value (lo, hi) with the low `alignMask` bits cleared. Exact below 2^53;
 * anything with hi != 0 is far above guest RAM (at most 3.5 GiB), so rounding there cannot matter.
 */
export function msrGpa(lo: number, hi: number, alignMask = 0): number {
  return (hi >>> 0) * TWO32 + ((lo & ~alignMask) >>> 0);
}

/** True if [gpa, gpa+len) does not cross a 4 KiB page boundary. */
export function withinOnePage(gpa: number, len: number): boolean {
  return (gpa % PAGE_SIZE) + len <= PAGE_SIZE;
}

/** One step of a structure update, for observers (tests check the §3.2 protocol step by step). */
export interface PvclockUpdateStep {
  /** 'begin': odd version written; 'fields': body written (version still odd); 'end': even version written. */
  phase: 'begin' | 'fields' | 'end';
  vcpu: number;
  gpa: number;
  version: number;
}

/** What one vCPU's last written structure said (to keep the guest's clock monotonic across rewrites). */
export interface Stamp {
  tscTimestamp: bigint;
  systemTime: bigint;
  mul: number;
  shift: number;
  /** How far system_time was set ahead of the machine's time (kept to stay monotonic), in ns. */
  lead: bigint;
  /** Length of one TSC tick at the stamp's frequency, in ns, rounded up, plus one. */
  tickNs: bigint;
}

/** ceil(1e6 / kHz) + 1: how far the TSC's flooring can put a reading ahead of the exact time. */
export function tscTickNs(tscKHz: number): bigint {
  return BigInt(Math.ceil(1e6 / tscKHz)) + 1n;
}

/**
 * system_time for a new stamp: `now`, unless the previous structure already reads later at this TSC
 * by no more than its own lead plus one TSC tick (the TSC is floored, so below 1 GHz a reading can
 * lead the exact time by up to a tick): then that reading, so the guest never sees its clock step
 * back at a rewrite. A larger lead means the TSC itself jumped (a guest write to IA32_TSC):
 * kvmclock follows the machine's time, not the TSC, so `now`.
 */
export function monotonicSystemTime(prev: Stamp | undefined, tsc: bigint, now: bigint): bigint {
  if (prev === undefined || tsc < prev.tscTimestamp) return now;
  const before = pvclockReadNs(tsc, prev.tscTimestamp, prev.systemTime, prev.mul, prev.shift);
  return before > now && before - now <= prev.lead + prev.tickNs ? before : now;
}

/** The stamp to remember for a structure written at machine time `now`. */
export function stampOf(t: { tscTimestamp: bigint; systemTime: bigint; mul: number; shift: number }, now: bigint, tscKHz: number): Stamp {
  return { tscTimestamp: t.tscTimestamp, systemTime: t.systemTime, mul: t.mul, shift: t.shift, lead: t.systemTime - now, tickNs: tscTickNs(tscKHz) };
}

export class KvmClock {
  private host: HypervisorHost | null = null;
  /** Per vCPU: GPA of its pvclock_vcpu_time_info while the enable bit is set (§3.5). */
  private readonly enabled = new Map<number, number>();
  /** Per vCPU: what its structure last said. */
  private readonly stamps = new Map<number, Stamp>();
  /** vCPUs whose next update sets PVCLOCK_GUEST_STOPPED (KVM's pvclock_set_guest_stopped_request). */
  private readonly stoppedRequest = new Set<number>();
  /** vCPU 0 enabled the legacy MSR 0x12: KVM then runs without its master clock, so no stable bit. */
  private bootVcpuRunsOldKvmclock = false;
  /** Observer of every update step (tests). */
  onStep: ((s: PvclockUpdateStep) => void) | null = null;

  constructor(
    /** CPUID advertises KVM_FEATURE_CLOCKSOURCE_STABLE_BIT (§1.2 bit 24): flags may carry the stable bit. */
    readonly stableAdvertised: boolean,
  ) {}

  attach(host: HypervisorHost): void {
    this.host = host;
  }

  /**
   * The guest wrote MSR_KVM_SYSTEM_TIME(_NEW) (§3.5). KVM accepts any value: with bit 0 set the
   * structure is (re)written now; a GPA outside RAM or one whose 32 bytes cross a page is silently
   * never written (KVM's pfncache refuses it, the WRMSR still succeeds).
   */
  systemTimeWritten(vcpu: number, lo: number, hi: number, legacy: boolean): void {
    if (vcpu === 0 && this.bootVcpuRunsOldKvmclock !== legacy) {
      // KVM: a change of MSR on the boot vCPU updates the master clock, so every vCPU's clock.
      this.bootVcpuRunsOldKvmclock = legacy;
      this.rewriteAll();
    }
    if ((lo & 1) === 0) {
      this.enabled.delete(vcpu);
      return;
    }
    this.enabled.set(vcpu, msrGpa(lo, hi, 1));
    this.update(vcpu);
  }

  /**
   * The guest wrote MSR_KVM_WALL_CLOCK(_NEW) (§3.5): fill pvclock_wall_clock once, with the wall time
   * at kvmclock 0 (KVM: realtime now - kvmclock now; here exactly the boot time). GPA 0 writes nothing;
   * an unreadable version (outside RAM) writes nothing; a structure running off the end of RAM gets
   * its in-RAM part, as KVM's page-wise copy does.
   */
  wallClockWritten(lo: number, hi: number): void {
    const host = this.host;
    const gpa = msrGpa(lo, hi);
    if (host === null || gpa === 0) return;
    const mem = host.mem;
    const guestVersion = mem.read32(gpa);
    if (guestVersion === null) return;
    const { odd, even } = pvclockUpdateVersions(guestVersion);
    if (!mem.write32(gpa, odd)) return;
    const { sec, nsec } = bootWallClock(host.bootTime);
    const wc = encodePvclockWallClock(odd, sec, nsec);
    const inRam = Math.min(PVCLOCK_WALL_CLOCK_SIZE, mem.size - gpa);
    mem.writeBytes(gpa, wc.subarray(0, inRam));
    mem.write32(gpa, even);
  }

  /** The TSC frequency changed or the VM resumed after a pause: rewrite every enabled structure. */
  clockChanged(): void {
    this.rewriteAll();
  }

  /** The VM was paused (QEMU's KVM_KVMCLOCK_CTRL): the next update sets PVCLOCK_GUEST_STOPPED on every vCPU. */
  guestStopped(): void {
    const host = this.host;
    for (let v = 0; v < (host?.vcpus ?? 0); v++) this.stoppedRequest.add(v);
  }

  /** The GPA a vCPU's structure is written at, or null when disabled. */
  gpaOf(vcpu: number): number | null {
    return this.enabled.get(vcpu) ?? null;
  }

  private rewriteAll(): void {
    const vcpus = [...this.enabled.keys()].sort((a, b) => a - b);
    for (const v of vcpus) this.update(v);
  }

  /** kvm_guest_time_update + kvm_setup_guest_pvclock for one vCPU (§3.2 protocol). */
  private update(vcpu: number): void {
    const host = this.host;
    const gpa = this.enabled.get(vcpu);
    if (host === null || gpa === undefined) return;
    const mem = host.mem;
    if (!withinOnePage(gpa, PVCLOCK_VCPU_TIME_INFO_SIZE) || !mem.isRam(gpa, PVCLOCK_VCPU_TIME_INFO_SIZE)) return;
    const guestVersion = mem.read32(gpa)!;
    const guestFlags = mem.read8(gpa + 29)!;
    const { odd, even } = pvclockUpdateVersions(guestVersion);
    mem.write32(gpa, odd);
    this.onStep?.({ phase: 'begin', vcpu, gpa, version: odd });

    const tsc = BigInt(host.tsc());
    const now = BigInt(host.nowNs());
    const info = kvmclockTimeInfo({
      version: odd,
      tsc,
      systemTimeNs: monotonicSystemTime(this.stamps.get(vcpu), tsc, now),
      tscKHz: host.tscKHz(),
      stable: this.stableAdvertised && !this.bootVcpuRunsOldKvmclock,
      // KVM keeps the guest's GUEST_STOPPED until the guest clears it, and sets it after a pause
      guestStopped: this.stoppedRequest.delete(vcpu) || (guestFlags & PVCLOCK_GUEST_STOPPED) !== 0,
    });
    mem.writeBytes(gpa, encodePvclockVcpuTimeInfo(info));
    this.stamps.set(vcpu, stampOf(info, now, host.tscKHz()));
    this.onStep?.({ phase: 'fields', vcpu, gpa, version: odd });

    mem.write32(gpa, even);
    this.onStep?.({ phase: 'end', vcpu, gpa, version: even });
  }
}

/** pvclock_wall_clock's (sec, nsec) for a boot time in Unix seconds (sec truncated to u32 as KVM does). */
export function bootWallClock(bootTime: number): { sec: number; nsec: number } {
  const whole = Math.floor(bootTime);
  const nsec = Math.min(999_999_999, Math.round((bootTime - whole) * 1e9));
  return { sec: whole >>> 0, nsec };
}

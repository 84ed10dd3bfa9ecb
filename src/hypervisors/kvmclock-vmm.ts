// OpenBSD vmm(4)'s KVM-compatible pvclock (spec digest §1.7, §3.4; OpenBSD vmm_machdep.c
// vmm_init_pvclock / vmm_update_pvclock / vmm_pv_wall_clock). It differs from KVM's kvmclock in ways
// a guest can see, all reproduced here:
// - the GPA is rounded down to 16 bytes; a GPA not inside RAM (vmm's strict test: gpa < size - 32)
//   or a structure crossing a page raises #GP on the WRMSR, even with the enable bit clear;
// - tsc_shift is always 12 and tsc_to_system_mul = (1e9 << 20) / tsc_hz, truncated;
// - flags is always PVCLOCK_TSC_STABLE_BIT; the version is vmm's own per-vCPU counter,
//   (++n << 1) | 1 while writing and that value with bit 0 cleared after (2, 4, 6, ...);
// - the wall clock holds the current time (not the boot time) and its version is the guest's
//   value with bit 0 set, then plus one.

import type { HypervisorHost } from './personality.js';
import {
  encodePvclockVcpuTimeInfo,
  encodePvclockWallClock,
  PVCLOCK_TSC_STABLE_BIT,
  PVCLOCK_VCPU_TIME_INFO_SIZE,
  PVCLOCK_WALL_CLOCK_SIZE,
} from './pvclock.js';
import { msrGpa, withinOnePage, bootWallClock, monotonicSystemTime, stampOf, type PvclockUpdateStep, type Stamp } from './kvmclock.js';

/** vmm's fixed tsc_shift (§3.4). */
export const VMM_PVCLOCK_SHIFT = 12;

/** vmm's pvclock scale (§3.4): shift = 12, mul = (1e9 << 20) / tsc_hz (e.g. 2.4 GHz → 0x6AAAA). */
export function vmmPvclockScale(tscHz: number | bigint): { mul: number; shift: number } {
  return { mul: Number((1_000_000_000n << 20n) / BigInt(tscHz)), shift: VMM_PVCLOCK_SHIFT };
}

export class VmmPvclock {
  private host: HypervisorHost | null = null;
  /** Per vCPU: the system-time MSR value as accepted (vmm's vc_pvclock_system_gpa, enable bit included). */
  private readonly systemGpa = new Map<number, { lo: number; hi: number }>();
  /** Per vCPU: vmm's vc_pvclock_version counter. */
  private readonly counter = new Map<number, number>();
  private readonly stamps = new Map<number, Stamp>();
  onStep: ((s: PvclockUpdateStep) => void) | null = null;

  attach(host: HypervisorHost): void {
    this.host = host;
  }

  /** vmm_gpa_is_valid for the one RAM range at 0, with vmm's strict end test, plus the page test. */
  private acceptable(gpa: number, size: number): boolean {
    const mem = this.host!.mem;
    return gpa < mem.size - size && mem.isRam(gpa, size) && withinOnePage(gpa, size);
  }

  /** WRMSR 0x4B564D01 (vmm_init_pvclock): 'gp' for a bad GPA, else the structure is written if enabled. */
  systemTimeWrite(vcpu: number, lo: number, hi: number): 'ok' | 'gp' {
    if (this.host === null) return 'ok';
    if (!this.acceptable(msrGpa(lo, hi, 0xf), PVCLOCK_VCPU_TIME_INFO_SIZE)) return 'gp';
    this.systemGpa.set(vcpu, { lo, hi });
    this.update(vcpu);
    return 'ok';
  }

  /** WRMSR 0x4B564D00 (vmm_pv_wall_clock): 'gp' for a bad GPA, else the current time is written. */
  wallClockWrite(lo: number, hi: number): 'ok' | 'gp' {
    const host = this.host;
    if (host === null) return 'ok';
    const gpa = msrGpa(lo, hi);
    if (!this.acceptable(gpa, PVCLOCK_WALL_CLOCK_SIZE)) return 'gp';
    const mem = host.mem;
    const odd = (mem.read32(gpa)! | 1) >>> 0;
    mem.write32(gpa, odd);
    const boot = bootWallClock(host.bootTime);
    const nowNs = BigInt(boot.nsec) + BigInt(host.nowNs());
    const sec = (boot.sec + Number(nowNs / 1_000_000_000n)) >>> 0;
    mem.writeBytes(gpa, encodePvclockWallClock(odd, sec, Number(nowNs % 1_000_000_000n)));
    mem.write32(gpa, (odd + 1) >>> 0);
    return 'ok';
  }

  /**
   * vmm(4)'s VM_RWVMPARAMS read side for a vCPU: the system-time MSR value as accepted (enable bit
   * included, 0 when never written) and vmm's version counter.
   */
  vmParams(vcpu: number): { systemGpa: number; version: number } {
    const v = this.systemGpa.get(vcpu);
    return { systemGpa: v === undefined ? 0 : msrGpa(v.lo, v.hi), version: this.counter.get(vcpu) ?? 0 };
  }

  /** VM_RWVMPARAMS write of the version: the next update writes ((version + 1) << 1) | 1, then even. */
  setVersionCounter(vcpu: number, version: number): void {
    this.counter.set(vcpu, version >>> 0);
  }

  /** Rewrite every enabled structure (vmm rewrites them at every guest entry; here on clock changes). */
  clockChanged(): void {
    const vcpus = [...this.systemGpa.keys()].sort((a, b) => a - b);
    for (const v of vcpus) this.update(v);
  }

  /** vmm_update_pvclock for one vCPU. */
  private update(vcpu: number): void {
    const host = this.host;
    const msr = this.systemGpa.get(vcpu);
    if (host === null || msr === undefined || (msr.lo & 1) === 0) return;
    const gpa = msrGpa(msr.lo, msr.hi, 0xf);
    const mem = host.mem;
    if (!mem.isRam(gpa, PVCLOCK_VCPU_TIME_INFO_SIZE)) return;
    const n = ((this.counter.get(vcpu) ?? 0) + 1) >>> 0;
    this.counter.set(vcpu, n);
    const odd = ((n << 1) | 1) >>> 0;
    mem.write32(gpa, odd);
    this.onStep?.({ phase: 'begin', vcpu, gpa, version: odd });

    const tsc = BigInt(host.tsc());
    const { mul, shift } = vmmPvclockScale(BigInt(host.tscKHz()) * 1000n);
    // never a step back at a rewrite (vmm's truncated mul runs slow; only TSC flooring can lead)
    const now = BigInt(host.nowNs());
    const systemTime = monotonicSystemTime(this.stamps.get(vcpu), tsc, now);
    const info = { version: odd, tscTimestamp: tsc, systemTime, mul, shift, flags: PVCLOCK_TSC_STABLE_BIT };
    mem.writeBytes(gpa, encodePvclockVcpuTimeInfo(info));
    this.stamps.set(vcpu, stampOf(info, now, host.tscKHz()));
    this.onStep?.({ phase: 'fields', vcpu, gpa, version: odd });

    const even = (odd & ~1) >>> 0;
    mem.write32(gpa, even);
    this.onStep?.({ phase: 'end', vcpu, gpa, version: even });
  }
}

// kvmclock in guest memory, unit level (spec digest §3.1-§3.5, §1.2; KVM x86.c as cited in
// src/hypervisors/kvmclock.ts). Expected values come from the spec's layout, protocol and §3.4 table,
// and from a reference guest read written here independently (BigInt, §3.3).

import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { KvmPersonality } from '../../src/hypervisors/kvm.js';
import { bootWallClock, msrGpa, withinOnePage, type PvclockUpdateStep } from '../../src/hypervisors/kvmclock.js';
import { FakeClockHost } from './kvm-fake-host.js';

const MSR_WALL_OLD = 0x11;
const MSR_SYSTEM_OLD = 0x12;
const MSR_WALL = 0x4b564d00;
const MSR_SYSTEM = 0x4b564d01;

/** The guest's view of the 32 bytes at gpa (§3.1 offsets). */
function view(host: FakeClockHost, gpa: number) {
  const b = host.mem.readBytes(gpa, 32)!;
  const v = new DataView(b.buffer);
  return {
    version: v.getUint32(0, true),
    pad0: v.getUint32(4, true),
    tscTimestamp: v.getBigUint64(8, true),
    systemTime: v.getBigUint64(16, true),
    mul: v.getUint32(24, true),
    shift: v.getInt8(28),
    flags: v.getUint8(29),
    pad: v.getUint16(30, true),
  };
}

/** §3.3, written out independently: delta shifted, times mul, bits 95..32, plus system_time. */
function guestNs(host: FakeClockHost, gpa: number): bigint {
  const s = view(host, gpa);
  const M64 = (1n << 64n) - 1n;
  let d = (BigInt(host.tsc()) - s.tscTimestamp) & M64;
  d = s.shift >= 0 ? (d << BigInt(s.shift)) & M64 : d >> BigInt(-s.shift);
  return (s.systemTime + ((d * BigInt(s.mul)) >> 32n)) & M64;
}

/** Indices of the bytes that differ between two memory images (first and last, or null). */
function changed(a: Uint8Array, b: Uint8Array): [number, number] | null {
  let first = -1;
  let last = -1;
  for (let i = 0; i < a.length; i++) {
    if (a[i] !== b[i]) {
      if (first < 0) first = i;
      last = i;
    }
  }
  return first < 0 ? null : [first, last];
}

function setup(opts: { features?: number; tscKHz?: number; vcpus?: number } = {}) {
  const host = new FakeClockHost(opts.vcpus ?? 2, 1_700_000_000, opts.tscKHz ?? 2_000_000);
  const kvm = new KvmPersonality({ features: opts.features });
  kvm.attach(host);
  return { host, kvm };
}

describe('enabling kvmclock (§3.5) writes pvclock_vcpu_time_info (§3.1)', () => {
  it('fields: version even, TSC and ns of the instant, §3.4 scale for 2 GHz, stable flag, zero pads', () => {
    const { host, kvm } = setup();
    host.ns = 1000;
    expect(kvm.wrmsr(MSR_SYSTEM, 0x2000 | 1, 0, 0)).toBe('ok');
    expect(view(host, 0x2000)).toEqual({
      version: 2, // 0 → odd 1 → even 2 (§3.2)
      pad0: 0,
      tscTimestamp: 2000n, // 1000 ns at 2 GHz
      systemTime: 1000n,
      mul: 0x80000000, // §3.4 table: 2 000 000 000 Hz → shift 0, mul 0x80000000
      shift: 0,
      flags: 1, // PVCLOCK_TSC_STABLE_BIT: feature bit 24 is in the default 0x0100007b
      pad: 0,
    });
    const out = new Int32Array(2);
    expect(kvm.rdmsr(MSR_SYSTEM, out, 0)).toBe(true);
    expect([out[0], out[1]]).toEqual([0x2001, 0]);
  });

  it('written once, it keeps giving the machine time: exactly at 2 GHz, within the §3.4 error at 2.4 GHz', () => {
    for (const [khz, tol] of [[2_000_000, 0n], [2_400_000, 2n], [3_600_000, 2n], [1_000_000, 0n]] as const) {
      const { host, kvm } = setup({ tscKHz: khz });
      host.ns = 12_345;
      kvm.wrmsr(MSR_SYSTEM, 0x3000 | 1, 0, 0);
      for (const ns of [12_345, 99_999, 1_000_000_007, 3_600_000_000_123]) {
        host.ns = ns;
        const got = guestNs(host, 0x3000);
        // one TSC tick of flooring plus the truncated mul (< 1e-9 relative, §3.4 "999 999 999 per s")
        const err = BigInt(ns) - got;
        expect(err >= 0n && err <= tol + BigInt(Math.ceil(ns / 1e9)), `${khz} kHz at ${ns} ns: ${got}`).toBe(true);
      }
    }
  });

  it('per vCPU: each vCPU has its own structure; writing one leaves the other alone', () => {
    const { host, kvm } = setup();
    host.ns = 10;
    kvm.wrmsr(MSR_SYSTEM, 0x1000 | 1, 0, 0);
    host.ns = 20;
    kvm.wrmsr(MSR_SYSTEM, 0x1040 | 1, 0, 1);
    expect(view(host, 0x1000).systemTime).toBe(10n);
    expect(view(host, 0x1040).systemTime).toBe(20n);
    expect(kvm.clock.gpaOf(0)).toBe(0x1000);
    expect(kvm.clock.gpaOf(1)).toBe(0x1040);
  });

  it('bit 0 clear disables: nothing written, the value still reads back (§3.5)', () => {
    const { host, kvm } = setup();
    expect(kvm.wrmsr(MSR_SYSTEM, 0x2000, 0, 0)).toBe('ok');
    expect(host.mem.readBytes(0x2000, 32)!.every((b) => b === 0)).toBe(true);
    kvm.wrmsr(MSR_SYSTEM, 0x2001, 0, 0);
    kvm.wrmsr(MSR_SYSTEM, 0x2000, 0, 0); // disable again: later clock changes leave it alone
    const before = host.mem.readBytes(0x2000, 32)!;
    host.setTscKHz(3_000_000);
    kvm.clockChanged();
    expect(host.mem.readBytes(0x2000, 32)).toEqual(before);
  });
});

describe('the §3.2 update protocol', () => {
  it('version is odd exactly while the host writes, even before and after; a guest read in between retries', () => {
    const { host, kvm } = setup();
    const seen: Array<PvclockUpdateStep & { inMemory: number; guestWouldRetry: boolean }> = [];
    kvm.clock.onStep = (s) => {
      const v = host.mem.read32(s.gpa)!;
      // Linux's pvclock_read_begin/retry: a reader that took `v` retries if v is odd or changed.
      seen.push({ ...s, inMemory: v, guestWouldRetry: (v & 1) === 1 });
    };
    kvm.wrmsr(MSR_SYSTEM, 0x2000 | 1, 0, 0);
    host.ns = 500;
    host.setTscKHz(2_400_000);
    kvm.clockChanged();
    expect(seen.map((s) => [s.phase, s.inMemory, s.guestWouldRetry])).toEqual([
      ['begin', 1, true],
      ['fields', 1, true],
      ['end', 2, false],
      ['begin', 3, true],
      ['fields', 3, true],
      ['end', 4, false],
    ]);
    for (const s of seen) expect(s.version).toBe(s.inMemory);
  });

  it('an odd version the guest left (junk) is first rounded up, as KVM does', () => {
    const { host, kvm } = setup();
    host.mem.write32(0x2000, 7);
    kvm.wrmsr(MSR_SYSTEM, 0x2000 | 1, 0, 0);
    expect(view(host, 0x2000).version).toBe(10); // 7 → 8 → odd 9 → even 10
    host.mem.write32(0x2000, 0xfffffffe);
    kvm.clockChanged();
    expect(view(host, 0x2000).version).toBe(0); // u32 wrap: 0xffffffff then 0
  });
});

describe('hostile GPAs: KVM accepts the WRMSR and writes nothing (never a host exception)', () => {
  const cases: Array<[string, number, number]> = [
    ['beyond RAM', 0x7fff_f000 | 1, 0],
    ['straddling the end of RAM', ((1 << 20) - 16) | 1, 0],
    ['crossing a page', 0x1ff0 | 1, 0],
    ['above 4 GiB', 0x1001, 1],
    ['all ones', -1, -1],
    ['unaligned in RAM, crossing a page', 0x2fe5, 0],
  ];
  for (const [what, lo, hi] of cases) {
    it(what, () => {
      const { host, kvm } = setup();
      const before = host.mem.readBytes(0, 1 << 20)!;
      expect(kvm.wrmsr(MSR_SYSTEM, lo, hi, 0)).toBe('ok');
      kvm.clockChanged();
      kvm.guestStopped();
      kvm.clockChanged();
      expect(changed(before, host.mem.readBytes(0, 1 << 20)!)).toBeNull();
      const out = new Int32Array(2);
      kvm.rdmsr(MSR_SYSTEM, out, 0);
      expect([out[0], out[1]]).toEqual([lo | 0, hi | 0]);
    });
  }

  it('an unaligned GPA inside one page is written (KVM does not check alignment)', () => {
    const { host, kvm } = setup();
    kvm.wrmsr(MSR_SYSTEM, 0x2005, 0, 0);
    expect(view(host, 0x2004 + 0).version).not.toBe(0); // the structure starts at 0x2004 (bit 0 is enable)
    expect(view(host, 0x2004).mul).toBe(0x80000000);
  });

  it('random MSR values never throw and never touch memory outside [gpa, gpa+32) in one page', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), fc.integer({ min: 0, max: (1 << 20) + 64 })),
        fc.oneof(fc.constant(0), fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 })),
        (lo, hi) => {
          const { host, kvm } = setup();
          const before = host.mem.readBytes(0, 1 << 20)!;
          expect(kvm.wrmsr(MSR_SYSTEM, lo, hi, 1)).toBe('ok');
          kvm.clockChanged();
          const gpa = (lo & ~1) >>> 0;
          const d = changed(before, host.mem.readBytes(0, 1 << 20)!);
          if (d !== null) {
            expect(hi).toBe(0);
            expect(d[0]).toBeGreaterThanOrEqual(gpa);
            expect(d[1]).toBeLessThan(gpa + 32);
            expect(gpa >>> 12).toBe((gpa + 31) >>> 12);
          }
          expect(kvm.wrmsr(MSR_WALL, lo, hi, 1)).toBe('ok');
        },
      ),
      { numRuns: 100 },
    );
  });
});

describe('wall clock (§3.1, §3.5): boot time, so that wall + kvmclock = now', () => {
  it('sec = boot time, nsec = 0, version protocol; rewritten on each MSR write only', () => {
    const { host, kvm } = setup();
    host.ns = 5_000_000_123;
    expect(kvm.wrmsr(MSR_WALL, 0x3000, 0, 0)).toBe('ok');
    const b = new DataView(host.mem.readBytes(0x3000, 12)!.buffer);
    expect([b.getUint32(0, true), b.getUint32(4, true), b.getUint32(8, true)]).toEqual([2, 1_700_000_000, 0]);
    kvm.wrmsr(MSR_WALL, 0x3000, 0, 0);
    expect(host.mem.read32(0x3000)).toBe(4);
    kvm.clockChanged(); // not a wall-clock event (§3.5: only the guest's write refreshes it)
    expect(host.mem.read32(0x3000)).toBe(4);
  });

  it('legacy MSR 0x11 too; GPA 0 writes nothing; outside RAM nothing; off the end of RAM only the part in RAM', () => {
    const { host, kvm } = setup();
    expect(kvm.wrmsr(MSR_WALL_OLD, 0x3000, 0, 0)).toBe('ok');
    expect(host.mem.read32(0x3004)).toBe(1_700_000_000);
    expect(kvm.wrmsr(MSR_WALL, 0, 0, 0)).toBe('ok');
    expect(host.mem.read32(0)).toBe(0);
    expect(kvm.wrmsr(MSR_WALL, 0x20_0000, 0, 0)).toBe('ok');
    const end = (1 << 20) - 8; // version and sec in RAM, nsec beyond
    expect(kvm.wrmsr(MSR_WALL, end, 0, 0)).toBe('ok');
    expect(host.mem.read32(end)).toBe(2);
    expect(host.mem.read32(end + 4)).toBe(1_700_000_000);
  });
});

describe('flags (§3.1, §1.2 bit 24; KVM master clock)', () => {
  it('no PVCLOCK_TSC_STABLE_BIT when CPUID does not advertise bit 24', () => {
    const { host, kvm } = setup({ features: 0x7b });
    kvm.wrmsr(MSR_SYSTEM, 0x2001, 0, 0);
    expect(view(host, 0x2000).flags).toBe(0);
  });

  it('the boot vCPU on the legacy MSR turns the stable bit off for every vCPU, the new MSR turns it back on', () => {
    const { host, kvm } = setup();
    kvm.wrmsr(MSR_SYSTEM, 0x2041, 0, 1);
    expect(view(host, 0x2040).flags).toBe(1);
    kvm.wrmsr(MSR_SYSTEM_OLD, 0x2001, 0, 0);
    expect(view(host, 0x2000).flags).toBe(0);
    expect(view(host, 0x2040).flags).toBe(0); // KVM updates the master clock: all vCPUs rewritten
    kvm.wrmsr(MSR_SYSTEM, 0x2001, 0, 0);
    expect(view(host, 0x2000).flags).toBe(1);
    expect(view(host, 0x2040).flags).toBe(1);
    kvm.wrmsr(MSR_SYSTEM_OLD, 0x2041, 0, 1); // a secondary vCPU on the legacy MSR changes nothing
    expect(view(host, 0x2040).flags).toBe(1);
  });

  it('PVCLOCK_GUEST_STOPPED after a pause, kept until the guest clears it', () => {
    const { host, kvm } = setup();
    kvm.wrmsr(MSR_SYSTEM, 0x2001, 0, 0);
    kvm.guestStopped();
    host.ns += 1_000_000;
    kvm.clockChanged();
    expect(view(host, 0x2000).flags).toBe(3);
    kvm.clockChanged();
    expect(view(host, 0x2000).flags).toBe(3); // retained from the guest's copy
    host.mem.write8(0x2000 + 29, 1); // the guest clears it (Linux kvm_check_and_clear_guest_paused)
    kvm.clockChanged();
    expect(view(host, 0x2000).flags).toBe(1);
  });
});

describe('clockChanged (TSC frequency change, pause): rewritten, and the guest clock never steps back', () => {
  it('new scale from the §3.4 table, stamped at the instant', () => {
    const { host, kvm } = setup();
    kvm.wrmsr(MSR_SYSTEM, 0x2001, 0, 0);
    host.ns = 7_000_000;
    host.setTscKHz(2_400_000);
    kvm.clockChanged();
    const s = view(host, 0x2000);
    expect([s.mul, s.shift, s.version]).toEqual([0xd5555555, -1, 4]);
    expect(s.systemTime).toBe(7_000_000n);
    expect(s.tscTimestamp).toBe(BigInt(host.tsc()));
  });

  it('after the TSC jumps (a guest write to IA32_TSC) a rewrite follows the machine time, not the TSC', () => {
    const { host, kvm } = setup();
    kvm.wrmsr(MSR_SYSTEM, 0x2001, 0, 0);
    host.ns = 1_000_000;
    host.writeTsc(host.tsc() + 2_000_000_000); // one second ahead
    kvm.clockChanged(); // what KVM does after a TSC write (masterclock update)
    expect(guestNs(host, 0x2000)).toBe(1_000_000n);
    host.writeTsc(5); // and back
    kvm.clockChanged();
    expect(guestNs(host, 0x2000)).toBe(1_000_000n);
  });

  it('property: readings taken at increasing times across random frequency changes and pauses never decrease', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 3_000_000 }), fc.option(fc.integer({ min: 1000, max: 5_000_000 }))), { minLength: 1, maxLength: 30 }),
        (steps) => {
          const { host, kvm } = setup({ tscKHz: 1_000 }); // 1 MHz: one tick is 1000 ns, the hardest case
          kvm.wrmsr(MSR_SYSTEM, 0x2001, 0, 0);
          let last = guestNs(host, 0x2000);
          for (const [dt, khz] of steps) {
            host.ns += dt;
            const before = guestNs(host, 0x2000);
            expect(before >= last).toBe(true);
            if (khz !== null) host.setTscKHz(khz);
            kvm.clockChanged();
            const after = guestNs(host, 0x2000);
            expect(after >= before).toBe(true);
            last = after;
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('helpers', () => {
  it('msrGpa: 64-bit MSR halves to an address, low bits masked; above 4 GiB stays above RAM', () => {
    expect(msrGpa(0x2001, 0, 1)).toBe(0x2000);
    expect(msrGpa(-1, 0, 0xf)).toBe(0xfffffff0);
    expect(msrGpa(0, 1)).toBe(2 ** 32);
    expect(msrGpa(-1, -1) > 0xe000_0000).toBe(true);
  });

  it('withinOnePage: 32 bytes fit from 0xfe0, not from 0xfe1', () => {
    expect(withinOnePage(0x1fe0, 32)).toBe(true);
    expect(withinOnePage(0x1fe1, 32)).toBe(false);
  });

  it('bootWallClock: whole seconds give nsec 0; sec is truncated to u32 (KVM: "overflow in 2106")', () => {
    expect(bootWallClock(1_700_000_000)).toEqual({ sec: 1_700_000_000, nsec: 0 });
    expect(bootWallClock(1_700_000_000.25)).toEqual({ sec: 1_700_000_000, nsec: 250_000_000 });
    expect(bootWallClock(2 ** 32 + 5)).toEqual({ sec: 5, nsec: 0 });
  });
});

// fixtures/guests/kvmclock under hvsim's KVM and OpenBSD vmm personalities: the guest finds the
// KVM block, enables kvmclock in its own memory, reads it thousands of times by the §3.2 protocol and
// the §3.3 formula, and prints what it computed. Checked here against the spec (§1.2, §1.7, §3.1,
// §3.4) and against the machine's own clock with an exact BigInt reference — never against numbers
// taken from an earlier run.

import { describe, expect, it } from 'vitest';
import { ExitKind } from '../../src/machine/exit.js';
import { parseKvmclockOutput, runKvmclock, type KvmclockOutput } from './kvm-fixture-run.js';

const BOOT = 1_700_000_000; // the RTC / wall-clock time at power-on given to the VM

/** §3.3 written out: system_time + ((tsc - tsc_timestamp) shifted) * mul >> 32. */
function referenceNs(o: KvmclockOutput): bigint {
  const M64 = (1n << 64n) - 1n;
  let d = (o.lastTsc - o.struct.tscTimestamp) & M64;
  d = o.struct.shift >= 0 ? (d << BigInt(o.struct.shift)) & M64 : d >> BigInt(-o.struct.shift);
  return (o.struct.systemTime + ((d * BigInt(o.struct.mul)) >> 32n)) & M64;
}

/** The guest's reading against exact time: the TSC is floor(ns * kHz / 1e6) (README "Time"). */
function checkAgainstMachineClock(o: KvmclockOutput, tscKHz: number): void {
  const k = BigInt(tscKHz);
  // the structure was stamped at one instant of the machine's clock
  expect(o.struct.tscTimestamp).toBe((o.struct.systemTime * k) / 1_000_000n);
  // exact ns of the last RDTSC value, as a fraction num / k
  const exactNum = o.lastTsc * 1_000_000n; // ns * k
  const gotNum = o.lastNs * k;
  expect(gotNum <= exactNum + k).toBe(true); // never ahead (one TSC tick of flooring at most)
  // behind by at most 2 ns plus one unit of mul over the elapsed time (the truncated fraction, §3.4)
  const elapsed = ((o.lastTsc - o.struct.tscTimestamp) * 1_000_000n) / k;
  const slack = 2n + elapsed / BigInt(o.struct.mul >>> 0) + 1n;
  expect(exactNum - gotNum <= slack * k, `guest ${o.lastNs} exact ${exactNum / k}`).toBe(true);
}

const cases = [
  { name: 'kvm at 2 GHz', hv: ['kvm'] as const, khz: 2_000_000, base: 0x40000000, features: 0x0100007b, mul: 0x80000000, shift: 0 },
  { name: 'kvm at 2.4 GHz', hv: ['kvm'] as const, khz: 2_400_000, base: 0x40000000, features: 0x0100007b, mul: 0xd5555555, shift: -1 },
  { name: 'vmm at 2 GHz', hv: ['vmm'] as const, khz: 2_000_000, base: 0x40000100, features: 0x0100000a, mul: 0x80000, shift: 12 },
  { name: 'vmm at 2.4 GHz', hv: ['vmm'] as const, khz: 2_400_000, base: 0x40000100, features: 0x0100000a, mul: 0x6aaaa, shift: 12 },
];

describe('kvmclock guest fixture', () => {
  for (const c of cases) {
    it(`${c.name}: every check passes, and the printed ns is the machine's time`, () => {
      const r = runKvmclock([...c.hv], { tscKHz: c.khz, rtcTime: BOOT });
      expect(r.exit).toEqual({ kind: ExitKind.DebugExit, code: 0 });
      const o = parseKvmclockOutput(r.text);
      expect(o.lines.filter((l) => l.includes('FAIL'))).toEqual([]);
      expect(o.lines).toContain('kvmclock: all passed');
      expect(o.lines).toContain('kvmclock: ok monotonic over 0x00002710 reads');
      // where the KVM block is and what it advertises: §1.2 (issue 4: 0x0100007b), §1.7 (vmm: 0x0100000a at 0x40000101)
      expect(o.base).toBe(c.base);
      expect(o.features).toBe(c.features);
      expect(o.lines).toContain(`kvmclock: KVMKVMKVM at 0x${c.base.toString(16)} max leaf 0x${(c.base + 1).toString(16)}`);
      expect(o.lines).toContain('kvmclock: system time MSR 0x4b564d01'); // CLOCKSOURCE2 (§3.6)
      // §3.4 scale (KVM's table; vmm's shift 12 and (1e9 << 20) / hz); stable flag (§3.1)
      expect([o.struct.mul, o.struct.shift, o.struct.flags]).toEqual([c.mul, c.shift, 1]);
      expect(o.struct.version % 2).toBe(0);
      // the guest's arithmetic is the §3.3 formula, and its result is the machine's clock
      expect(o.lastNs).toBe(referenceNs(o));
      checkAgainstMachineClock(o, c.khz);
      const end = BigInt(r.machine.clock.nowNs());
      expect(o.lastNs <= end && end - o.lastNs < 1_000_000n).toBe(true);
    });
  }

  it('hostile MSR values: KVM accepts them all and writes only a structure inside one page of RAM (x86.c, pfncache)', () => {
    const o = parseKvmclockOutput(runKvmclock(['kvm']).text);
    expect(o.lines.filter((l) => l.includes('hostile'))).toEqual([
      'kvmclock: hostile: system time GPA outside RAM: accepted',
      'kvmclock: hostile: structure crossing a page: accepted, not written',
      'kvmclock: hostile: structure at a GPA 2 mod 4: accepted, written',
      'kvmclock: hostile: wall clock GPA outside RAM: accepted',
      'kvmclock: hostile: disable (0): accepted',
    ]);
  });

  it('hostile MSR values: vmm raises #GP for a GPA outside RAM or a structure crossing a page (§3.1, §1.7)', () => {
    const o = parseKvmclockOutput(runKvmclock(['vmm']).text);
    const h = o.lines.filter((l) => l.includes('hostile'));
    expect(h.filter((l) => !l.includes('2 mod 4'))).toEqual([
      'kvmclock: hostile: system time GPA outside RAM: #GP',
      'kvmclock: hostile: structure crossing a page: #GP',
      'kvmclock: hostile: wall clock GPA outside RAM: #GP',
      'kvmclock: hostile: disable (0): accepted', // GPA 0 is RAM
    ]);
    // vmm rounds the GPA down to 16 bytes, so its structure covers the probed bytes from 0x100
    expect(h.find((l) => l.includes('2 mod 4'))).toMatch(/: accepted, written$/);
  });

  it('kvm wall clock: the boot time (sec = rtc time, nsec 0), so wall + kvmclock = now (§3.1)', () => {
    const o = parseKvmclockOutput(runKvmclock(['kvm'], { rtcTime: BOOT }).text);
    expect(o.wall).toEqual({ version: 2, sec: BOOT, nsec: 0 });
  });

  it('vmm wall clock: the time of the MSR write (vmm writes nanotime), between enabling and the last read', () => {
    const o = parseKvmclockOutput(runKvmclock(['vmm'], { rtcTime: BOOT }).text);
    expect(o.wall!.version).toBe(2);
    const sinceBoot = BigInt(o.wall!.sec - BOOT) * 1_000_000_000n + BigInt(o.wall!.nsec);
    expect(sinceBoot > o.struct.systemTime && sinceBoot < o.lastNs).toBe(true);
  });

  it('the run is deterministic: two runs print the same bytes', () => {
    expect(runKvmclock(['kvm'], { rtcTime: BOOT }).text).toBe(runKvmclock(['kvm'], { rtcTime: BOOT }).text);
  });
});

// OpenBSD vmm(4)'s pvclock in guest memory (spec digest §1.7, §3.1, §3.4; vmm_machdep.c as cited in
// src/hypervisors/kvmclock-vmm.ts): 16-byte GPA, #GP on a bad GPA, shift 12 and mul (1e9 << 20) / hz,
// vmm's own version counter, the wall clock holding the current time.

import { describe, expect, it } from 'vitest';
import { createPersonalities } from '../../src/hypervisors/index.js';
import type { VmmPersonality } from '../../src/hypervisors/vmm.js';
import { FakeClockHost } from './kvm-fake-host.js';

const MSR_WALL = 0x4b564d00;
const MSR_SYSTEM = 0x4b564d01;
const MIB = 1 << 20;

function setup(tscKHz = 2_000_000) {
  const host = new FakeClockHost(2, 1_700_000_000, tscKHz, MIB);
  const [vmm] = createPersonalities(['vmm'], { tscKHz }) as [VmmPersonality];
  vmm.attach(host);
  return { host, vmm };
}

function view(host: FakeClockHost, gpa: number) {
  const v = new DataView(host.mem.readBytes(gpa, 32)!.buffer);
  return {
    version: v.getUint32(0, true),
    tscTimestamp: v.getBigUint64(8, true),
    systemTime: v.getBigUint64(16, true),
    mul: v.getUint32(24, true),
    shift: v.getInt8(28),
    flags: v.getUint8(29),
  };
}

describe('vmm system time MSR 0x4B564D01', () => {
  it('rounds the GPA down to 16 bytes and writes shift 12, mul (1e9 << 20) / hz, TSC_STABLE (§3.4)', () => {
    const { host, vmm } = setup();
    host.ns = 4242;
    expect(vmm.wrmsr(MSR_SYSTEM, 0x200d, 0, 0)).toBe('ok'); // 0x200c | 1, rounded down to 0x2000
    expect(view(host, 0x2000)).toEqual({
      version: 2, // vmm: (++n << 1) | 1 = 3 while writing, then bit 0 cleared
      tscTimestamp: 8484n,
      systemTime: 4242n,
      mul: 0x80000, // (1e9 << 20) / 2e9 = 2^19
      shift: 12,
      flags: 1,
    });
  });

  it('2.4 GHz gives mul 0x6AAAA (the §3.4 example)', () => {
    const { host, vmm } = setup(2_400_000);
    vmm.wrmsr(MSR_SYSTEM, 0x2001, 0, 0);
    expect(view(host, 0x2000).mul).toBe(0x6aaaa);
  });

  it('versions are vmm’s own counter (2, 4, 6 ...), whatever the guest left there', () => {
    const { host, vmm } = setup();
    vmm.wrmsr(MSR_SYSTEM, 0x2001, 0, 0);
    host.mem.write32(0x2000, 0x77);
    vmm.wrmsr(MSR_SYSTEM, 0x2001, 0, 0);
    expect(view(host, 0x2000).version).toBe(4);
    vmm.clockChanged();
    expect(view(host, 0x2000).version).toBe(6);
  });

  it('odd exactly while writing (§3.2)', () => {
    const { host, vmm } = setup();
    const seen: string[] = [];
    vmm.pvclock.onStep = (s) => seen.push(`${s.phase}:${host.mem.read32(s.gpa)}`);
    vmm.wrmsr(MSR_SYSTEM, 0x2001, 0, 0);
    expect(seen).toEqual(['begin:3', 'fields:3', 'end:2']);
  });

  it('a bad GPA is #GP and leaves the MSR as it was, even with the enable bit clear (vmm_init_pvclock)', () => {
    const { host, vmm } = setup();
    vmm.wrmsr(MSR_SYSTEM, 0x2001, 0, 0);
    const bad: Array<[number, number]> = [
      [(MIB - 32) | 1, 0], // vmm's strict end test refuses even an exact fit
      [MIB | 1, 0],
      [0x1ff1, 0], // 0x1ff0 + 32 crosses a page
      [0x1ff0, 0], // enable clear: still checked
      [0x2001, 1], // above 4 GiB
      [-1, -1],
    ];
    for (const [lo, hi] of bad) expect(vmm.wrmsr(MSR_SYSTEM, lo, hi, 0), `${hi}:${lo}`).toBe('gp');
    const out = new Int32Array(2);
    vmm.rdmsr(MSR_SYSTEM, out, 0);
    expect([out[0], out[1]]).toEqual([0x2001, 0]);
    expect(vmm.wrmsr(MSR_SYSTEM, (MIB - 48) | 1, 0, 0)).toBe('ok');
    expect(view(host, MIB - 48).mul).toBe(0x80000);
  });

  it('0 disables (GPA 0 is valid RAM), and a disabled structure is not rewritten', () => {
    const { host, vmm } = setup();
    vmm.wrmsr(MSR_SYSTEM, 0x2001, 0, 0);
    expect(vmm.wrmsr(MSR_SYSTEM, 0, 0, 0)).toBe('ok');
    vmm.clockChanged();
    expect(view(host, 0x2000).version).toBe(2);
    expect(host.mem.read32(0)).toBe(0);
  });

  it('readings never decrease across frequency changes and pauses', () => {
    const { host, vmm } = setup(1_000);
    vmm.wrmsr(MSR_SYSTEM, 0x2001, 0, 0);
    const read = (): bigint => {
      const s = view(host, 0x2000);
      const d = (BigInt(host.tsc()) - s.tscTimestamp) << 12n;
      return s.systemTime + ((d * BigInt(s.mul)) >> 32n);
    };
    let last = read();
    for (const [dt, khz] of [[999, 2_400_000], [1, 1_000], [1_500_001, 3_000_000], [7, 1_999], [10_000_000, 2_000_000]]) {
      host.ns += dt;
      const before = read();
      expect(before >= last).toBe(true);
      host.setTscKHz(khz);
      vmm.clockChanged();
      last = read();
      expect(last >= before).toBe(true);
    }
  });
});

describe('vmm VM_RWVMPARAMS view (vm_rwvmparams: vc_pvclock_system_gpa, vc_pvclock_version)', () => {
  it('reads the accepted MSR value and the counter; a written counter continues the sequence', () => {
    const { host, vmm } = setup();
    expect(vmm.pvclock.vmParams(0)).toEqual({ systemGpa: 0, version: 0 });
    vmm.wrmsr(MSR_SYSTEM, 0x2001, 0, 0);
    expect(vmm.pvclock.vmParams(0)).toEqual({ systemGpa: 0x2001, version: 1 });
    expect(vmm.wrmsr(MSR_SYSTEM, MIB | 1, 0, 0)).toBe('gp');
    expect(vmm.pvclock.vmParams(0).systemGpa).toBe(0x2001);
    vmm.pvclock.setVersionCounter(0, 41); // e.g. restored by vmd after a migration
    vmm.clockChanged();
    expect(view(host, 0x2000).version).toBe(84); // (42 << 1) | 1 = 85 while writing, then 84
  });
});

describe('vmm wall clock MSR 0x4B564D00', () => {
  it('holds the current time; version = guest value | 1 while writing, + 1 after', () => {
    const { host, vmm } = setup();
    host.ns = 2_500_000_007;
    expect(vmm.wrmsr(MSR_WALL, 0x3000, 0, 0)).toBe('ok');
    const b = new DataView(host.mem.readBytes(0x3000, 12)!.buffer);
    expect([b.getUint32(0, true), b.getUint32(4, true), b.getUint32(8, true)]).toEqual([2, 1_700_000_002, 500_000_007]);
    host.mem.write32(0x3000, 7);
    vmm.wrmsr(MSR_WALL, 0x3000, 0, 0);
    expect(host.mem.read32(0x3000)).toBe(8);
  });

  it('a bad GPA is #GP', () => {
    const { vmm } = setup();
    for (const gpa of [MIB - 12, MIB, 0xffc, 0x7fff_0000]) expect(vmm.wrmsr(MSR_WALL, gpa, 0, 0), gpa.toString(16)).toBe('gp');
    expect(vmm.wrmsr(MSR_WALL, 0, 1, 0)).toBe('gp');
    expect(vmm.wrmsr(MSR_WALL, 0xff0, 0, 0)).toBe('ok');
  });
});

describe('without a host (not attached to a machine)', () => {
  it('the MSRs keep their storage semantics and write nothing', () => {
    const [vmm] = createPersonalities(['vmm']) as [VmmPersonality];
    expect(vmm.wrmsr(MSR_SYSTEM, -1, -1, 0)).toBe('ok');
    expect(vmm.wrmsr(MSR_WALL, 0x3000, 0, 0)).toBe('ok');
    vmm.clockChanged();
  });
});

// MSR storage semantics that need no guest memory (spec digest §3.5, §3.8, §5.1, §6.1, §6.2).
// What needs memory or the clock (pvclock/TSC-page/hypercall-page contents) is pending and not tested here.

import { describe, expect, it } from 'vitest';
import { KvmPersonality } from '../../src/hypervisors/kvm.js';
import { HypervPersonality } from '../../src/hypervisors/hyperv.js';
import { XenPersonality } from '../../src/hypervisors/xen.js';
import { createPersonalities } from '../../src/hypervisors/index.js';
import type { HypervisorPersonality } from '../../src/hypervisors/personality.js';

function rd(p: HypervisorPersonality, msr: number, vcpu = 0): [number, number] | null {
  const out = new Int32Array(2);
  return p.rdmsr?.(msr, out, vcpu) ? [out[0] >>> 0, out[1] >>> 0] : null;
}

describe('KVM clock MSRs (§3.5)', () => {
  it('system time (legacy 0x12 and new 0x4B564D01) is per vCPU and reads back; the hook sees every write', () => {
    const seen: string[] = [];
    const k = new KvmPersonality({ hooks: { onSystemTime: (v, lo, hi, msr) => seen.push(`${v}:${msr.toString(16)}:${hi}:${lo >>> 0}`) } });
    expect(k.wrmsr(0x4b564d01, 0x1001, 0, 0)).toBe('ok');
    expect(k.wrmsr(0x4b564d01, 0x2001, 1, 1)).toBe('ok');
    expect(rd(k, 0x4b564d01, 0)).toEqual([0x1001, 0]);
    expect(rd(k, 0x4b564d01, 1)).toEqual([0x2001, 1]);
    expect(k.wrmsr(0x12, 0x3000, 0, 0)).toBe('ok'); // legacy shares the value (bit 0 clear: disabled)
    expect(rd(k, 0x4b564d01, 0)).toEqual([0x3000, 0]);
    expect(seen).toEqual(['0:4b564d01:0:4097', '1:4b564d01:1:8193', '0:12:0:12288']);
  });

  it('wall clock (0x11 / 0x4B564D00) reads back the last GPA and calls the hook once per write', () => {
    let n = 0;
    const k = new KvmPersonality({ hooks: { onWallClock: () => n++ } });
    k.wrmsr(0x4b564d00, 0x5000, 0);
    k.wrmsr(0x4b564d00, 0x5000, 0);
    expect(n).toBe(2);
    expect(rd(k, 0x11)).toEqual([0x5000, 0]);
  });

  it('async PF, steal time and PV EOI values are kept (their areas are pending)', () => {
    const k = new KvmPersonality();
    for (const m of [0x4b564d02, 0x4b564d03, 0x4b564d04]) {
      expect(k.wrmsr(m, 0x7001, 0)).toBe('ok');
      expect(rd(k, m)).toEqual([0x7001, 0]);
    }
  });

  it('MSRs exist only under their feature bits; others are not KVM’s', () => {
    const k = new KvmPersonality({ features: 1 << 3 }); // CLOCKSOURCE2 only
    expect(rd(k, 0x12)).toBeNull();
    expect(k.wrmsr(0x11, 0, 0)).toBe('no');
    expect(rd(k, 0x4b564d01)).toEqual([0, 0]);
    expect(k.wrmsr(0x4b564d02, 1, 0)).toBe('no');
    expect(new KvmPersonality().wrmsr(0x4b564d05, 0, 0)).toBe('no'); // POLL_CONTROL not advertised
  });
});

describe('OpenBSD vmm MSRs (§1.7)', () => {
  it('only 0x4B564D00/01 are handled, by the first of its two blocks', () => {
    const [vmm, compat] = createPersonalities(['vmm']);
    expect(vmm.wrmsr?.(0x4b564d01, 0x8001, 0)).toBe('ok');
    expect(rd(vmm, 0x4b564d01)).toEqual([0x8001, 0]);
    expect(vmm.wrmsr?.(0x12, 0x8001, 0)).toBe('no');
    expect(vmm.wrmsr?.(0x4b564d02, 1, 0)).toBe('no');
    expect(compat.wrmsr).toBeUndefined();
  });
});

describe('Hyper-V MSRs (§3.8, §6.1, §6.2)', () => {
  const LINUX_OS_ID: [number, number] = [0x0c000000, 0x81000006]; // 0x810000060C000000 (Linux 6.12, §6.2)

  it('the hypercall enable bit does not stick while GUEST_OS_ID is 0 (§6.1, §8 note 7)', () => {
    const h = new HypervPersonality();
    expect(rd(h, 0x40000000)).toEqual([0, 0]);
    expect(h.wrmsr(0x40000001, 0x12345001, 0)).toBe('ok');
    expect(rd(h, 0x40000001)![0] & 1).toBe(0);
    expect(h.hypercallEnabled).toBe(false);
    expect(h.wrmsr(0x40000000, ...LINUX_OS_ID)).toBe('ok');
    expect(rd(h, 0x40000000)).toEqual([0x0c000000, 0x81000006]);
    expect(h.wrmsr(0x40000001, 0x12345001, 0)).toBe('ok');
    expect(rd(h, 0x40000001)).toEqual([0x12345001, 0]);
    expect(h.hypercallEnabled).toBe(true);
  });

  it('writing GUEST_OS_ID 0 disables the hypercall page (§6.1)', () => {
    const h = new HypervPersonality();
    h.wrmsr(0x40000000, 1, 0);
    h.wrmsr(0x40000001, 0x9001, 0);
    h.wrmsr(0x40000000, 0, 0);
    expect(rd(h, 0x40000001)).toEqual([0x9000, 0]);
  });

  it('locked + enabled makes the hypercall MSR immutable (§6.1 bit 1)', () => {
    const h = new HypervPersonality();
    h.wrmsr(0x40000000, 1, 0);
    h.wrmsr(0x40000001, 0x9003, 0);
    expect(h.wrmsr(0x40000001, 0x0, 0)).toBe('ok');
    expect(rd(h, 0x40000001)).toEqual([0x9003, 0]);
  });

  it('VP_INDEX reads the vCPU index and is read-only (§6.1)', () => {
    const h = new HypervPersonality();
    expect(rd(h, 0x40000002, 0)).toEqual([0, 0]);
    expect(rd(h, 0x40000002, 5)).toEqual([5, 0]);
    expect(h.wrmsr(0x40000002, 1, 0)).toBe('gp');
  });

  it('TSC and APIC frequency MSRs read Hz and are read-only (§3.8)', () => {
    const h = new HypervPersonality({ tscKHz: 2_400_000, apicKHz: 200_000 });
    expect(rd(h, 0x40000022)).toEqual([2_400_000_000, 0]);
    expect(rd(h, 0x40000023)).toEqual([200_000_000, 0]);
    expect(h.wrmsr(0x40000022, 0, 0)).toBe('gp');
    const big = new HypervPersonality({ tscKHz: 5_000_000 }); // 5 GHz does not fit 32 bits
    expect(rd(big, 0x40000022)).toEqual([5_000_000_000 - 4294967296, 1]);
  });

  it('frequency MSRs need privilege bit 11 and EDX bit 8 (§3.8)', () => {
    expect(rd(new HypervPersonality({ miscFeatures: 0 }), 0x40000022)).toBeNull();
    expect(rd(new HypervPersonality({ privilegesLo: 0x62 }), 0x40000023)).toBeNull();
  });

  it('TIME_REF_COUNT reads the clock input in 100 ns units and #GPs on write; unhandled without a clock (pending)', () => {
    let t = 12_345_678_901;
    const h = new HypervPersonality({ refTime100ns: () => t });
    expect(rd(h, 0x40000020)).toEqual([12_345_678_901 % 4294967296, 2]);
    t += 1;
    expect(rd(h, 0x40000020)![0]).toBe((12_345_678_902 % 4294967296) >>> 0);
    expect(h.wrmsr(0x40000020, 0, 0)).toBe('gp');
    expect(rd(new HypervPersonality(), 0x40000020)).toBeNull();
  });

  it('REFERENCE_TSC holds its value (reset 0; page contents pending) (§3.8)', () => {
    const h = new HypervPersonality();
    expect(rd(h, 0x40000021)).toEqual([0, 0]);
    h.wrmsr(0x40000021, 0xabc001, 0);
    expect(rd(h, 0x40000021)).toEqual([0xabc001, 0]);
  });

  it('SynIC MSRs hold their values per vCPU; SVERSION = 1 read-only; SINTs reset masked; vectors < 16 #GP unless masked (§6.1)', () => {
    const h = new HypervPersonality();
    expect(rd(h, 0x40000081)).toEqual([1, 0]);
    expect(h.wrmsr(0x40000081, 2, 0)).toBe('gp');
    for (let i = 0; i < 16; i++) expect(rd(h, 0x40000090 + i)).toEqual([0x10000, 0]);
    expect(h.wrmsr(0x40000083, 0x7000 | 1, 0, 1)).toBe('ok'); // SIMP on vCPU 1
    expect(h.wrmsr(0x40000082, 0x8000 | 1, 0, 1)).toBe('ok'); // SIEFP
    expect(h.wrmsr(0x40000092, 0xf3, 0, 1)).toBe('ok'); // SINT2 = vector 0xF3, unmasked (Linux VMBus)
    expect(h.wrmsr(0x40000080, 1, 0, 1)).toBe('ok'); // SCONTROL enable
    expect([rd(h, 0x40000083, 1), rd(h, 0x40000082, 1), rd(h, 0x40000092, 1), rd(h, 0x40000080, 1)]).toEqual([
      [0x7001, 0], [0x8001, 0], [0xf3, 0], [1, 0],
    ]);
    expect(rd(h, 0x40000083, 0)).toEqual([0, 0]); // vCPU 0 untouched
    expect(h.wrmsr(0x40000093, 0x0f, 0)).toBe('gp');
    expect(h.wrmsr(0x40000093, 0x1000f, 0)).toBe('ok');
    expect(h.wrmsr(0x40000084, 0, 0)).toBe('ok'); // EOM
  });

  it('MSRs whose privilege is not advertised are not handled (the machine raises #GP)', () => {
    const h = new HypervPersonality();
    expect(rd(h, 0x40000010)).toBeNull(); // VP_RUNTIME (bit 0)
    expect(rd(h, 0x40000003)).toBeNull(); // RESET (bit 7)
    expect(rd(h, 0x400000b0)).toBeNull(); // STIMER0_CONFIG (bit 3)
    const noHc = new HypervPersonality({ privilegesLo: 0x2 });
    expect(noHc.wrmsr(0x40000000, 1, 0)).toBe('no');
    expect(rd(noHc, 0x40000090)).toBeNull(); // SynIC without bit 2
  });
});

describe('Xen hypercall-page MSR (§5.1)', () => {
  it('at 0x40000000 when alone: reads 0, takes a page-aligned GPA, #GPs on a page index', () => {
    const [x] = createPersonalities(['xen']) as XenPersonality[];
    expect(x.hypercallMsr).toBe(0x40000000);
    expect(rd(x, 0x40000000)).toEqual([0, 0]);
    expect(x.wrmsr(0x40000000, 0x1234000, 0)).toBe('ok');
    expect(x.hypercallPage).toEqual({ lo: 0x1234000, hi: 0 });
    expect(rd(x, 0x40000000)).toEqual([0, 0]);
    expect(x.wrmsr(0x40000000, 0x1234001, 0)).toBe('gp');
  });

  it('at 0x40000200 after Hyper-V, leaving 0x40000000 to Hyper-V’s GUEST_OS_ID', () => {
    const [h, x] = createPersonalities(['hyperv', 'xen']);
    expect((x as XenPersonality).hypercallMsr).toBe(0x40000200);
    expect(x.wrmsr?.(0x40000000, 1, 0)).toBe('no');
    expect(h.wrmsr?.(0x40000000, 1, 0)).toBe('ok');
    expect(x.wrmsr?.(0x40000200, 0x5000, 0)).toBe('ok');
  });
});

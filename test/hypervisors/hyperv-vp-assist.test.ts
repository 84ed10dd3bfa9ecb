// The Hyper-V VP assist page MSR against the TLFS ("Virtual Processor Assist Page": MSR
// 0x40000073, bit 0 enable, bits 11:1 RsvdP, bits 63:12 the page's GPA; an overlay page that starts
// zeroed) and the privilege that covers it (§1.4: 0x40000003 EAX bit 4 AccessIntrCtrlRegs, "APIC
// MSRs 0x40000070-72, VP assist 0x40000073"; "access to an MSR without the privilege bit → #GP").
// Linux 6.1's hv_cpu_init writes it on every CPU without checking the privilege.

import { describe, expect, it } from 'vitest';
import { HypervPersonality, HV_MSR_APIC_ACCESS_AVAILABLE, HV_X64_MSR_VP_ASSIST_PAGE } from '../../src/hypervisors/hyperv.js';
import { GuestMemory } from '../../src/machine/memory.js';
import { KvStore } from '../../src/hypervisors/kv-store.js';
import type { HypervisorHost } from '../../src/hypervisors/personality.js';

const RAM = 1 << 20;
const MSR = 0x40000073;

function setup(opts = {}) {
  const host: HypervisorHost = {
    vcpus: 2,
    mem: new GuestMemory(RAM),
    bootTime: 0,
    kv: new KvStore(),
    nowNs: () => 0,
    tsc: () => 0,
    tscKHz: () => 2_000_000,
    injectInterrupt: () => {},
    after: () => 0,
    cancel: () => {},
  };
  const h = new HypervPersonality(opts);
  h.attach(host);
  return { h, mem: host.mem };
}

function rd(h: HypervPersonality, vcpu = 0): [number, number] | null {
  const out = new Int32Array(2);
  return h.rdmsr(MSR, out, vcpu) ? [out[0] >>> 0, out[1] >>> 0] : null;
}

function cpuid3(h: HypervPersonality): number {
  const out = new Int32Array(4);
  h.cpuid(3, 0, 0x40000000, out);
  return out[0];
}

describe('HV_X64_MSR_VP_ASSIST_PAGE (TLFS "Virtual Processor Assist Page")', () => {
  it('is 0x40000073 and covered by privilege bit 4, which CPUID 0x40000003 EAX advertises by default', () => {
    expect(HV_X64_MSR_VP_ASSIST_PAGE).toBe(0x40000073);
    expect(HV_MSR_APIC_ACCESS_AVAILABLE).toBe(1 << 4);
    const { h } = setup();
    expect(cpuid3(h) & (1 << 4)).not.toBe(0);
    // The APIC-MSR route is not recommended (0x40000004 EAX bit 3 HV_X64_APIC_ACCESS_RECOMMENDED).
    const out = new Int32Array(4);
    h.cpuid(4, 0, 0x40000000, out);
    expect(out[0] & (1 << 3)).toBe(0);
  });

  it('reset value 0; reads back what was written, per vCPU; enabling clears the page (an overlay starts zeroed)', () => {
    const { h, mem } = setup();
    expect(rd(h, 0)).toEqual([0, 0]);
    mem.writeBytes(0x5000, new Uint8Array(4096).fill(0xee));
    expect(h.wrmsr(MSR, 0x5001, 0, 1)).toBe('ok');
    expect(rd(h, 1)).toEqual([0x5001, 0]);
    expect(rd(h, 0)).toEqual([0, 0]); // per virtual processor
    expect(mem.readBytes(0x5000, 4096)!.every((b) => b === 0)).toBe(true); // apic_assist 0: no EOI may be skipped
    mem.write32(0x5000, 0x1234); // the guest's own use of its page
    expect(h.wrmsr(MSR, 0x5001, 0, 1)).toBe('ok'); // same value again: kept
    expect(mem.read32(0x5000)).toBe(0x1234);
    expect(h.wrmsr(MSR, 0x5000, 0, 1)).toBe('ok'); // disable (Linux hv_cpu_die): read back, page left alone
    expect(rd(h, 1)).toEqual([0x5000, 0]);
    expect(mem.read32(0x5000)).toBe(0x1234);
  });

  it('bits 11:1 are RsvdP: kept as written, no #GP', () => {
    const { h } = setup();
    expect(h.wrmsr(MSR, 0x6ffe, 0)).toBe('ok');
    expect(rd(h)).toEqual([0x6ffe, 0]);
  });

  it('hostile: a GPA beyond the 39-bit GPA space is #GP and changes nothing; outside RAM it is accepted and nothing is written', () => {
    const { h, mem } = setup();
    expect(h.wrmsr(MSR, 0x5001, 0)).toBe('ok');
    expect(h.wrmsr(MSR, 0x1, 0x80)).toBe('gp'); // bit 39
    expect(h.wrmsr(MSR, 0x1, 0xffffffff)).toBe('gp');
    expect(rd(h)).toEqual([0x5001, 0]);
    const before = mem.readBytes(0, RAM)!;
    expect(h.wrmsr(MSR, RAM + 1, 0x7f)).toBe('ok'); // inside the GPA space, no RAM there
    expect(rd(h)).toEqual([(RAM + 1) >>> 0, 0x7f]);
    expect(mem.readBytes(0, RAM)).toEqual(before);
  });

  it('without privilege bit 4 the MSR is not Hyper-V\'s (#GP from the machine), and CPUID says so', () => {
    const { h } = setup({ privilegesLo: 0xa76 & ~(1 << 4) });
    expect(cpuid3(h) & (1 << 4)).toBe(0);
    expect(rd(h)).toBeNull();
    expect(h.wrmsr(MSR, 0x5001, 0)).toBe('no');
  });

  it('the APIC MSRs 0x40000070-72 that bit 4 also names are not implemented (left to the machine: #GP)', () => {
    const { h } = setup();
    for (const msr of [0x40000070, 0x40000071, 0x40000072]) {
      expect(h.rdmsr(msr, new Int32Array(2))).toBe(false);
      expect(h.wrmsr(msr, 0, 0)).toBe('no');
    }
  });
});

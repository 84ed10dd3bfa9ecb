// Hyper-V synthetic MSRs against the spec tables (spec digest §3.8, §6.1, §6.2, §6.5; TLFS
// timers.md, hypercall-interface.md, inter-partition-communication.md), with a machine stand-in
// whose clock follows the machine's rule (TSC = floor(ns · kHz / 10^6) + offset, continuous across
// frequency changes).

import { describe, expect, it } from 'vitest';
import { HypervPersonality } from '../../src/hypervisors/hyperv.js';
import { GuestMemory } from '../../src/machine/memory.js';
import { KvStore } from '../../src/hypervisors/kv-store.js';
import type { HypervisorHost } from '../../src/hypervisors/personality.js';

class FakeHost implements HypervisorHost {
  readonly vcpus = 2;
  readonly mem = new GuestMemory(1 << 20);
  readonly bootTime = 0;
  readonly kv = new KvStore();
  ns = 0;
  khz = 2_000_000;
  tscOffset = 0;
  nowNs(): number {
    return this.ns;
  }
  tsc(): number {
    return Number((BigInt(this.ns) * BigInt(this.khz)) / 1_000_000n) + this.tscOffset;
  }
  tscKHz(): number {
    return this.khz;
  }
  setTscKHz(khz: number): void {
    const before = this.tsc();
    this.khz = khz;
    this.tscOffset += before - this.tsc();
  }
  injectInterrupt(): void {}
  after(): number {
    return 0;
  }
  cancel(): void {}
}

function attached(opts = {}): { h: HypervPersonality; host: FakeHost } {
  const h = new HypervPersonality(opts);
  const host = new FakeHost();
  h.attach(host);
  return { h, host };
}

function rd(h: HypervPersonality, msr: number, vcpu = 0): [number, number] | null {
  const out = new Int32Array(2);
  return h.rdmsr(msr, out, vcpu) ? [out[0] >>> 0, out[1] >>> 0] : null;
}

function rd64(h: HypervPersonality, msr: number): bigint {
  const r = rd(h, msr);
  if (r === null) throw new Error(`MSR ${msr.toString(16)} unhandled`);
  return (BigInt(r[1]) << 32n) | BigInt(r[0]);
}

const LINUX_OS_ID: [number, number] = [0x0c000000, 0x81000006]; // 0x810000060C000000, Linux 6.12 (§6.2)

describe('Hyper-V MSR table (§6.1): reset values, read-back, #GP', () => {
  it('reset values (§3.8, §6.1; TLFS: GUEST_OS_ID, HYPERCALL, REFERENCE_TSC, SCONTROL, SIEFP, SIMP 0; SINTx 0x10000)', () => {
    const { h } = attached();
    for (const msr of [0x40000000, 0x40000001, 0x40000021, 0x40000080, 0x40000082, 0x40000083, 0x40000084]) expect(rd(h, msr)).toEqual([0, 0]);
    for (let i = 0; i < 16; i++) expect(rd(h, 0x40000090 + i)).toEqual([0x10000, 0]);
    expect(rd(h, 0x40000081)).toEqual([1, 0]); // SVERSION 1
    expect(rd(h, 0x40000020)).toEqual([0, 0]); // TIME_REF_COUNT is 0 at partition creation (TLFS timers.md)
  });

  it('read/write MSRs read back what was written, all 64 bits (RsvdP bits preserved)', () => {
    const { h } = attached();
    const cases: Array<[number, number, number]> = [
      [0x40000000, 0xdeadbeef, 0x80000001], // GUEST_OS_ID: any value
      [0x40000021, 0xffffeffe, 0x7f], // REFERENCE_TSC: enable clear, 11:1 preserved, GPFN bits
      [0x40000080, 0xfffffffe, 0xffffffff], // SCONTROL 63:1 RsvdP
      [0x40000082, 0x00200ffe, 0x1], // SIEFP, disabled, reserved 11:1 kept
      [0x40000083, 0x00300ffe, 0x2], // SIMP
      [0x40000095, 0xfffeff30, 0xffffffff], // SINT5: RsvdP 63:19, 15:8 kept; vector 0x30 unmasked
    ];
    for (const [msr, lo, hi] of cases) {
      expect(h.wrmsr(msr, lo, hi)).toBe('ok');
      expect(rd(h, msr)).toEqual([lo >>> 0, hi >>> 0]);
    }
  });

  it('read-only MSRs #GP on write and keep their value: VP_INDEX, TIME_REF_COUNT, TSC/APIC_FREQUENCY, SVERSION', () => {
    const { h } = attached();
    for (const msr of [0x40000002, 0x40000020, 0x40000022, 0x40000023, 0x40000081]) {
      const before = rd(h, msr);
      expect(h.wrmsr(msr, 1, 0)).toBe('gp');
      expect(rd(h, msr)).toEqual(before);
    }
  });

  it('EOM is write-only and reads 0 (TLFS: "Reads from the EOM register always returns zeros")', () => {
    const { h } = attached();
    expect(h.wrmsr(0x40000084, 0, 0)).toBe('ok');
    expect(rd(h, 0x40000084)).toEqual([0, 0]);
  });

  it('SINTx: vectors 0-15 #GP when unmasked; masked writes of any vector (the reset value itself) are accepted (§6.1)', () => {
    const { h } = attached();
    for (let v = 0; v < 16; v++) expect(h.wrmsr(0x40000092, v, 0)).toBe('gp');
    expect(rd(h, 0x40000092)).toEqual([0x10000, 0]);
    expect(h.wrmsr(0x40000092, 0x10000, 0)).toBe('ok');
    expect(h.wrmsr(0x40000092, 0x10005, 0)).toBe('ok');
    expect(h.wrmsr(0x40000092, 16, 0)).toBe('ok');
    expect(h.wrmsr(0x40000092, 0x200f3, 0)).toBe('ok'); // vector 0xF3 + auto-EOI (Linux VMBus SINT2, §6.4)
    expect(rd(h, 0x40000092)).toEqual([0x200f3, 0]);
  });

  it('0x40000085-0x4000008F are not SynIC registers (unhandled: the machine raises #GP)', () => {
    const { h } = attached();
    for (let msr = 0x40000085; msr <= 0x4000008f; msr++) {
      expect(rd(h, msr)).toBeNull();
      expect(h.wrmsr(msr, 0, 0)).toBe('no');
    }
  });

  it('VP_INDEX is the asking vCPU; SynIC registers are per vCPU (§6.1)', () => {
    const { h } = attached();
    expect(rd(h, 0x40000002, 0)).toEqual([0, 0]);
    expect(rd(h, 0x40000002, 1)).toEqual([1, 0]);
    h.wrmsr(0x40000080, 1, 0, 1);
    expect(rd(h, 0x40000080, 1)).toEqual([1, 0]);
    expect(rd(h, 0x40000080, 0)).toEqual([0, 0]);
  });

  it('an MSR whose privilege bit is clear is not Hyper-V’s (§6.1: "Access to an MSR without the privilege bit → #GP")', () => {
    const bits: Array<[number, number[]]> = [
      [1 << 1, [0x40000020]],
      [1 << 2, [0x40000080, 0x40000081, 0x40000082, 0x40000083, 0x40000084, 0x40000090]],
      [1 << 4, [0x40000073]],
      [1 << 5, [0x40000000, 0x40000001]],
      [1 << 6, [0x40000002]],
      [1 << 9, [0x40000021]],
      [1 << 11, [0x40000022, 0x40000023]],
    ];
    for (const [bit, msrs] of bits) {
      const { h } = attached({ privilegesLo: 0xa76 & ~bit });
      for (const msr of msrs) {
        expect(rd(h, msr)).toBeNull();
        expect(h.wrmsr(msr, 0x10, 0)).toBe('no');
      }
    }
  });
});

describe('TIME_REF_COUNT and the frequency MSRs (§3.8)', () => {
  it('TIME_REF_COUNT = whole 100 ns units of virtual time, all 64 bits', () => {
    const { h, host } = attached();
    for (const ns of [0, 99, 100, 12_345, 999_999_999_999, 2 ** 53 - 1]) {
      host.ns = ns;
      expect(rd64(h, 0x40000020)).toBe(BigInt(ns) / 100n);
    }
  });

  it('TSC_FREQUENCY is the machine’s TSC Hz now (follows a frequency change); APIC_FREQUENCY the APIC Hz', () => {
    const { h, host } = attached({ apicKHz: 1_000_000 });
    expect(rd64(h, 0x40000022)).toBe(2_000_000_000n);
    host.setTscKHz(5_123_456);
    expect(rd64(h, 0x40000022)).toBe(5_123_456_000n);
    expect(rd64(h, 0x40000023)).toBe(1_000_000_000n);
  });
});

describe('hypercall MSR and page (§6.1, §6.3; TLFS "Establishing the Hypercall Interface")', () => {
  const GPA = 0x5000;

  it('enable sticks only with a non-zero GUEST_OS_ID; then VMCALL; RET is at the GPFN and the rest of the page is untouched', () => {
    const { h, host } = attached();
    host.mem.writeBytes(GPA, new Uint8Array(4096).fill(0xaa));
    expect(h.wrmsr(0x40000001, GPA | 1, 0)).toBe('ok');
    expect(rd(h, 0x40000001)).toEqual([GPA, 0]);
    expect(host.mem.readBytes(GPA, 4)).toEqual(Uint8Array.of(0xaa, 0xaa, 0xaa, 0xaa)); // nothing written
    h.wrmsr(0x40000000, ...LINUX_OS_ID);
    expect(h.wrmsr(0x40000001, GPA | 1, 0)).toBe('ok');
    expect(rd(h, 0x40000001)).toEqual([GPA | 1, 0]);
    expect(host.mem.readBytes(GPA, 8)).toEqual(Uint8Array.of(0x0f, 0x01, 0xc1, 0xc3, 0xaa, 0xaa, 0xaa, 0xaa));
    expect(host.mem.read8(GPA + 4095)).toBe(0xaa);
  });

  it('reserved bits 11:2 are preserved; the page moves with the GPFN', () => {
    const { h, host } = attached();
    h.wrmsr(0x40000000, 1, 0);
    expect(h.wrmsr(0x40000001, 0x7000 | 0xffc | 1, 0)).toBe('ok');
    expect(rd(h, 0x40000001)).toEqual([0x7ffd, 0]);
    expect(host.mem.read32(0x7000)).toBe(0xc3c1010f);
  });

  it('a GPFN beyond the 39-bit GPA space #GPs and leaves the MSR as it was; outside RAM but inside the space is accepted, nothing written', () => {
    const { h, host } = attached();
    h.wrmsr(0x40000000, 1, 0);
    expect(h.wrmsr(0x40000001, 1, 0x80)).toBe('gp'); // GPA 2^39
    expect(h.wrmsr(0x40000001, 1, 0xffffffff)).toBe('gp');
    expect(rd(h, 0x40000001)).toEqual([0, 0]);
    expect(h.wrmsr(0x40000001, 0xfffff001, 0x7f)).toBe('ok'); // last page below 2^39, not RAM
    expect(h.hypercallEnabled).toBe(true);
    expect(h.wrmsr(0x40000001, (host.mem.size - 4096) | 1, 0)).toBe('ok'); // last RAM page
    expect(host.mem.read32(host.mem.size - 4096)).toBe(0xc3c1010f);
  });

  it('GUEST_OS_ID back to 0 disables the page; locked + enabled ignores writes until reset', () => {
    const { h } = attached();
    h.wrmsr(0x40000000, 1, 0);
    h.wrmsr(0x40000001, 0x9001, 0);
    h.wrmsr(0x40000000, 0, 0);
    expect(h.hypercallEnabled).toBe(false);
    h.wrmsr(0x40000000, 1, 0);
    h.wrmsr(0x40000001, 0x9003, 0);
    expect(h.wrmsr(0x40000001, 0xa001, 0)).toBe('ok');
    expect(rd(h, 0x40000001)).toEqual([0x9003, 0]);
  });
});

describe('SynIC message and event pages (§6.5; TLFS "SIM Page", "SIEF Page": cleared to zero)', () => {
  for (const [name, msr] of [['SIEFP', 0x40000082], ['SIMP', 0x40000083]] as const) {
    it(`${name}: zeroed when enabled or moved, kept when rewritten, never written when disabled or outside RAM`, () => {
      const { h, host } = attached();
      host.mem.writeBytes(0x8000, new Uint8Array(8192).fill(0x55));
      expect(h.wrmsr(msr, 0x8000, 0)).toBe('ok'); // GPFN set, disabled
      expect(host.mem.read8(0x8000)).toBe(0x55);
      expect(h.wrmsr(msr, 0x8001, 0)).toBe('ok');
      expect(host.mem.readBytes(0x8000, 4096)!.every((b) => b === 0)).toBe(true);
      expect(host.mem.read8(0x9000)).toBe(0x55); // only that page
      host.mem.write32(0x8010, 0x1234); // a message the guest is processing
      expect(h.wrmsr(msr, 0x8001, 0)).toBe('ok');
      expect(host.mem.read32(0x8010)).toBe(0x1234);
      expect(h.wrmsr(msr, 0x9001, 0)).toBe('ok'); // moved
      expect(host.mem.readBytes(0x9000, 4096)!.every((b) => b === 0)).toBe(true);
      expect(h.wrmsr(msr, 0xfffff001, 0xffffffff)).toBe('ok'); // far outside RAM: accepted
      expect(rd(h, msr)).toEqual([0xfffff001, 0xffffffff]);
    });
  }
});

describe('boot sequences of §6.4', () => {
  it('Linux hyperv_init + hv_init_tsc_clocksource + hv_synic_enable_regs on two vCPUs', () => {
    const { h, host } = attached();
    host.ns = 3_000_000_000;
    expect(h.wrmsr(0x40000000, ...LINUX_OS_ID)).toBe('ok');
    const hc = rd(h, 0x40000001)!;
    expect(h.wrmsr(0x40000001, (hc[0] & 0xfff) | 0x1000 | 1, hc[1])).toBe('ok');
    expect(rd(h, 0x40000001)![0] & 1).toBe(1);
    for (const cpu of [0, 1]) expect(rd(h, 0x40000002, cpu)).toEqual([cpu, 0]);
    const ref = rd(h, 0x40000021)!;
    expect(h.wrmsr(0x40000021, (ref[0] & 0xfff) | 0x2000 | 1, 0)).toBe('ok');
    expect(host.mem.read32(0x2000)).not.toBe(0); // TscSequence: the page is valid
    for (const cpu of [0, 1]) {
      const base = 0x10000 + cpu * 0x2000;
      expect(h.wrmsr(0x40000083, base | 1, 0, cpu)).toBe('ok'); // SIMP
      expect(h.wrmsr(0x40000082, (base + 0x1000) | 1, 0, cpu)).toBe('ok'); // SIEFP
      expect(h.wrmsr(0x40000092, 0xf3 | (1 << 17), 0, cpu)).toBe('ok'); // SINT2: vector 0xF3, auto-EOI, unmasked
      const sc = rd(h, 0x40000080, cpu)!;
      expect(h.wrmsr(0x40000080, sc[0] | 1, sc[1], cpu)).toBe('ok');
    }
    expect(rd64(h, 0x40000020)).toBe(30_000_000n);
  });

  it('OpenBSD hv_attach: GUEST_OS_ID 0x82010003170E0000, the hypercall MSR read back, the MSR timecounter', () => {
    const { h, host } = attached();
    expect(h.wrmsr(0x40000000, 0x170e0000, 0x82010003)).toBe('ok');
    expect(h.wrmsr(0x40000001, 0x4000 | 1, 0)).toBe('ok');
    expect(rd(h, 0x40000001)).toEqual([0x4001, 0]); // enable stuck: attach goes on
    host.ns = 1_234_567;
    const a = rd64(h, 0x40000020);
    host.ns += 1_000_000;
    expect(rd64(h, 0x40000020) - a).toBe(10_000n); // 10 MHz
  });
});

// Every leaf of every personality against the spec digest's tables (§1.1–§1.7), with the values
// written out here independently of the implementation's constants.

import { describe, expect, it } from 'vitest';
import { createPersonalities } from '../../src/hypervisors/index.js';
import { stackCpuid } from '../../src/hypervisors/pvbus-scan.js';
import type { HypervisorPersonality } from '../../src/hypervisors/personality.js';

type Regs = [number, number, number, number];
const u = (r: Regs): Regs => r.map((x) => x >>> 0) as Regs;

/** Expected non-zero leaves of a block; every other leaf of the block must read as zeros (§1.1). */
function expectBlock(ps: HypervisorPersonality[], base: number, leaves: Record<number, Regs | Record<number, Regs>>, vcpu = 0): void {
  const cpuid = stackCpuid(ps, vcpu);
  for (let off = 0; off < 0x100; off++) {
    const want = leaves[off];
    for (const sub of [0, 1, 2, 3]) {
      let w: Regs = [0, 0, 0, 0];
      if (Array.isArray(want)) w = want;
      else if (want !== undefined) w = want[sub] ?? [0, 0, 0, 0];
      expect(u(cpuid(base + off, sub)), `leaf ${(base + off).toString(16)} sub ${sub}`).toEqual(u(w));
    }
  }
}

// §1.1 signature dwords
const KVM_SIG = [0x4b4d564b, 0x564b4d56, 0x0000004d] as const;
const HV_SIG = [0x7263694d, 0x666f736f, 0x76482074] as const;
const VMW_SIG = [0x61774d56, 0x4d566572, 0x65726177] as const;
const XEN_SIG = [0x566e6558, 0x65584d4d, 0x4d4d566e] as const;
const OBSD_SIG = [0x6e65704f, 0x56445342, 0x38354d4d] as const;

describe('CPUID.1:ECX[31] (§1.1)', () => {
  it('is set by the stack model whenever a personality is present', () => {
    expect(stackCpuid(createPersonalities(['kvm']))(1, 0)[2] >>> 31).toBe(1);
    expect(stackCpuid([])(1, 0)[2] >>> 31).toBe(0);
  });
});

describe('KVM (§1.2)', () => {
  it('signature, max leaf base+1, features 0x0100007b (CLOCKSOURCE2 and CLOCKSOURCE_STABLE_BIT among them), no hints', () => {
    const ps = createPersonalities(['kvm'], { tscKHz: 2_400_000 });
    expectBlock(ps, 0x40000000, {
      0: [0x40000001, ...KVM_SIG],
      1: [0x0100007b, 0, 0, 0],
    });
    const f = stackCpuid(ps)(0x40000001, 0)[0];
    expect(f & (1 << 3)).not.toBe(0); // CLOCKSOURCE2
    expect(f & (1 << 24)).not.toBe(0); // CLOCKSOURCE_STABLE_BIT
  });

  it('at 0x40000100 after Hyper-V its max leaf is relative to its base', () => {
    expectBlock(createPersonalities(['hyperv', 'kvm']), 0x40000100, { 0: [0x40000101, ...KVM_SIG], 1: [0x0100007b, 0, 0, 0] });
  });

  it('with the timing leaf (§1.3): max leaf base+0x10, EAX TSC kHz, EBX 1 000 000', async () => {
    const { KvmPersonality } = await import('../../src/hypervisors/kvm.js');
    expectBlock([new KvmPersonality({ tscKHz: 2_400_000, timingLeaf: true })], 0x40000000, {
      0: [0x40000010, ...KVM_SIG],
      1: [0x0100007b, 0, 0, 0],
      0x10: [2_400_000, 1_000_000, 0, 0],
    });
  });
});

describe('Hyper-V (§1.4)', () => {
  const ps = createPersonalities(['hyperv'], { tscKHz: 3_000_000 });
  const cpuid = stackCpuid(ps);

  it('every leaf of the block', () => {
    expectBlock(ps, 0x40000000, {
      0: [0x40000006, ...HV_SIG],
      1: [0x31237648, 0, 0, 0], // 'Hv#1'
      2: [17763, 0x000a0000, 0, 0], // build, 10.0
      3: [0x00000a76, 0x30, 0, 0x100],
      4: [0x20, 0xffffffff, 0, 0],
      5: [240, 0, 0, 0],
    });
  });

  it('max leaf within what Linux accepts (0x40000005..0x4000FFFF, §2.3)', () => {
    const max = cpuid(0x40000000, 0)[0] >>> 0;
    expect(max).toBeGreaterThanOrEqual(0x40000005);
    expect(max).toBeLessThanOrEqual(0x4000ffff);
  });

  it('privileges Linux, FreeBSD and OpenBSD require: hypercall MSRs (5), VP index (6), SynIC (2) (§1.4, §2.3, §2.4)', () => {
    const eax = cpuid(0x40000003, 0)[0];
    for (const bit of [5, 6, 2]) expect((eax >>> bit) & 1, `bit ${bit}`).toBe(1);
  });

  it('clock privileges: reference counter (1), reference TSC (9), frequency MSRs (11 with EDX bit 8) (§1.4, §3.8)', () => {
    const [eax, , , edx] = cpuid(0x40000003, 0);
    for (const bit of [1, 9, 11]) expect((eax >>> bit) & 1, `bit ${bit}`).toBe(1);
    expect((edx >>> 8) & 1).toBe(1);
  });

  it('does not advertise MSR groups it does not implement (VP runtime 0, stimers 3, reset 7, TSC invariant 15)', () => {
    const eax = cpuid(0x40000003, 0)[0];
    for (const bit of [0, 3, 7, 15]) expect((eax >>> bit) & 1, `bit ${bit}`).toBe(0);
    // Bit 4 (AccessIntrCtrlRegs) is set for the VP assist page Linux writes; its EOI/ICR/TPR MSRs
    // (0x40000070-72) are not implemented and 0x40000004 does not recommend them
    // (docs/personalities/hyperv.md, deliberate differences).
    expect((eax >>> 4) & 1).toBe(1);
    expect((cpuid(0x40000004, 0)[0] >>> 3) & 1).toBe(0);
  });
});

describe('VMware (§1.5, §1.3)', () => {
  it('signature, max leaf 0x40000010, timing leaf with TSC kHz and bus kHz', () => {
    expectBlock(createPersonalities(['vmware'], { tscKHz: 2_893_000, apicKHz: 66_000 }), 0x40000000, {
      0: [0x40000010, ...VMW_SIG],
      0x10: [2_893_000, 66_000, 0, 0],
    });
  });
});

describe('Xen (§1.6)', () => {
  // mul/shift for 2.4 GHz from the §3.4 table: 0xD5555555, −1 (EDX holds the s8 sign-extended)
  const xenLeaves = (base: number, msr: number) => ({
    0: [base + 5, ...XEN_SIG] as Regs, // max leaf base + XEN_CPUID_MAX_NUM_LEAVES (5); Linux needs ≥ base+2
    1: [(4 << 16) | 17, 0, 0, 0] as Regs, // version 4.17
    2: [1, msr, 0, 0] as Regs, // one hypercall page (OpenBSD insists), MSR index, no PV features
    3: {
      0: [0b110, 0, 2_400_000, 0] as Regs, // host TSC reliable, RDTSCP; tsc_mode 0; guest kHz; incarnation 0
      1: [0, 0, 0xd5555555, 0xffffffff] as Regs, // offset 0, mul, shift −1
      2: [2_400_000, 0, 0, 0] as Regs, // host kHz
    },
    4: { 0: [0x5c, 0, 1, 0] as Regs }, // IOMMU_MAPPINGS|VCPU_ID_PRESENT|DOMID_PRESENT|UPCALL_VECTOR; vCPU 0; domid 1
  });

  it('alone at 0x40000000: hypercall MSR 0x40000000', () => {
    expectBlock(createPersonalities(['xen'], { tscKHz: 2_400_000 }), 0x40000000, xenLeaves(0x40000000, 0x40000000));
  });

  it('after Hyper-V (Viridian): base 0x40000100, max leaf 0x40000105, hypercall MSR 0x40000200', () => {
    expectBlock(createPersonalities(['hyperv', 'xen'], { tscKHz: 2_400_000 }), 0x40000100, xenLeaves(0x40000100, 0x40000200));
  });

  it('base+4 EBX is the asking vCPU', () => {
    const ps = createPersonalities(['xen']);
    expect(stackCpuid(ps, 3)(0x40000004, 0)[1]).toBe(3);
  });
});

describe('OpenBSD vmm (§1.7)', () => {
  it('OpenBSDVMM58 block with EAX = 0 and features 0x01000008; KVM block at 0x40000100 with 0x0100000A', () => {
    const ps = createPersonalities(['vmm']);
    expect(ps.length).toBe(2);
    expectBlock(ps, 0x40000000, { 0: [0, ...OBSD_SIG], 1: [0x01000008, 0, 0, 0] });
    expectBlock(ps, 0x40000100, { 0: [0x40000101, ...KVM_SIG], 1: [0x0100000a, 0, 0, 0] });
    expectBlock(ps, 0x40000200, {});
  });
});

describe('stacking', () => {
  it('blocks follow each other without a gap and nothing answers past the last one (§8 note 2)', () => {
    const ps = createPersonalities(['hyperv', 'kvm', 'vmware']);
    const c = stackCpuid(ps);
    expect(u(c(0x40000000, 0)).slice(1)).toEqual([...HV_SIG]);
    expect(u(c(0x40000100, 0)).slice(1)).toEqual([...KVM_SIG]);
    expect(u(c(0x40000200, 0)).slice(1)).toEqual([...VMW_SIG]);
    expect(u(c(0x40000300, 0))).toEqual([0, 0, 0, 0]);
  });

  it('names are checked as before', () => {
    expect(() => createPersonalities(['kvm', 'kvm'])).toThrow(/twice/);
    expect(() => createPersonalities(['qnx'])).toThrow(/unknown/);
    expect(createPersonalities([])).toEqual([]);
  });
});

// OpenBSD pvbus_identify() (§2.1) and Linux init_hypervisor_platform() (§2.3) over every
// personality and every stack of them: the guest finds exactly the configured hypervisors, in order.

import { describe, expect, it } from 'vitest';
import { createPersonalities, PERSONALITY_NAMES } from '../../src/hypervisors/index.js';
import { linuxDetect, linuxHypervisorCpuidBase, pvbusAttachLine, pvbusIdentify, stackCpuid } from '../../src/hypervisors/pvbus-scan.js';
import type { HypervisorPersonality } from '../../src/hypervisors/personality.js';

/** What pvbus should find for one name: [pvbus name, offset of its block within the name's blocks]. */
const EXPECTED: Record<string, string[]> = {
  kvm: ['KVM'],
  hyperv: ['Hyper-V'],
  vmware: ['VMware'],
  xen: ['Xen'],
  vmm: ['OpenBSD', 'KVM'], // §1.7: OpenBSDVMM58 then the KVM-compatible block
};

function* stacks(names: readonly string[], prefix: string[] = []): Generator<string[]> {
  if (prefix.length > 0) yield prefix;
  for (const n of names) if (!prefix.includes(n)) yield* stacks(names, [...prefix, n]);
}

const scan = (names: string[]) => pvbusIdentify(stackCpuid(createPersonalities(names)));

describe('pvbus_identify over single personalities (§2.1)', () => {
  it('kvm: KVM at 0x40000000 with hv_features 0x0100007b', () => {
    expect(scan(['kvm'])).toEqual([{ type: 0, name: 'KVM', base: 0x40000000, features: 0x0100007b, major: 0, minor: 0 }]);
  });
  it('hyperv: Hyper-V 10.0, hv_features = privilege EAX 0xa76 (ref counter bit 1 set)', () => {
    const r = scan(['hyperv']);
    expect(r).toEqual([{ type: 1, name: 'Hyper-V', base: 0x40000000, features: 0xa76, major: 10, minor: 0 }]);
    expect(pvbusAttachLine(r)).toBe('Hyper-V 10.0');
  });
  it('vmware: VMware', () => {
    expect(pvbusAttachLine(scan(['vmware']))).toBe('VMware');
  });
  it('xen: Xen 4.17 (≥ 4.3, so OpenBSD keeps x2APIC)', () => {
    const r = scan(['xen']);
    expect(r).toEqual([{ type: 3, name: 'Xen', base: 0x40000000, features: 0, major: 4, minor: 17 }]);
    expect(pvbusAttachLine(r)).toBe('Xen 4.17');
  });
  it('vmm: OpenBSD at 0x40000000 and KVM at 0x40000100, both with CLOCKSOURCE2 and STABLE_BIT for pvclock(4) (§3.7)', () => {
    const r = scan(['vmm']);
    expect(r.map((h) => [h.name, h.base, h.features])).toEqual([
      ['OpenBSD', 0x40000000, 0x01000008],
      ['KVM', 0x40000100, 0x0100000a],
    ]);
    expect(pvbusAttachLine(r)).toBe('KVM, OpenBSD');
    for (const h of r) expect(h.features & ((1 << 3) | (1 << 24))).toBe((1 << 3) | (1 << 24));
  });
});

describe('pvbus_identify over every stack (ordered subsets of the five names)', () => {
  const all = [...stacks(PERSONALITY_NAMES)].filter((s) => !(s.includes('vmm') && s.includes('kvm'))); // vmm already is KVM
  it(`finds exactly the configured hypervisors at consecutive bases (${all.length} stacks)`, () => {
    expect(all.length).toBe(113); // 325 ordered subsets minus those with both vmm and kvm
    for (const names of all) {
      const want = names.flatMap((n) => EXPECTED[n]);
      const got = scan(names);
      expect(got.map((h) => h.name), names.join(',')).toEqual(want);
      expect(got.map((h) => h.base), names.join(',')).toEqual(want.map((_, i) => 0x40000000 + i * 0x100));
    }
  });

  it("'hyperv,kvm' and 'hyperv,xen' (Xen with Viridian) as on real hosts", () => {
    expect(scan(['hyperv', 'kvm']).map((h) => `${h.name}@${h.base.toString(16)}`)).toEqual(['Hyper-V@40000000', 'KVM@40000100']);
    expect(scan(['hyperv', 'xen']).map((h) => `${h.name}@${h.base.toString(16)}`)).toEqual(['Hyper-V@40000000', 'Xen@40000100']);
  });

  it('the scan stops at an empty block: a gap would hide later hypervisors (why stacks have none, §8 note 2)', () => {
    const [kvm, vmware] = createPersonalities(['kvm', 'vmware']);
    const empty: HypervisorPersonality = { name: 'empty', cpuid: () => false };
    expect(pvbusIdentify(stackCpuid([kvm, empty, vmware])).map((h) => h.name)).toEqual(['KVM']);
  });

  it('nothing without CPUID.1:ECX[31]', () => {
    const c = stackCpuid(createPersonalities(['kvm']));
    expect(pvbusIdentify((leaf, sub) => (leaf === 1 ? [0, 0, 0, 0] : c(leaf, sub)))).toEqual([]);
  });
});

describe('Linux init_hypervisor_platform (§2.3)', () => {
  const linux = (names: string[]) => linuxDetect(stackCpuid(createPersonalities(names)));
  it.each([
    [['kvm'], 'kvm'],
    [['hyperv'], 'ms_hyperv'], // max leaf ≥ 0x40000005 and privilege bits 5, 6
    [['vmware'], 'vmware'],
    [['xen'], 'xen_hvm'],
    [['vmm'], 'kvm'], // the KVM block at 0x40000100 (§1.7)
    [['hyperv', 'kvm'], 'kvm'], // highest base wins
    [['hyperv', 'xen'], 'xen_hvm'],
    [['vmware', 'kvm'], 'kvm'],
    [['kvm', 'vmware'], 'kvm'], // VMware is recognised only at exactly 0x40000000
    [[], null],
  ] as [string[], string | null][])('%j → %s', (names, want) => {
    expect(linux(names)).toBe(want);
  });
});

describe('Linux hypervisor_cpuid_base details (§2.3, §8 note 4)', () => {
  it('a KVM block whose max leaf is 0 (old hosts) is still found: leaves == 0 skips the check, unsigned arithmetic', () => {
    const old: HypervisorPersonality = {
      name: 'old-kvm',
      cpuid: (off, _s, _b, out) => {
        if (off !== 0) return false;
        out.set([0, 0x4b4d564b, 0x564b4d56, 0x4d]);
        return true;
      },
    };
    expect(linuxHypervisorCpuidBase(stackCpuid([old]), 'KVMKVMKVM\0\0\0', 0)).toBe(0x40000000);
    // Xen needs (eax - base) >= 2: a Xen-signed block with max leaf base+1 is ignored
    const shortXen: HypervisorPersonality = {
      name: 'short-xen',
      cpuid: (off, _s, base, out) => {
        if (off !== 0) return false;
        out.set([base + 1, 0x566e6558, 0x65584d4d, 0x4d4d566e]);
        return true;
      },
    };
    expect(linuxHypervisorCpuidBase(stackCpuid([shortXen]), 'XenVMMXenVMM', 2)).toBe(0);
  });
});

// CPUID (hypervisor-interfaces.md §1, §2.1): every block of every stack of personalities against
// the spec tables, written out here; and the pvbus-scan guest (OpenBSD pvbus_identify as a real
// guest through hvsim's CPU) finds exactly the configured hypervisors, in order.

import { createPersonalities } from '../src/hypervisors/index.js';
import { stackCpuid } from '../src/hypervisors/pvbus-scan.js';
import { defineProperty } from './define.js';
import { fixture } from './guest.js';
import { stackArb } from './arbitraries.js';

type Regs = [number, number, number, number];
const BASE = 0x40000000;

// §1.1 signatures (EBX, ECX, EDX)
const SIG: Record<string, [number, number, number]> = {
  kvm: [0x4b4d564b, 0x564b4d56, 0x0000004d],
  hyperv: [0x7263694d, 0x666f736f, 0x76482074],
  vmware: [0x61774d56, 0x4d566572, 0x65726177],
  xen: [0x566e6558, 0x65584d4d, 0x4d4d566e],
  vmm: [0x6e65704f, 0x56445342, 0x38354d4d],
};

/** The blocks a name occupies (vmm: its own, then the KVM-compatible one, §1.7). */
const blocksOf = (name: string): string[] => (name === 'vmm' ? ['vmm', 'vmm-kvm'] : [name]);

const bit = (x: number, b: number): boolean => ((x >>> b) & 1) === 1;

/**
 * The spec's checks of one block at `base`; returns the highest leaf the block defines (leaves
 * above it must read as zeros, §1.1) or a failure message.
 */
function checkBlock(kind: string, base: number, q: (leaf: number, sub?: number) => Regs, ctx: { tscKHz: number }): number | string {
  const [a0, b0, c0, d0] = q(base);
  const sig = SIG[kind === 'vmm-kvm' ? 'kvm' : kind];
  if (b0 !== sig[0] || c0 !== sig[1] || d0 !== sig[2]) return `signature at 0x${base.toString(16)} is not ${kind}'s (§1.1)`;
  const [a1, b1, c1] = q(base + 1);
  switch (kind) {
    case 'kvm': // §1.2: max leaf base+1 (or base+0x10 with the timing leaf), CLOCKSOURCE2 and STABLE_BIT
      if (a0 !== base + 1 && a0 !== base + 0x10) return `KVM max leaf 0x${a0.toString(16)} (§1.2)`;
      if (!bit(a1, 3) || !bit(a1, 24)) return `KVM features 0x${a1.toString(16)} lack CLOCKSOURCE2/STABLE_BIT (§1.2)`;
      if (b1 !== 0 || c1 !== 0) return 'KVM base+1 EBX/ECX not 0 (§1.2)';
      return a0;
    case 'hyperv': {
      // §1.4: 0x40000005 <= max, Hv#1, privileges: reference counter (1), hypercall MSRs (5), VP index (6), reference TSC (9)
      if (a0 < base + 5 || a0 > base + 0xffff) return `Hyper-V max leaf 0x${a0.toString(16)} (§1.4)`;
      if (a1 !== 0x31237648 || b1 !== 0 || c1 !== 0) return 'Hyper-V base+1 is not Hv#1 (§1.1, §1.4)';
      const [p] = q(base + 3);
      for (const b of [1, 5, 6, 9]) if (!bit(p, b)) return `Hyper-V privilege bit ${b} clear (§1.4)`;
      return Math.min(a0, base + 0xff);
    }
    case 'vmware': {
      // §1.5/§1.3: max >= base+0x10, timing leaf EAX = TSC kHz, EBX = APIC kHz, EDX = 0
      if (a0 < base + 0x10) return `VMware max leaf 0x${a0.toString(16)} (§1.5)`;
      const [t, apic, , d] = q(base + 0x10);
      if (t !== ctx.tscKHz || apic <= 0 || d !== 0) return `VMware timing leaf [${t}, ${apic}, _, ${d}] for ${ctx.tscKHz} kHz (§1.3)`;
      return Math.min(a0, base + 0xff);
    }
    case 'xen': {
      // §1.6: max >= base+2, version nonzero, exactly 1 hypercall page, MSR 0x40000000; 0x40000200
      // when Xen is not at 0x40000000 (Viridian's case in §1.6; hvsim applies it to any block
      // below Xen's, docs/personalities/detection.md, since §9 leaves the index unverified)
      if (a0 < base + 2) return `Xen max leaf 0x${a0.toString(16)} (§1.6)`;
      if (a1 === 0) return 'Xen version 0 (§1.6)';
      const [pages, msr] = q(base + 2);
      if (pages !== 1) return `Xen hypercall pages ${pages} (§1.6, OpenBSD insists on 1)`;
      const wantMsr = base !== BASE ? 0x40000200 : 0x40000000;
      if (msr !== wantMsr) return `Xen hypercall MSR 0x${msr.toString(16)}, expected 0x${wantMsr.toString(16)} (§1.6)`;
      if (a0 >= base + 3) {
        const [, , khz] = q(base + 3, 0);
        if (khz !== ctx.tscKHz) return `Xen base+3 ECX ${khz} kHz, expected ${ctx.tscKHz} (§1.6)`;
      }
      return Math.min(a0, base + 0xff);
    }
    case 'vmm': // §1.7: EAX 0 (!), features 0x01000008
      if (a0 !== 0) return `vmm max leaf 0x${a0.toString(16)}, expected 0 (§1.7)`;
      if (a1 !== 0x01000008) return `vmm features 0x${a1.toString(16)} (§1.7)`;
      return base + 1;
    case 'vmm-kvm': // §1.7: KVM block at base with max base+1, features 0x0100000a
      if (a0 !== base + 1) return `vmm's KVM block max leaf 0x${a0.toString(16)} (§1.7)`;
      if (a1 !== 0x0100000a) return `vmm's KVM features 0x${a1.toString(16)} (§1.7)`;
      return base + 1;
    default:
      return `unknown block ${kind}`;
  }
}

/** pvbus type names per configured name (§2.1), in block order. */
const PVBUS_NAMES: Record<string, string[]> = { kvm: ['KVM'], hyperv: ['Hyper-V'], vmware: ['VMware'], xen: ['Xen'], vmm: ['OpenBSD', 'KVM'] };

export const cpuidProperties = [
  defineProperty({
    area: 'cpuid',
    name: 'every block of every stack matches its spec table; leaves above a block and past the stack read zeros',
    specClause: 'hypervisor-interfaces.md §1.1-§1.7',
    quickRuns: 60,
    arbitrary: (fc, opts) => fc.record({ stack: stackArb(fc, opts), tscKHz: fc.integer({ min: 1000, max: 100_000_000 }) }),
    predicate: ({ stack, tscKHz }) => {
      const cpuid = stackCpuid(createPersonalities(stack, { tscKHz }));
      const q = (leaf: number, sub = 0): Regs => cpuid(leaf, sub).map((x) => x >>> 0) as Regs;
      // §1.1: CPUID.1:ECX[31] is the hypervisor-present bit
      if (bit(q(1)[2], 31) !== stack.length > 0) throw new Error(`CPUID.1:ECX[31] is ${bit(q(1)[2], 31)} with ${stack.length} personalities`);
      const blocks = stack.flatMap(blocksOf);
      blocks.forEach((kind, i) => {
        const base = BASE + i * 0x100;
        const max = checkBlock(kind, base, q, { tscKHz });
        if (typeof max === 'string') throw new Error(`[${stack.join(',')}] ${max}`);
        for (let leaf = max + 1; leaf < base + 0x100; leaf++) {
          if (q(leaf).some((x) => x !== 0)) throw new Error(`[${stack.join(',')}] leaf 0x${leaf.toString(16)} above ${kind}'s max is not zero (§1.1)`);
        }
      });
      const past = BASE + blocks.length * 0x100;
      if (q(past).some((x) => x !== 0)) throw new Error(`[${stack.join(',')}] the block after the stack (0x${past.toString(16)}) is not empty`);
    },
  }),
  defineProperty({
    area: 'cpuid',
    name: 'the pvbus-scan guest finds exactly the configured hypervisors, in order',
    specClause: 'hypervisor-interfaces.md §2.1 (OpenBSD pvbus_identify), §1.1',
    quickRuns: 4,
    arbitrary: (fc, opts) => stackArb(fc, opts),
    predicate: (stack, { guest }) => {
      const args = ['-m', '4M', '-l', 'com1,stdio', '--kernel', fixture('pvbus-scan')];
      if (stack.length > 0) args.push('--hypervisor', stack.join(','));
      const r = guest.record(args, 'pvbus-scan');
      if (r.status !== 1) throw new Error(`pvbus-scan ended with status ${r.status}`);
      const found: Array<[number, string]> = [];
      for (const line of r.serial.split('\n')) {
        const m = /^pvbus: (0x[0-9a-f]+) max=0x[0-9a-f]+ sig=".*" known=(\S+)$/.exec(line);
        if (m !== null) found.push([Number(m[1]), m[2]]);
      }
      const want = stack.flatMap((n) => PVBUS_NAMES[n]);
      const got = found.map(([, n]) => n);
      if (JSON.stringify(got) !== JSON.stringify(want)) throw new Error(`[${stack.join(',')}] pvbus found ${JSON.stringify(got)}, expected ${JSON.stringify(want)}`);
      found.forEach(([base], i) => {
        if (base !== BASE + i * 0x100) throw new Error(`block ${i} found at 0x${base.toString(16)}`);
      });
      if (!r.serial.includes(`pvbus: done ${want.length}\n`)) throw new Error(`the scan did not end with "done ${want.length}"`);
    },
  }),
];

// The hypervisor personalities by name, in the order the user stacks them.
//
// Each personality gets the machine's TSC frequency and vCPU count here, and the machine's
// HypervisorHost (guest memory, virtual clock, KV store) through attach() before the guest runs.

import type { HypervisorPersonality } from './personality.js';
import { KvmPersonality } from './kvm.js';
import { HypervPersonality } from './hyperv.js';
import { VmwarePersonality } from './vmware.js';
import { XenPersonality } from './xen.js';
import { VmmKvmCompatPersonality, VmmPersonality } from './vmm.js';
import { HV_BASE, type PersonalityOptions } from './cpuid-util.js';

export const PERSONALITY_NAMES = ['kvm', 'hyperv', 'vmware', 'xen', 'vmm'] as const;
export type PersonalityName = (typeof PERSONALITY_NAMES)[number];

/** Host inputs shared by all personalities (the machine's TSC/APIC frequencies, vCPU count). */
export type CreatePersonalitiesOptions = Omit<PersonalityOptions, 'base'>;

/**
 * Each factory gets the options plus its base (where its first block lands) and returns the
 * personality objects for consecutive 0x100 blocks — one, except vmm which fills two (§1.7).
 */
const FACTORIES: Partial<Record<PersonalityName, (o: PersonalityOptions) => HypervisorPersonality[]>> = {
  kvm: (o) => [new KvmPersonality(o)],
  hyperv: (o) => [new HypervPersonality(o)],
  vmware: (o) => [new VmwarePersonality(o)],
  xen: (o) => [new XenPersonality(o)],
  vmm: (o) => {
    const v = new VmmPersonality(o);
    return [v, new VmmKvmCompatPersonality(v)];
  },
};

/**
 * Instantiate the named personalities (first at 0x40000000, each next block 0x100 higher, no gap,
 * spec digest §8 note 2). Unknown or not-yet-built names throw. 'vmm' occupies two blocks.
 */
export function createPersonalities(names: readonly string[], opts: CreatePersonalitiesOptions = {}): HypervisorPersonality[] {
  const seen = new Set<string>();
  const out: HypervisorPersonality[] = [];
  for (const n of names) {
    if (!(PERSONALITY_NAMES as readonly string[]).includes(n)) throw new Error(`unknown hypervisor personality '${n}'`);
    if (seen.has(n)) throw new Error(`hypervisor personality '${n}' given twice`);
    seen.add(n);
    const f = FACTORIES[n as PersonalityName];
    if (f === undefined) throw new Error(`hypervisor personality '${n}' is not implemented yet`);
    out.push(...f({ ...opts, base: HV_BASE + out.length * 0x100 }));
  }
  return out;
}

// The hypervisor personalities by name, in the order the user stacks them.

import type { HypervisorPersonality } from './personality.js';
import { KvmPersonality } from './kvm.js';

export const PERSONALITY_NAMES = ['kvm', 'hyperv', 'vmware', 'xen', 'vmm'] as const;
export type PersonalityName = (typeof PERSONALITY_NAMES)[number];

const FACTORIES: Partial<Record<PersonalityName, () => HypervisorPersonality>> = {
  kvm: () => new KvmPersonality(),
};

/** Instantiate the named personalities (first at 0x40000000). Unknown or not-yet-built names throw. */
export function createPersonalities(names: readonly string[]): HypervisorPersonality[] {
  const seen = new Set<string>();
  return names.map((n) => {
    if (!(PERSONALITY_NAMES as readonly string[]).includes(n)) throw new Error(`unknown hypervisor personality '${n}'`);
    if (seen.has(n)) throw new Error(`hypervisor personality '${n}' given twice`);
    seen.add(n);
    const f = FACTORIES[n as PersonalityName];
    if (f === undefined) throw new Error(`hypervisor personality '${n}' is not implemented yet`);
    return f();
  });
}

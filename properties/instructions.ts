// Instruction semantics against real hardware through /dev/kvm (Intel SDM Vol. 2): the generators
// and comparison of test/differential (snippets of one instruction group, flags the SDM leaves
// undefined masked) lifted to a property: any batch of snippets runs the same on the machine's
// KVM and on hvsim's CPU. Skipped, with the reason, where /dev/kvm or the helper is missing.

import { readFileSync } from 'node:fs';
import { runSnippet } from '../src/machine/cpu/snippet-runner.js';
import { kvmOracleAvailable, runOnKvm } from '../test/oracle/kvm.js';
import { caseArb, GROUPS, type Case } from '../test/differential/arbitraries.js';
import { compareResults, describeCase } from '../test/differential/compare.js';
import { defineProperty } from './define.js';

/** Groups KVM here answers as hardware does (test/differential calibrates POPCNT/LZCNT/TZCNT: it does not). */
const UNCALIBRATED = new Set(['popcnt', 'lzcnt', 'tzcnt']);

function hostCpuFlags(): Set<string> {
  try {
    const line = readFileSync('/proc/cpuinfo', 'utf8').split('\n').find((l) => l.startsWith('flags'));
    return new Set((line ?? '').split(':')[1]?.trim().split(/\s+/) ?? []);
  } catch {
    return new Set();
  }
}

let groups: typeof GROUPS | null = null;
const usableGroups = (): typeof GROUPS => {
  if (groups === null) {
    const flags = hostCpuFlags();
    groups = GROUPS.filter((g) => !UNCALIBRATED.has(g.name) && (!g.cpuFlag || flags.has(g.cpuFlag)));
  }
  return groups;
};

export const instructionProperties = [
  defineProperty({
    area: 'instructions',
    name: 'any batch of generated snippets ends with the same registers, defined flags and outcome on /dev/kvm and on hvsim',
    specClause: 'Intel SDM Vol. 2 (instruction reference; undefined flags masked as test/differential does)',
    quickRuns: 4,
    unavailable: () => {
      const a = kvmOracleAvailable();
      return a.ok ? null : `no instruction oracle: ${a.reason}`;
    },
    arbitrary: (fc) => fc.array(fc.nat().chain((i) => caseArb(usableGroups()[i % usableGroups().length])), { minLength: 1, maxLength: 8 }),
    predicate: async (cases: Case[]) => {
      const answers = await runOnKvm(cases.map((c) => c.input));
      cases.forEach((c, i) => {
        const a = answers[i];
        if (a.outcome === 'nooracle') return; // KVM could not answer: neither a pass nor a failure
        const hv = runSnippet(c.input);
        const diffs = compareResults(c, a, hv);
        if (diffs.length > 0) throw new Error(`${diffs.join('; ')}\n${describeCase(c, a, hv, diffs)}`);
      });
    },
  }),
];

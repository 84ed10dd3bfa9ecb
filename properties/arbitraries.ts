// Generators shared by the areas: hypervisor stacks and whole run configurations of the
// committed guest fixtures (fixtures/guests/README.md).

import type { Arbitrary } from 'fast-check';
import { PERSONALITY_NAMES } from '../src/hypervisors/index.js';
import { fixture } from './guest.js';
import type { FastCheck, PropertyRunOptions } from './types.js';

/**
 * A stack of personalities in CPUID order (§1.1 bases 0x100 apart, spec §8 note 2). vmm and kvm
 * are not stacked together: vmm already presents a KVM block (§1.7). --personality fixes it.
 */
export function stackArb(fc: FastCheck, opts: PropertyRunOptions, minLength = 0): Arbitrary<string[]> {
  if (opts.personality !== null) return fc.constant([...opts.personality]);
  return fc
    .uniqueArray(fc.constantFrom(...PERSONALITY_NAMES), { minLength, maxLength: 3 })
    .filter((s) => !(s.includes('vmm') && s.includes('kvm')));
}

export interface RunCase {
  /** `hvsim run` arguments, --record and the VM name excluded. */
  args: string[];
}

/** Printable text for --append and --kv values (no NUL: a C string on the guest side). */
export const textArb = (fc: FastCheck, maxLength: number): Arbitrary<string> =>
  fc.string({ unit: fc.constantFrom(...'abcxyzQ09 _-./=:'.split('')), maxLength });

/**
 * Any configuration of a short fixture run, SMP and the seeded scheduler included (pauses of at most 2 ms and digests at least 200k
 * instruction times apart keep a case to a fraction of a second: digests sit at multiples of
 * virtual time, so a long pause with a short interval would hash RAM thousands of times): the fixture, the personality stack, the seed, RAM,
 * the command line, information-store entries, simulated migrations and the digest interval.
 */
export function runCaseArb(fc: FastCheck, opts: PropertyRunOptions): Arbitrary<RunCase> {
  const guest = fc.oneof(
    fc.record({ name: fc.constant('hello'), extra: fc.constant<string[]>([]) }),
    fc.record({ name: fc.constant('kvmclock'), extra: fc.constant<string[]>([]) }),
    fc.record({ name: fc.constant('pvbus-scan'), extra: fc.constant<string[]>([]) }),
    fc.record({ name: fc.constant('bench-alu'), extra: fc.integer({ min: 1, max: 300 }).map((n) => ['--append', `iters=${n}`]) }),
    fc.record({ name: fc.constantFrom('smp-counter', 'apic-timer', 'ioapic-irq', 'pci-probe'), extra: fc.constant<string[]>([]) }),
  );
  const migration = fc
    .record({ at: fc.integer({ min: 0, max: 400_000 }), tsc: fc.option(fc.integer({ min: 1000, max: 100_000_000 }), { nil: undefined }), pause: fc.option(fc.integer({ min: 1, max: 2_000_000 }), { nil: undefined }) })
    .map((m) => (m.tsc === undefined && m.pause === undefined ? { ...m, pause: 1000 } : m));
  return fc
    .record({
      guest,
      stack: stackArb(fc, opts),
      seed: fc.nat({ max: Number.MAX_SAFE_INTEGER }),
      memMiB: fc.integer({ min: 4, max: 8 }),
      append: textArb(fc, 24),
      kv: fc.array(fc.record({ key: fc.constantFrom('guestinfo.a', 'guestinfo.b', 'vm-data/x', 'k'), value: textArb(fc, 16), ro: fc.boolean() }), { maxLength: 3 }),
      migrations: fc.array(migration, { maxLength: 2 }),
      digestEvery: fc.constantFrom('200k', '1M', '5M'),
      // the deterministic scheduler: vCPUs, policy (random draws from --seed) and quantum
      // (quanta of 100 and more: a quantum of 1 with 4 vCPUs costs seconds per run)
      vcpus: fc.integer({ min: 1, max: 4 }),
      sched: fc.constantFrom('round-robin', 'random'),
      quantum: fc.constantFrom('100', '3k', '50k'),
    })
    .map((c) => {
      const args = ['-m', `${c.memMiB}M`, '-c', String(c.vcpus), '--sched', c.sched, '--quantum', c.quantum, '--seed', String(c.seed), '--digest-every', c.digestEvery, '--max-insns', '20M', '-l', 'com1,stdio'];
      if (c.stack.length > 0) args.push('--hypervisor', c.stack.join(','));
      for (const k of c.kv) args.push(k.ro ? '--kv-ro' : '--kv', `${k.key}=${k.value}`);
      for (const m of c.migrations) args.push('--migrate', [String(m.at), ...(m.tsc !== undefined ? [`tsc=${m.tsc}`] : []), ...(m.pause !== undefined ? [`pause=${m.pause}`] : [])].join(','));
      args.push('--kernel', fixture(c.guest.name));
      if (c.guest.name === 'bench-alu') args.push(...c.guest.extra);
      else if (c.append !== '') args.push('--append', c.append);
      return { args };
    });
}

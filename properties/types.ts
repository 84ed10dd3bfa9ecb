// The shape of a conformance property (docs/conformance.md): one spec clause, checked by
// fast-check over generated cases, with a trace of the guest run kept for a failing case.

import type fcModule from 'fast-check';
import type { GuestRecorder } from './guest.js';

export type FastCheck = typeof fcModule;

/** Spec areas, in the order the report lists them (issue 8). */
export const AREAS = [
  'determinism',
  'replay',
  'pvclock',
  'hyperv-time',
  'xen-time',
  'cpuid',
  'info-stores',
  'vm-api',
  'virtio',
  'instructions',
] as const;
export type AreaName = (typeof AREAS)[number];

/** What one property gets for a run. */
export interface PropertyRunOptions {
  seed: number;
  numRuns: number;
  /** --personality: the stack to use instead of generated ones (null: any). */
  personality: readonly string[] | null;
  /** Records the guest runs of the property (the trace of the last one is the counterexample's). */
  guest: GuestRecorder;
}

export interface PropertyFailure {
  /** fast-check's seed and path: `fc.check(..., { seed, path })` replays the shrunk case. */
  seed: number;
  path: string;
  counterexample: string;
  error: string;
  /** The trace recorded while re-running the shrunk counterexample (null: the property runs no guest). */
  trace: string | null;
}

export interface PropertyOutcome {
  runs: number;
  /** Why the property could not run here (no /dev/kvm...); not a failure. */
  skipped: string | null;
  failure: PropertyFailure | null;
}

export interface ConformProperty {
  area: AreaName;
  name: string;
  /** The clause checked: a section of /work/shared/specs/hypervisor-interfaces.md or a public spec. */
  specClause: string;
  /** Cases in the quick profile (`npm test`); the deep profile runs 100x more. */
  quickRuns: number;
  run(fc: FastCheck, opts: PropertyRunOptions): Promise<PropertyOutcome>;
}
